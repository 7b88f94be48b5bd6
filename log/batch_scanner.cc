#include "log/batch_scanner.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "log/record_batch.h"

namespace strata {

using namespace batch_format;  // NOLINT

absl::StatusOr<BatchSummary> ParseSummary(std::span<const uint8_t> h, FilePosition position) {
  if (h.size() < kSummaryHeaderBytes) {
    return absl::OutOfRangeError(absl::StrCat("truncated batch header at position ",
                                              position.value()));
  }
  BatchSummary s;
  s.position = position;
  s.base_offset = Offset(static_cast<int64_t>(LoadBE64(h.data() + kBaseOffsetOffset)));
  auto length = static_cast<int32_t>(LoadBE32(h.data() + kBatchLengthOffset));
  s.leader_epoch = LeaderEpoch(static_cast<int32_t>(LoadBE32(h.data() + kPartitionLeaderEpochOffset)));
  s.magic = static_cast<int8_t>(h[kMagicOffset]);
  auto last_delta = static_cast<int32_t>(LoadBE32(h.data() + kLastOffsetDeltaOffset));
  s.max_timestamp = static_cast<int64_t>(LoadBE64(h.data() + kMaxTimestampOffset));
  if (length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    return CorruptionError(absl::StrCat("batch at position ", position.value(),
                                        " has impossible length ", length));
  }
  if (s.magic != kMagic) {
    return CorruptionError(absl::StrCat("batch at position ", position.value(), " has magic ",
                                        static_cast<int>(s.magic)));
  }
  if (s.base_offset < Offset(0) || last_delta < 0) {
    return CorruptionError(absl::StrCat("batch at position ", position.value(),
                                        " has invalid offsets"));
  }
  s.size_bytes = static_cast<uint32_t>(length) + kLogOverhead;
  s.last_offset = s.base_offset + last_delta;
  s.attributes = static_cast<int16_t>(LoadBE16(h.data() + kAttributesOffset));
  s.producer_id = static_cast<int64_t>(LoadBE64(h.data() + kProducerIdOffset));
  s.producer_epoch = static_cast<int16_t>(LoadBE16(h.data() + kProducerEpochOffset));
  s.base_sequence = static_cast<int32_t>(LoadBE32(h.data() + kBaseSequenceOffset));
  s.record_count = static_cast<int32_t>(LoadBE32(h.data() + kRecordsCountOffset));
  return s;
}

int32_t BatchSummary::last_sequence() const {
  if (base_sequence < 0) return base_sequence;
  int64_t last = int64_t{base_sequence} + (last_offset - base_offset);
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

namespace internal {

namespace {

// Scan buffers, reused within a thread (no allocation, no zero-fill per lookup).
std::vector<std::unique_ptr<uint8_t[]>>& BufferPool() {
  thread_local std::vector<std::unique_ptr<uint8_t[]>> pool;
  return pool;
}

std::unique_ptr<uint8_t[]> TakeBuffer() {
  auto& pool = BufferPool();
  if (pool.empty()) return std::unique_ptr<uint8_t[]>(new uint8_t[HeaderScanner::kMaxChunk]);
  auto buf = std::move(pool.back());
  pool.pop_back();
  return buf;
}

}  // namespace

HeaderScanner::~HeaderScanner() {
  if (buf_ != nullptr && BufferPool().size() < 8) BufferPool().push_back(std::move(buf_));
}

absl::StatusOr<BatchSummary> HeaderScanner::At(uint64_t position) {
  if (position + kSummaryHeaderBytes > end_) {
    return absl::OutOfRangeError(absl::StrCat("incomplete batch header at position ", position,
                                              " (segment ends at ", end_, ")"));
  }
  if (buf_len_ == 0 || position < buf_pos_ || position + kSummaryHeaderBytes > buf_pos_ + buf_len_) {
    if (buf_ == nullptr) buf_ = TakeBuffer();
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_bytes_, end_ - position));
    ASSIGN_OR_RETURN(buf_len_, file_.ReadAt(position, {buf_.get(), want}));
    buf_pos_ = position;
  }
  std::span<const uint8_t> bytes(buf_.get() + (position - buf_pos_),
                                 buf_len_ - (position - buf_pos_));
  ASSIGN_OR_RETURN(BatchSummary s, ParseSummary(bytes, FilePosition(position)));
  if (position + s.size_bytes > end_) {
    return absl::OutOfRangeError(absl::StrCat("batch at position ", position, " needs ",
                                              s.size_bytes, " bytes, segment ends at ", end_));
  }
  return s;
}

absl::Status BatchReader::Fill(uint64_t position, size_t min_bytes) {
  constexpr size_t kChunk = 1 << 20;
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(kChunk, min_bytes), end_ - position));
  buf_.resize(want);
  ASSIGN_OR_RETURN(size_t got,
                   file_.ReadAt(position, {reinterpret_cast<uint8_t*>(buf_.data()), want}));
  buf_.resize(got);
  buf_pos_ = position;
  return absl::OkStatus();
}

absl::StatusOr<std::span<const uint8_t>> BatchReader::At(uint64_t position) {
  if (position + kLogOverhead > end_) {
    return absl::OutOfRangeError(absl::StrCat("incomplete batch at position ", position));
  }
  if (position < buf_pos_ || position + kLogOverhead > buf_pos_ + buf_.size()) {
    RETURN_IF_ERROR(Fill(position, kLogOverhead));
  }
  auto head = AsBytes(buf_).subspan(position - buf_pos_);
  auto size = RecordBatchView::PeekSize(head);
  if (!size.ok()) {
    return CorruptionError(absl::StrCat("at position ", position, ": ", size.status().message()));
  }
  if (position + *size > end_) {
    return absl::OutOfRangeError(absl::StrCat("batch at position ", position, " needs ", *size,
                                              " bytes, file ends at ", end_));
  }
  if (position + *size > buf_pos_ + buf_.size()) RETURN_IF_ERROR(Fill(position, *size));
  return AsBytes(buf_).subspan(position - buf_pos_, *size);
}

}  // namespace internal
}  // namespace strata
