// Log::ReplaceSegments: the swap step of compaction (see log/cleaner.h for the whole protocol,
// log_loader.cc for how Open finishes or rolls back an interrupted swap).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/log.h"

namespace strata {

namespace {

// The order of the renames: the .log file last, since a `.log.swap` commits the swap.
constexpr const char* kSwapOrder[] = {".index", ".timeindex", ".log"};

std::string SegmentPath(const std::string& dir, Offset base, const char* ext,
                        absl::string_view suffix) {
  return JoinPath(dir, absl::StrCat(Segment::FileName(base, ext), suffix));
}

}  // namespace

SegmentOptions Log::segment_options() const {
  LogConfig c = config();
  return {c.segment_index_bytes, c.index_interval_bytes};
}

void RemoveCleanedFiles(FileSystem* fs, const std::string& dir, Offset base) {
  for (const char* ext : kSwapOrder) {
    for (const char* suffix : {".cleaned", ".swap"}) {
      std::string path = SegmentPath(dir, base, ext, suffix);
      if (fs->Exists(path)) IgnoreError(fs->Remove(path), "a leftover Open removes");
    }
  }
}

absl::Status Log::ReplaceSegments(const SegmentList& old) {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  if (old.empty()) return absl::InvalidArgumentError("no segments to replace");
  const Offset base = old.front()->base_offset();
  absl::MutexLock lock(&append_mu_);
  if (swap_pending_) {
    RemoveCleanedFiles(fs_, dir_, base);
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, ": an earlier swap failed half-way; it completes when the log reopens"));
  }
  auto list = segments();
  auto it = std::find(list->begin(), list->end(), old.front());
  size_t first = static_cast<size_t>(it - list->begin());
  bool present = it != list->end() && first + old.size() < list->size();  // never the active
  for (size_t k = 0; present && k < old.size(); ++k) present = (*list)[first + k] == old[k];
  if (!present) {
    RemoveCleanedFiles(fs_, dir_, base);
    return absl::AbortedError(
        absl::StrCat(dir_, ": segments changed while they were cleaned (retention or truncation)"));
  }
  // 1. .cleaned -> .swap; once .log.swap exists the swap is committed.
  for (const char* ext : kSwapOrder) {
    absl::Status s = fs_->Rename(SegmentPath(dir_, base, ext, ".cleaned"),
                                 SegmentPath(dir_, base, ext, ".swap"));
    if (!s.ok()) {
      RemoveCleanedFiles(fs_, dir_, base);  // not committed: roll back
      return s;
    }
  }
  absl::Status s = SwapInLocked(old, first, base);
  if (!s.ok()) {
    swap_pending_ = true;
    LOG_EVENT(Error, "log.swap_failed")
        .Kv("dir", dir_)
        .Kv("base_offset", base.value())
        .Kv("error", s.ToString())
        .Kv("note", "the committed swap completes when the log is reopened");
  }
  return s;
}

absl::Status Log::SwapInLocked(const SegmentList& old, size_t first, Offset base) {
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  // 2. The old segments go (readers holding them keep their open files).
  for (const auto& seg : old) RETURN_IF_ERROR(seg->Delete());
  // 3. Final names, then the new segment replaces the old ones in the list.
  for (const char* ext : kSwapOrder) {
    RETURN_IF_ERROR(
        fs_->Rename(SegmentPath(dir_, base, ext, ".swap"), SegmentPath(dir_, base, ext, "")));
  }
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                   Segment::Open(fs_, dir_, base, segment_options(), Segment::OpenMode::kSealed));
  if (absl::Status check = seg->CheckIndexes(); !check.ok()) {
    ASSIGN_OR_RETURN(SegmentRecovery r, seg->Recover());
    if (!r.first_error.ok()) return r.first_error;
  }
  seg->set_created_ms(old.front()->created_ms());
  auto list = segments();
  SegmentList next(list->begin(), list->begin() + static_cast<ptrdiff_t>(first));
  next.push_back(std::move(seg));
  next.insert(next.end(), list->begin() + static_cast<ptrdiff_t>(first + old.size()), list->end());
  PublishLocked(std::move(next));
  return absl::OkStatus();
}

}  // namespace strata
