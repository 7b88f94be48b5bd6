#include "log/record_batch.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/status.h"
#include "common/varint.h"

namespace strata {

using namespace batch_format;  // NOLINT: the field offsets read best unqualified here

namespace {

// The smallest record: length, attributes, timestampDelta, offsetDelta, keyLength, valueLength
// and headers count, one byte each.
constexpr size_t kMinRecordSize = 7;

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid record batch: ", what));
}

absl::Status CheckHeader(std::span<const uint8_t> b) {
  const uint8_t* p = b.data();
  if (static_cast<int8_t>(p[kMagicOffset]) != kMagic) {
    return Invalid(absl::StrCat("unsupported magic ", static_cast<int>(p[kMagicOffset])));
  }
  uint16_t attributes = LoadBE16(p + kAttributesOffset);
  if (attributes & ~kKnownAttributeBits) return Invalid("unknown attribute bits set");
  if ((attributes & kCompressionMask) > kMaxCompressionCodec) {
    return Invalid(absl::StrCat("unknown compression codec ", attributes & kCompressionMask));
  }
  auto last_delta = static_cast<int32_t>(LoadBE32(p + kLastOffsetDeltaOffset));
  auto count = static_cast<int32_t>(LoadBE32(p + kRecordsCountOffset));
  if (last_delta < 0) return Invalid("negative lastOffsetDelta");
  if (count < 0) return Invalid("negative record count");
  if (int64_t{count} > int64_t{last_delta} + 1) {
    return Invalid(absl::StrCat("record count ", count, " exceeds lastOffsetDelta + 1 (",
                                int64_t{last_delta} + 1, ")"));
  }
  size_t records_bytes = b.size() - kRecordsOffset;
  if ((attributes & kCompressionMask) == 0 &&
      static_cast<uint64_t>(count) * kMinRecordSize > records_bytes) {
    return Invalid(absl::StrCat("record count ", count, " cannot fit in ", records_bytes,
                                " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_t> RecordBatchView::PeekSize(std::span<const uint8_t> bytes) {
  if (bytes.size() < kLogOverhead) {
    return absl::OutOfRangeError(absl::StrCat("truncated batch: ", bytes.size(), " bytes"));
  }
  auto length = static_cast<int32_t>(LoadBE32(bytes.data() + kBatchLengthOffset));
  if (length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) {
    return Invalid(absl::StrCat("batchLength ", length, " is smaller than a header"));
  }
  return static_cast<size_t>(length) + kLogOverhead;
}

absl::StatusOr<RecordBatchView> RecordBatchView::ParseNoCrc(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(size_t size, PeekSize(bytes));
  if (bytes.size() < kMagicOffset + 1) return absl::OutOfRangeError("truncated batch header");
  if (static_cast<int8_t>(bytes[kMagicOffset]) != kMagic) {
    return Invalid(absl::StrCat("unsupported magic ", static_cast<int>(bytes[kMagicOffset])));
  }
  if (bytes.size() < size) {
    return absl::OutOfRangeError(
        absl::StrCat("truncated batch: need ", size, " bytes, have ", bytes.size()));
  }
  std::span<const uint8_t> b = bytes.first(size);
  RETURN_IF_ERROR(CheckHeader(b));
  return RecordBatchView(b);
}

absl::StatusOr<RecordBatchView> RecordBatchView::Parse(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(RecordBatchView view, ParseNoCrc(bytes));
  if (!view.CrcMatches()) {
    return absl::DataLossError(absl::StrCat("record batch CRC mismatch at base offset ",
                                            view.base_offset().value(), ": stored ", view.crc(),
                                            ", computed ", view.ComputeCrc()));
  }
  return view;
}

Offset RecordBatchView::base_offset() const {
  return Offset(static_cast<int64_t>(LoadBE64(bytes_.data() + kBaseOffsetOffset)));
}
int32_t RecordBatchView::batch_length() const {
  return static_cast<int32_t>(LoadBE32(bytes_.data() + kBatchLengthOffset));
}
LeaderEpoch RecordBatchView::partition_leader_epoch() const {
  return LeaderEpoch(static_cast<int32_t>(LoadBE32(bytes_.data() + kPartitionLeaderEpochOffset)));
}
int8_t RecordBatchView::magic() const { return static_cast<int8_t>(bytes_[kMagicOffset]); }
uint32_t RecordBatchView::crc() const { return LoadBE32(bytes_.data() + kCrcOffset); }
int16_t RecordBatchView::attributes() const {
  return static_cast<int16_t>(LoadBE16(bytes_.data() + kAttributesOffset));
}
Compression RecordBatchView::compression() const {
  return static_cast<Compression>(attributes() & kCompressionMask);
}
TimestampType RecordBatchView::timestamp_type() const {
  return (attributes() & kTimestampTypeBit) ? TimestampType::kLogAppendTime
                                            : TimestampType::kCreateTime;
}
bool RecordBatchView::is_transactional() const { return attributes() & kTransactionalBit; }
bool RecordBatchView::is_control() const { return attributes() & kControlBit; }
bool RecordBatchView::has_delete_horizon() const { return attributes() & kDeleteHorizonBit; }
int32_t RecordBatchView::last_offset_delta() const {
  return static_cast<int32_t>(LoadBE32(bytes_.data() + kLastOffsetDeltaOffset));
}
int64_t RecordBatchView::base_timestamp() const {
  return static_cast<int64_t>(LoadBE64(bytes_.data() + kBaseTimestampOffset));
}
int64_t RecordBatchView::max_timestamp() const {
  return static_cast<int64_t>(LoadBE64(bytes_.data() + kMaxTimestampOffset));
}
int64_t RecordBatchView::producer_id() const {
  return static_cast<int64_t>(LoadBE64(bytes_.data() + kProducerIdOffset));
}
int16_t RecordBatchView::producer_epoch() const {
  return static_cast<int16_t>(LoadBE16(bytes_.data() + kProducerEpochOffset));
}
int32_t RecordBatchView::base_sequence() const {
  return static_cast<int32_t>(LoadBE32(bytes_.data() + kBaseSequenceOffset));
}
int32_t RecordBatchView::last_sequence() const {
  int32_t base = base_sequence();
  if (base == kNoSequence) return kNoSequence;
  // Sequences wrap at INT32_MAX back to 0, as in Kafka.
  int64_t last = int64_t{base} + last_offset_delta();
  return static_cast<int32_t>(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}
int32_t RecordBatchView::record_count() const {
  return static_cast<int32_t>(LoadBE32(bytes_.data() + kRecordsCountOffset));
}
std::span<const uint8_t> RecordBatchView::records_data() const {
  return bytes_.subspan(kRecordsOffset);
}

uint32_t RecordBatchView::ComputeCrc() const {
  return crc32c::Value(bytes_.data() + kCrcStart, bytes_.size() - kCrcStart);
}

absl::StatusOr<RecordReader> RecordBatchView::Records(size_t max_decompressed_bytes) const {
  std::string owned;
  std::span<const uint8_t> data = records_data();
  if (compression() != Compression::kNone) {
    ASSIGN_OR_RETURN(owned, Decompress(compression(), data, max_decompressed_bytes));
    data = {};  // the reader reads from owned
  }
  return RecordReader(std::move(owned), data, record_count(), base_offset().value(),
                      base_timestamp(), timestamp_type() == TimestampType::kLogAppendTime,
                      max_timestamp());
}

absl::Status RecordBatchView::ValidateRecords(bool strict, size_t max_decompressed_bytes) const {
  ASSIGN_OR_RETURN(RecordReader reader, Records(max_decompressed_bytes));
  Record r;
  int32_t n = 0;
  int64_t prev_delta = -1;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&r));
    if (!more) break;
    if (r.offset_delta <= prev_delta) return Invalid("record offset deltas do not increase");
    if (r.offset_delta > last_offset_delta()) return Invalid("record offset past lastOffsetDelta");
    if (strict && r.offset_delta != n) {
      return Invalid(absl::StrCat("record ", n, " has offset delta ", r.offset_delta));
    }
    prev_delta = r.offset_delta;
    ++n;
  }
  if (strict && n > 0 && last_offset_delta() != n - 1) {
    return Invalid(absl::StrCat("lastOffsetDelta ", last_offset_delta(), " but ", n, " records"));
  }
  if (strict && n == 0) return Invalid("batch holds no records");
  return absl::OkStatus();
}

RecordReader::RecordReader(std::string owned, std::span<const uint8_t> data, int32_t count,
                           int64_t base_offset, int64_t base_timestamp, bool log_append_time,
                           int64_t max_timestamp)
    : owned_(std::move(owned)),
      external_(data),
      owns_(!owned_.empty()),
      remaining_(count),
      base_offset_(base_offset),
      base_timestamp_(base_timestamp),
      log_append_time_(log_append_time),
      max_timestamp_(max_timestamp) {}

namespace {

// Reads a varint length (-1 = null) and that many bytes.
absl::StatusOr<std::optional<std::span<const uint8_t>>> ReadNullableBytes(ByteReader& r) {
  ASSIGN_OR_RETURN(int32_t len, r.ReadVarint());
  if (len == -1) return std::optional<std::span<const uint8_t>>();
  if (len < -1) return Invalid("negative field length");
  ASSIGN_OR_RETURN(auto bytes, r.ReadBytes(static_cast<size_t>(len)));
  return std::optional<std::span<const uint8_t>>(bytes);
}

absl::Status DecodeRecord(std::span<const uint8_t> body, Record* out) {
  ByteReader r(body);
  ASSIGN_OR_RETURN(out->attributes, r.ReadInt8());
  ASSIGN_OR_RETURN(out->timestamp_delta, r.ReadVarlong());
  ASSIGN_OR_RETURN(out->offset_delta, r.ReadVarint());
  ASSIGN_OR_RETURN(out->key, ReadNullableBytes(r));
  ASSIGN_OR_RETURN(out->value, ReadNullableBytes(r));
  ASSIGN_OR_RETURN(int32_t header_count, r.ReadVarint());
  if (header_count < 0 || static_cast<size_t>(header_count) > r.remaining() / 2) {
    return Invalid(absl::StrCat("bad header count ", header_count));
  }
  out->headers.clear();
  for (int32_t i = 0; i < header_count; ++i) {
    RecordHeader h;
    ASSIGN_OR_RETURN(auto key, ReadNullableBytes(r));
    if (!key.has_value()) return Invalid("null header key");
    h.key = *key;
    ASSIGN_OR_RETURN(h.value, ReadNullableBytes(r));
    out->headers.push_back(h);
  }
  if (!r.empty()) return Invalid("record has trailing bytes");
  return absl::OkStatus();
}

}  // namespace

std::span<const uint8_t> RecordReader::data() const {
  return owns_ ? AsBytes(owned_) : external_;
}

absl::StatusOr<bool> RecordReader::Next(Record* out) {
  std::span<const uint8_t> data_ = data();
  if (failed_) return Invalid("record reader already failed");
  if (remaining_ == 0) {
    if (pos_ != data_.size()) {
      failed_ = true;
      return Invalid("bytes after the last record");
    }
    return false;
  }
  ByteReader r(data_.subspan(pos_));
  auto length = r.ReadVarint();
  if (!length.ok() || *length < 0 || static_cast<size_t>(*length) > r.remaining()) {
    failed_ = true;
    return Invalid("bad record length");
  }
  auto body = data_.subspan(pos_ + r.position(), static_cast<size_t>(*length));
  if (auto s = DecodeRecord(body, out); !s.ok()) {
    failed_ = true;
    return absl::InvalidArgumentError(absl::StrCat(s.message(), " (record at byte ", pos_, ")"));
  }
  out->size_bytes = r.position() + body.size();
  out->offset = base_offset_ + out->offset_delta;
  out->timestamp = log_append_time_ ? max_timestamp_ : base_timestamp_ + out->timestamp_delta;
  pos_ += out->size_bytes;
  --remaining_;
  return true;
}

void SetBaseOffset(std::span<uint8_t> batch, Offset base_offset) {
  StoreBE64(batch.data() + kBaseOffsetOffset, static_cast<uint64_t>(base_offset.value()));
}

void SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch) {
  StoreBE32(batch.data() + kPartitionLeaderEpochOffset, static_cast<uint32_t>(epoch.value()));
}

void UpdateCrc(std::span<uint8_t> batch) {
  StoreBE32(batch.data() + kCrcOffset,
            crc32c::Value(batch.data() + kCrcStart, batch.size() - kCrcStart));
}

void SetLogAppendTime(std::span<uint8_t> batch, int64_t now_ms) {
  uint16_t attributes = LoadBE16(batch.data() + kAttributesOffset);
  StoreBE16(batch.data() + kAttributesOffset, attributes | kTimestampTypeBit);
  StoreBE64(batch.data() + kMaxTimestampOffset, static_cast<uint64_t>(now_ms));
  UpdateCrc(batch);
}

std::optional<ControlType> ParseControlKey(std::span<const uint8_t> key) {
  if (key.size() < 4) return std::nullopt;
  auto type = static_cast<int16_t>(LoadBE16(key.data() + 2));
  if (type < 0) return std::nullopt;
  return static_cast<ControlType>(type);
}

}  // namespace strata
