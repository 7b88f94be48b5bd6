#include "index/offset_index.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace strata {

absl::StatusOr<std::unique_ptr<OffsetIndex>> OffsetIndex::Open(FileSystem* fs, std::string path,
                                                               Offset base_offset,
                                                               uint64_t max_bytes,
                                                               IndexMode mode) {
  bool garbage = false;
  ASSIGN_OR_RETURN(auto index, internal::SparseIndex::Open(fs, std::move(path),
                                                           internal::IndexKind::kOffset,
                                                           max_bytes, mode, &garbage));
  return std::unique_ptr<OffsetIndex>(new OffsetIndex(base_offset, std::move(index), garbage));
}

OffsetPosition OffsetIndex::EntryAt(size_t i) const {
  auto e = index_->EntryAt(i);
  return {base_ + e.key, FilePosition(static_cast<uint64_t>(e.value))};
}

OffsetPosition OffsetIndex::Lookup(Offset target) const {
  int64_t rel = target - base_;
  if (rel < 0) return {base_, FilePosition(0)};
  int64_t i = index_->FindLastKeyAtMost(rel);
  if (i < 0) return {base_, FilePosition(0)};
  return EntryAt(static_cast<size_t>(i));
}

absl::Status OffsetIndex::Append(Offset offset, FilePosition position) {
  int64_t rel = offset - base_;
  if (rel < 0 || rel > UINT32_MAX || position.value() > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("offset ", offset.value(), " at position ",
                                                   position.value(),
                                                   " does not fit the index of segment ",
                                                   base_.value()));
  }
  return index_->Append({rel, static_cast<int64_t>(position.value())});
}

absl::Status OffsetIndex::TruncateTo(Offset offset) {
  int64_t rel = offset - base_;
  if (rel <= 0) return index_->TruncateEntries(0);
  return index_->TruncateEntries(static_cast<size_t>(index_->FindLastKeyAtMost(rel - 1) + 1));
}

absl::Status OffsetIndex::Check(uint64_t log_bytes) const {
  if (trailing_garbage_) {
    return CorruptionError(absl::StrCat(path(), ": non-zero bytes after the last valid entry"));
  }
  if (size() > 0) {
    OffsetPosition last = EntryAt(size() - 1);
    if (last.position.value() >= log_bytes) {
      return CorruptionError(absl::StrCat(path(), ": last entry points at position ",
                                          last.position.value(), " but the log has ", log_bytes,
                                          " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace strata
