#include "log/segment.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/batch_scanner.h"
#include "log/record_batch.h"

namespace strata {

namespace {

IndexMode ToIndexMode(Segment::OpenMode mode) {
  switch (mode) {
    case Segment::OpenMode::kReadOnly:
      return IndexMode::kReadOnly;
    case Segment::OpenMode::kSealed:
      return IndexMode::kSealed;
    case Segment::OpenMode::kActive:
      return IndexMode::kActive;
  }
  return IndexMode::kReadOnly;
}

}  // namespace

std::string Segment::FileName(Offset base_offset, absl::string_view suffix) {
  return absl::StrFormat("%020d%s", base_offset.value(), suffix);
}

Segment::Segment(FileSystem* fs, std::string dir, Offset base, SegmentOptions options)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      options_(options),
      next_offset_(base.value()),
      offset_of_max_timestamp_(base) {}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(FileSystem* fs, const std::string& dir,
                                                         Offset base_offset,
                                                         const SegmentOptions& options,
                                                         const std::string& file_suffix) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base_offset, options));
  std::string log_path = JoinPath(dir, FileName(base_offset, ".log") + file_suffix);
  // Never reuse a live segment's name: an existing .log is an error, not something to empty.
  ASSIGN_OR_RETURN(auto log, fs->Open(log_path, strata::OpenMode::kCreateExclusive));
  seg->log_ = std::move(log);
  absl::Status s = seg->CreateIndexes(file_suffix);
  if (!s.ok()) {
    // Leave nothing half-made behind (a full disk fails the index preallocation).
    seg->offset_index_.reset();
    seg->time_index_.reset();
    for (const char* suffix : {".log", ".index", ".timeindex"}) {
      std::string path = JoinPath(dir, FileName(base_offset, suffix) + file_suffix);
      if (fs->Exists(path)) IgnoreError(fs->Remove(path), "best-effort cleanup after failure");
    }
    return s;
  }
  return seg;
}

absl::Status Segment::CreateIndexes(const std::string& ext) {
  for (const char* suffix : {".index", ".timeindex"}) {
    std::string path = JoinPath(dir_, FileName(base_, suffix) + ext);
    if (fs_->Exists(path)) RETURN_IF_ERROR(fs_->Remove(path));  // orphans of an earlier segment
  }
  ASSIGN_OR_RETURN(offset_index_,
                   OffsetIndex::Open(fs_, JoinPath(dir_, FileName(base_, ".index") + ext), base_,
                                     options_.max_index_bytes, IndexMode::kActive));
  ASSIGN_OR_RETURN(time_index_,
                   TimeIndex::Open(fs_, JoinPath(dir_, FileName(base_, ".timeindex") + ext), base_,
                                   options_.max_index_bytes, IndexMode::kActive));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(FileSystem* fs, const std::string& dir,
                                                       Offset base_offset,
                                                       const SegmentOptions& options,
                                                       OpenMode mode) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base_offset, options));
  seg->read_only_ = mode == OpenMode::kReadOnly;
  ASSIGN_OR_RETURN(auto log, fs->Open(JoinPath(dir, FileName(base_offset, ".log")),
                                      seg->read_only_ ? strata::OpenMode::kReadOnly
                                                      : strata::OpenMode::kReadWrite));
  seg->log_ = std::move(log);
  ASSIGN_OR_RETURN(uint64_t size, seg->log_->Size());
  seg->size_.store(size, std::memory_order_release);
  std::string index_path = JoinPath(dir, FileName(base_offset, ".index"));
  std::string time_path = JoinPath(dir, FileName(base_offset, ".timeindex"));
  seg->index_missing_ = !fs->Exists(index_path) || !fs->Exists(time_path);
  if (seg->index_missing_ && seg->read_only_) {
    return absl::NotFoundError(absl::StrCat("index files of ", seg->log_path(), " are missing"));
  }
  ASSIGN_OR_RETURN(
      seg->offset_index_,
      OffsetIndex::Open(fs, index_path, base_offset, options.max_index_bytes, ToIndexMode(mode)));
  ASSIGN_OR_RETURN(seg->time_index_, TimeIndex::Open(fs, time_path, base_offset,
                                                     options.max_index_bytes, ToIndexMode(mode)));
  return seg;
}

absl::Status Segment::CheckIndexes() {
  if (index_missing_)
    return CorruptionError(absl::StrCat("index files of ", log_path(), " were missing"));
  RETURN_IF_ERROR(offset_index_->Check(size_bytes()));
  RETURN_IF_ERROR(ComputeTailState(size_bytes()));
  return time_index_->Check(next_offset() - 1);
}

// From the last offset-index entry (or the start) to `end`: the batches there give next_offset
// and complete max_timestamp. Fails if the walk does not land exactly on `end`.
absl::Status Segment::ComputeTailState(uint64_t end) {
  TimestampOffset last_time = time_index_->LastEntry();
  int64_t max_ts = last_time.timestamp;
  Offset max_ts_offset = last_time.offset;
  Offset next = base_;
  uint64_t pos = 0;
  if (offset_index_->size() > 0) {
    OffsetPosition last = offset_index_->EntryAt(offset_index_->size() - 1);
    pos = last.position.value();
  }
  uint64_t indexed_pos = pos;
  internal::HeaderScanner scanner(*log_, end);
  while (pos < end) {
    ASSIGN_OR_RETURN(BatchSummary s, scanner.At(pos));
    if (s.max_timestamp > max_ts) {
      max_ts = s.max_timestamp;
      max_ts_offset = s.last_offset;
    }
    next = s.last_offset + 1;
    pos += s.size_bytes;
  }
  if (end > 0) {
    ASSIGN_OR_RETURN(BatchSummary first, scanner.At(0));
    first_timestamp_ = first.max_timestamp;
  }
  next_offset_.store(next.value(), std::memory_order_release);
  max_timestamp_.store(max_ts, std::memory_order_release);
  offset_of_max_timestamp_ = max_ts_offset;
  bytes_since_index_entry_ = end - indexed_pos;
  return absl::OkStatus();
}

// The prefix of the file below `trusted_below` was flushed before the crash. When the indexes
// look sane, keep them for that prefix and return where the batch holding `trusted_below` starts
// (0: no usable prefix, recover from the start).
uint64_t Segment::TrustedPrefix(Offset trusted_below) {
  uint64_t end = size_bytes();
  if (trusted_below <= base_ || index_missing_ || !offset_index_->Check(end).ok()) return 0;
  internal::HeaderScanner scanner(*log_, end);
  uint64_t pos = offset_index_->Lookup(trusted_below).position.value();
  std::optional<BatchSummary> found;
  while (pos < end && !found.has_value()) {
    auto s = scanner.At(pos);
    if (!s.ok()) return 0;
    if (s->last_offset >= trusted_below) found = *s;
    pos += s->size_bytes;
  }
  if (!found.has_value()) return 0;
  uint64_t start = found->position.value();
  if (!offset_index_->TruncateTo(found->base_offset).ok() ||
      !time_index_->TruncateTo(found->base_offset).ok() || !ComputeTailState(start).ok()) {
    return 0;
  }
  return start;
}

bool Segment::ShouldRoll(uint64_t batch_bytes, Offset last_offset, uint64_t segment_bytes) const {
  uint64_t size = size_bytes();
  if (size > 0 && size + batch_bytes > segment_bytes) return true;
  if (offset_index_->full() || time_index_->full()) return true;
  if (last_offset - base_ > INT32_MAX) return true;  // relative offsets must fit the indexes
  return size + batch_bytes > UINT32_MAX;            // positions must fit the indexes
}

absl::Status Segment::MaybeIndex(const BatchSummary& s) {
  if (bytes_since_index_entry_ > options_.index_interval_bytes && !offset_index_->full() &&
      !time_index_->full()) {
    RETURN_IF_ERROR(offset_index_->Append(s.last_offset, s.position));
    RETURN_IF_ERROR(time_index_->MaybeAppend(max_timestamp(), offset_of_max_timestamp_));
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += s.size_bytes;
  return absl::OkStatus();
}

absl::Status Segment::Append(std::span<const uint8_t> batch, const BatchSummary& summary) {
  uint64_t pos = size_bytes();
  if (absl::Status s = log_->WriteAt(pos, batch); !s.ok()) {
    // Cut any partial write so the file ends on a batch boundary again.
    IgnoreError(log_->Truncate(pos),
                "a failed cut leaves garbage past size_ that the next "
                "append overwrites and recovery truncates");
    return s;
  }
  BatchSummary placed = summary;
  placed.position = FilePosition(pos);
  if (pos == 0) first_timestamp_ = summary.max_timestamp;
  if (summary.max_timestamp > max_timestamp()) {
    max_timestamp_.store(summary.max_timestamp, std::memory_order_release);
    offset_of_max_timestamp_ = summary.last_offset;
  }
  if (absl::Status s = MaybeIndex(placed); !s.ok()) {
    LOG_EVENT(Warn, "segment.index_append_failed").Kv("path", log_path()).Kv("error", s.ToString());
  }
  // Readers load next_offset before size: publish size first.
  size_.store(pos + batch.size(), std::memory_order_release);
  next_offset_.store(summary.last_offset.value() + 1, std::memory_order_release);
  // Where the next batch will start: a consumer tailing the log fetches exactly this offset.
  RememberBoundary(summary.last_offset + 1, pos + batch.size(),
                   boundary_generation_.load(std::memory_order_acquire));
  return absl::OkStatus();
}

absl::Status Segment::Seal() {
  // A failed append whose cut-back also failed leaves bytes past the logical size: drop them
  // now, before the segment is closed for good.
  ASSIGN_OR_RETURN(uint64_t file_size, log_->Size());
  if (file_size > size_bytes()) RETURN_IF_ERROR(log_->Truncate(size_bytes()));
  if (!time_index_->full() && max_timestamp() != kNoTimestamp) {
    RETURN_IF_ERROR(time_index_->MaybeAppend(max_timestamp(), offset_of_max_timestamp_));
  }
  RETURN_IF_ERROR(offset_index_->TrimToSize());
  return time_index_->TrimToSize();
}

absl::Status Segment::Reactivate() {
  RETURN_IF_ERROR(offset_index_->Reactivate());
  return time_index_->Reactivate();
}

absl::Status Segment::WriteIndexes() {
  RETURN_IF_ERROR(offset_index_->Flush(false));
  return time_index_->Flush(false);
}

absl::Status Segment::SyncLog() { return log_->Sync(); }

absl::Status Segment::SyncIndexes() {
  RETURN_IF_ERROR(offset_index_->Flush(true));
  return time_index_->Flush(true);
}

absl::Status Segment::ResetIndexes() {
  RETURN_IF_ERROR(offset_index_->Reset());
  RETURN_IF_ERROR(time_index_->Reset());
  max_timestamp_.store(kNoTimestamp, std::memory_order_release);
  offset_of_max_timestamp_ = base_;
  bytes_since_index_entry_ = 0;
  first_timestamp_ = kNoTimestamp;
  return absl::OkStatus();
}

absl::StatusOr<SegmentRecovery> Segment::Recover(Offset trusted_below) {
  bool sealed = !offset_index_->appendable();
  if (sealed) RETURN_IF_ERROR(Reactivate());
  ForgetBoundaries();
  ASSIGN_OR_RETURN(uint64_t end, log_->Size());
  size_.store(end, std::memory_order_release);
  uint64_t pos = TrustedPrefix(trusted_below);
  if (pos == 0) RETURN_IF_ERROR(ResetIndexes());
  Offset next = pos == 0 ? base_ : next_offset();
  internal::BatchReader reader(*log_, end);
  SegmentRecovery result;
  result.scanned_from = pos;
  while (pos < end) {
    auto bytes = reader.At(pos);
    absl::Status error = bytes.status();
    result.torn = !error.ok();
    if (error.ok()) {
      auto view = RecordBatchView::Parse(*bytes);
      error = view.status();
      if (error.ok() && view->base_offset() < next) {
        error = CorruptionError(absl::StrCat("batch at position ", pos, " has base offset ",
                                             view->base_offset().value(),
                                             ", expected >= ", next.value()));
      }
    }
    if (!error.ok()) {
      result.first_error = error;
      break;
    }
    ASSIGN_OR_RETURN(BatchSummary s, ParseSummary(*bytes, FilePosition(pos)));
    if (pos == 0) first_timestamp_ = s.max_timestamp;
    if (s.max_timestamp > max_timestamp()) {
      max_timestamp_.store(s.max_timestamp, std::memory_order_release);
      offset_of_max_timestamp_ = s.last_offset;
    }
    RETURN_IF_ERROR(MaybeIndex(s));
    next = s.last_offset + 1;
    pos += s.size_bytes;
    ++result.batches;
  }
  result.valid_bytes = pos;
  result.invalid_bytes = end - pos;
  index_missing_ = false;
  if (sealed) {
    RETURN_IF_ERROR(offset_index_->TrimToSize());
    RETURN_IF_ERROR(time_index_->TrimToSize());
  }
  // Never serve what follows the first bad batch, whether or not the caller cuts the file.
  size_.store(pos, std::memory_order_release);
  next_offset_.store(next.value(), std::memory_order_release);
  return result;
}

absl::Status Segment::TruncateToBytes(uint64_t size) {
  ForgetBoundaries();
  RETURN_IF_ERROR(log_->Truncate(size));
  size_.store(size, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Segment::TruncateTo(Offset offset) {
  ASSIGN_OR_RETURN(auto found, Translate(offset));
  if (!found.has_value()) return 0;  // nothing at or after `offset`
  uint64_t old_size = size_bytes();
  uint64_t new_size = found->position.value();
  RETURN_IF_ERROR(offset_index_->TruncateTo(found->base_offset));
  RETURN_IF_ERROR(time_index_->TruncateTo(found->base_offset));
  RETURN_IF_ERROR(TruncateToBytes(new_size));
  RETURN_IF_ERROR(ComputeTailState(new_size));
  return old_size - new_size;
}

absl::Status Segment::Delete() {
  std::string deleted = log_path() + ".deleted";
  RETURN_IF_ERROR(fs_->Rename(log_path(), deleted));
  RETURN_IF_ERROR(offset_index_->Delete());
  RETURN_IF_ERROR(time_index_->Delete());
  return fs_->Remove(deleted);
}

absl::StatusOr<BatchSummary> Segment::ReadSummary(FilePosition position) const {
  internal::HeaderScanner scanner(*log_, size_bytes(), kSummaryHeaderBytes);
  return scanner.At(position.value());
}

absl::Status Segment::ScanBatches(FilePosition from,
                                  absl::FunctionRef<bool(const BatchSummary&)> visit) const {
  uint64_t end = size_bytes();
  internal::HeaderScanner scanner(*log_, end);
  for (uint64_t pos = from.value(); pos < end;) {
    ASSIGN_OR_RETURN(BatchSummary s, scanner.At(pos));
    if (!visit(s)) break;
    pos += s.size_bytes;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<BatchSummary>> Segment::Translate(Offset target) const {
  if (target >= next_offset()) return std::optional<BatchSummary>();
  uint64_t end = size_bytes();
  internal::HeaderScanner scanner(*log_, end);
  uint64_t from = offset_index_->Lookup(target).position.value();
  if (from >= end) from = 0;  // an entry for a batch not yet published: scan from the start
  for (uint64_t pos = from; pos < end;) {
    ASSIGN_OR_RETURN(BatchSummary s, scanner.At(pos));
    if (s.last_offset >= target) return std::optional<BatchSummary>(s);
    pos += s.size_bytes;
  }
  return std::optional<BatchSummary>();
}

void Segment::RememberBoundary(Offset offset, uint64_t position, uint64_t generation) const {
  int64_t rel = offset - base_;
  if (rel < 0 || rel >= INT32_MAX || position > UINT32_MAX) return;
  uint64_t packed = (static_cast<uint64_t>(rel + 1) << 32) | position;
  auto& slot = boundaries_[static_cast<size_t>(rel) % kBoundarySlots];
  if (boundary_generation_.load(std::memory_order_acquire) != generation) return;
  slot.store(packed, std::memory_order_seq_cst);
  // A truncation that slipped in between the check and the store may have cleared the slots
  // already: take ours back out (the truncation bumps the generation before clearing).
  if (boundary_generation_.load(std::memory_order_seq_cst) != generation) {
    uint64_t expected = packed;
    slot.compare_exchange_strong(expected, 0);
  }
}

void Segment::ForgetBoundaries() {
  boundary_generation_.fetch_add(1, std::memory_order_seq_cst);
  for (auto& b : boundaries_) b.store(0, std::memory_order_seq_cst);
}

absl::StatusOr<std::optional<uint64_t>> Segment::FindBatchStart(Offset target) const {
  int64_t rel = target - base_;
  if (rel >= 0 && rel < INT32_MAX) {
    uint64_t packed =
        boundaries_[static_cast<size_t>(rel) % kBoundarySlots].load(std::memory_order_acquire);
    if ((packed >> 32) == static_cast<uint64_t>(rel + 1) && (packed & UINT32_MAX) < size_bytes()) {
      return std::optional<uint64_t>(packed & UINT32_MAX);
    }
  }
  ASSIGN_OR_RETURN(auto batch, Translate(target));
  if (!batch.has_value()) return std::optional<uint64_t>();
  return std::optional<uint64_t>(batch->position.value());
}

absl::StatusOr<Segment::Range> Segment::ReadRange(FilePosition start, uint64_t max_bytes,
                                                  Offset max_offset, bool min_one_batch) const {
  uint64_t generation = boundary_generation_.load(std::memory_order_acquire);
  uint64_t end = size_bytes();
  uint64_t from = start.value();
  uint64_t limit = from + max_bytes;
  // Jump over whole batches with the index: the batch at an entry's position has that entry's
  // offset as its last offset, so every batch before it ends below it.
  uint64_t pos = from;
  Offset end_offset = kInvalidOffset;
  for (size_t lo = 0, hi = offset_index_->size(); lo < hi;) {
    size_t mid = lo + (hi - lo) / 2;
    OffsetPosition e = offset_index_->EntryAt(mid);
    if (e.position.value() <= limit && e.position.value() < end && e.offset < max_offset) {
      if (e.position.value() > pos) pos = e.position.value();
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  internal::HeaderScanner scanner(*log_, end);
  while (pos < end) {
    ASSIGN_OR_RETURN(BatchSummary s, scanner.At(pos));
    if (s.last_offset >= max_offset) break;
    if (pos + s.size_bytes > limit && !(min_one_batch && pos == from)) break;
    pos += s.size_bytes;
    end_offset = s.last_offset + 1;
  }
  if (pos > from) RememberBoundary(end_offset, pos, generation);
  return Range{FileSlice{log_, from, pos - from}, end_offset};
}

absl::StatusOr<std::optional<BatchSummary>> Segment::FindBatchByTimestamp(TimestampMs ts) const {
  if (max_timestamp() < ts) return std::optional<BatchSummary>();
  TimestampOffset hint = time_index_->Lookup(ts);
  FilePosition from = offset_index_->Lookup(hint.offset).position;
  std::optional<BatchSummary> found;
  RETURN_IF_ERROR(ScanBatches(from, [&](const BatchSummary& s) {
    if (s.max_timestamp >= ts) {
      found = s;
      return false;
    }
    return true;
  }));
  return found;
}

absl::Status Segment::ReadBytes(uint64_t position, uint64_t length, std::string* out) const {
  out->resize(length);
  ASSIGN_OR_RETURN(size_t got,
                   log_->ReadAt(position, {reinterpret_cast<uint8_t*>(out->data()), length}));
  if (got != length) {
    return absl::OutOfRangeError(absl::StrCat("short read of ", log_path(), " at ", position));
  }
  return absl::OkStatus();
}

}  // namespace strata
