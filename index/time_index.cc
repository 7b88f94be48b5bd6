#include "index/time_index.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace strata {

absl::StatusOr<std::unique_ptr<TimeIndex>> TimeIndex::Open(FileSystem* fs, std::string path,
                                                           Offset base_offset, uint64_t max_bytes,
                                                           IndexMode mode) {
  bool garbage = false;
  ASSIGN_OR_RETURN(auto index, internal::SparseIndex::Open(fs, std::move(path),
                                                           internal::IndexKind::kTime, max_bytes,
                                                           mode, &garbage));
  return std::unique_ptr<TimeIndex>(new TimeIndex(base_offset, std::move(index), garbage));
}

TimestampOffset TimeIndex::EntryAt(size_t i) const {
  auto e = index_->EntryAt(i);
  return {e.key, base_ + e.value};
}

TimestampOffset TimeIndex::LastEntry() const {
  size_t n = size();
  return n == 0 ? TimestampOffset{kNoTimestamp, base_} : EntryAt(n - 1);
}

TimestampOffset TimeIndex::Lookup(TimestampMs ts) const {
  int64_t i = index_->FindLastKeyAtMost(ts);
  if (i < 0) return {kNoTimestamp, base_};
  return EntryAt(static_cast<size_t>(i));
}

absl::Status TimeIndex::MaybeAppend(TimestampMs timestamp, Offset offset) {
  TimestampOffset last = LastEntry();
  if (size() > 0 && timestamp <= last.timestamp) return absl::OkStatus();
  if (size() > 0 && offset < last.offset) return absl::OkStatus();
  int64_t rel = offset - base_;
  if (rel < 0 || rel > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("offset ", offset.value(),
                                                   " does not fit the time index of segment ",
                                                   base_.value()));
  }
  return index_->Append({timestamp, rel});
}

absl::Status TimeIndex::TruncateTo(Offset offset) {
  int64_t rel = offset - base_;
  if (rel <= 0) return index_->TruncateEntries(0);
  return index_->TruncateEntries(static_cast<size_t>(index_->FindLastValueBelow(rel) + 1));
}

absl::Status TimeIndex::Check(Offset last_offset) const {
  if (trailing_garbage_) {
    return CorruptionError(absl::StrCat(path(), ": non-zero bytes after the last valid entry"));
  }
  if (size() > 0 && LastEntry().offset > last_offset) {
    return CorruptionError(absl::StrCat(path(), ": last entry names offset ",
                                        LastEntry().offset.value(), " beyond the segment's last ",
                                        last_offset.value()));
  }
  return absl::OkStatus();
}

}  // namespace strata
