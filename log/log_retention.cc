// Log: truncation, retention and DeleteRecords (everything that removes data).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/log.h"

namespace strata {

absl::Status Log::DeleteSegmentsLocked(size_t count, const char* reason) {
  if (count == 0) return absl::OkStatus();
  auto list = segments();
  count = std::min(count, list->size() - 1);  // never the active segment
  if (count == 0) return absl::OkStatus();
  SegmentList remaining(list->begin() + static_cast<ptrdiff_t>(count), list->end());
  Offset new_start = std::max(log_start_offset(), remaining.front()->base_offset());
  log_start_.store(new_start.value(), std::memory_order_release);
  PublishLocked(std::move(remaining));
  RETURN_IF_ERROR(epochs_->TruncateFromStart(new_start));
  uint64_t bytes = 0;
  absl::Status status;
  for (size_t i = 0; i < count; ++i) {
    bytes += (*list)[i]->size_bytes();
    // Readers holding the segment keep its open files; the names go now.
    absl::Status s = (*list)[i]->Delete();
    if (!s.ok() && status.ok()) status = s;
  }
  dir_needs_sync_ = true;
  LOG_EVENT(Info, "log.segments_deleted")
      .Kv("dir", dir_)
      .Kv("reason", reason)
      .Kv("segments", count)
      .Kv("bytes", bytes)
      .Kv("log_start_offset", new_start.value());
  return status;
}

absl::StatusOr<int> Log::ApplyRetention() {
  if (read_only_) return 0;
  absl::MutexLock lock(&append_mu_);
  auto list = segments();
  const LogConfig& c = append_config_;
  size_t n = 0;
  size_t last = list->size() - 1;
  // Segments wholly below the log start offset (DeleteRecords moved it).
  while (n < last && (*list)[n]->next_offset() <= log_start_offset()) ++n;
  const char* reason = "log_start_offset";
  if (c.cleanup_delete && c.retention_ms >= 0) {
    int64_t cutoff = clock_->NowMs() - c.retention_ms;
    while (n < last && (*list)[n]->max_timestamp() < cutoff) {
      ++n;
      reason = "retention.ms";
    }
  }
  if (c.cleanup_delete && c.retention_bytes >= 0) {
    uint64_t total = 0;
    for (size_t i = n; i <= last; ++i) total += (*list)[i]->size_bytes();
    while (n < last &&
           total - (*list)[n]->size_bytes() >= static_cast<uint64_t>(c.retention_bytes)) {
      total -= (*list)[n]->size_bytes();
      ++n;
      reason = "retention.bytes";
    }
  }
  RETURN_IF_ERROR(DeleteSegmentsLocked(n, reason));
  return static_cast<int>(n);
}

absl::StatusOr<Offset> Log::DeleteRecordsBefore(Offset offset) {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  absl::MutexLock lock(&append_mu_);
  if (offset > high_watermark()) {
    return absl::OutOfRangeError(absl::StrCat("cannot delete records before ", offset.value(),
                                              ": above the high watermark ",
                                              high_watermark().value()));
  }
  if (offset <= log_start_offset()) return log_start_offset();
  log_start_.store(offset.value(), std::memory_order_release);
  RETURN_IF_ERROR(epochs_->TruncateFromStart(offset));
  auto list = segments();
  size_t n = 0;
  while (n + 1 < list->size() && (*list)[n]->next_offset() <= offset) ++n;
  RETURN_IF_ERROR(DeleteSegmentsLocked(n, "delete_records"));
  return offset;
}

namespace {
// Marks a truncation in progress for readers (Log::truncation_seq_ is odd while it lives).
class TruncationMark {
 public:
  explicit TruncationMark(std::atomic<uint64_t>* seq) : seq_(seq) { seq_->fetch_add(1); }
  ~TruncationMark() { seq_->fetch_add(1); }

 private:
  std::atomic<uint64_t>* seq_;
};
}  // namespace

absl::StatusOr<Offset> Log::TruncateTo(Offset offset) {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  absl::MutexLock lock(&append_mu_);
  TruncationMark mark(&truncation_seq_);
  return TruncateToLocked(offset);
}

absl::StatusOr<Offset> Log::TruncateToLocked(Offset offset) {
  Offset end = log_end_offset();
  if (offset >= end) return end;
  auto list = segments();
  if (offset <= log_start_offset() || offset <= list->front()->base_offset()) {
    RETURN_IF_ERROR(TruncateFullyAndStartAtLocked(std::max(offset, log_start_offset())));
    return log_end_offset();
  }
  // Keep segments whose base is below `offset`; cut the last of them.
  SegmentList kept;
  std::vector<std::shared_ptr<Segment>> doomed;
  for (const auto& seg : *list) (seg->base_offset() < offset ? kept : doomed).push_back(seg);
  ++truncations_;
  Segment& tail = *kept.back();
  ASSIGN_OR_RETURN(uint64_t cut, tail.TruncateTo(offset));
  if (!doomed.empty()) RETURN_IF_ERROR(tail.Reactivate());
  PublishLocked(std::move(kept));
  for (const auto& seg : doomed) RETURN_IF_ERROR(seg->Delete());
  Offset new_end = tail.next_offset();
  SetLogEndLocked(new_end);
  if (high_watermark() > new_end) high_watermark_.store(new_end.value());
  if (recovery_point() > new_end) recovery_point_.store(new_end.value());
  RETURN_IF_ERROR(epochs_->TruncateFromEnd(new_end));
  auto latest = epochs_->Latest();
  latest_epoch_ = latest ? latest->epoch : kNoLeaderEpoch;
  RETURN_IF_ERROR(AfterTruncationLocked(&tail));
  RETURN_IF_ERROR(producers_->DeleteSnapshotsAbove(new_end));
  RETURN_IF_ERROR(LoadProducerStateLocked());
  LOG_EVENT(Info, "log.truncated")
      .Kv("dir", dir_)
      .Kv("from_offset", end.value())
      .Kv("to_offset", new_end.value())
      .Kv("segments_deleted", doomed.size())
      .Kv("bytes_cut", cut);
  return new_end;
}

absl::Status Log::TruncateFullyAndStartAt(Offset offset) {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  absl::MutexLock lock(&append_mu_);
  TruncationMark mark(&truncation_seq_);
  return TruncateFullyAndStartAtLocked(offset);
}

absl::Status Log::TruncateFullyAndStartAtLocked(Offset offset) {
  ++truncations_;
  auto list = segments();
  // Every old segment goes first (one may have the new base offset: its name is needed).
  // Readers holding them keep their open files.
  for (const auto& seg : *list) RETURN_IF_ERROR(seg->Delete());
  const LogConfig& c = append_config_;
  ASSIGN_OR_RETURN(
      std::unique_ptr<Segment> fresh,
      Segment::Create(fs_, dir_, offset, {c.segment_index_bytes, c.index_interval_bytes}));
  fresh->set_created_ms(clock_->NowMs());
  SegmentList next;
  next.push_back(std::move(fresh));
  PublishLocked(std::move(next));
  log_start_.store(offset.value(), std::memory_order_release);
  SetLogEndLocked(offset);
  high_watermark_.store(offset.value(), std::memory_order_release);
  recovery_point_.store(offset.value(), std::memory_order_release);
  RETURN_IF_ERROR(epochs_->Reset({}));
  latest_epoch_ = kNoLeaderEpoch;
  RETURN_IF_ERROR(AfterTruncationLocked(nullptr));
  RETURN_IF_ERROR(producers_->DeleteSnapshotsAbove(Offset(-1)));
  LOG_EVENT(Info, "log.truncated_fully").Kv("dir", dir_).Kv("start_offset", offset.value());
  return absl::OkStatus();
}

absl::Status Log::AfterTruncationLocked(Segment* cut) {
  if (cut != nullptr) RETURN_IF_ERROR(cut->SyncLog());
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  dir_needs_sync_ = false;
  if (checkpoint_now_) return checkpoint_now_();
  return absl::OkStatus();
}

absl::Status Log::RebaseEmptyActiveLocked(Offset base) {
  auto list = segments();
  std::shared_ptr<Segment> empty = list->back();
  const LogConfig& c = append_config_;
  // Create first (the name is new: base > the empty segment's base), then drop the empty one.
  ASSIGN_OR_RETURN(
      std::unique_ptr<Segment> fresh,
      Segment::Create(fs_, dir_, base, {c.segment_index_bytes, c.index_interval_bytes}));
  fresh->set_created_ms(clock_->NowMs());
  SegmentList next(list->begin(), list->end() - 1);
  next.push_back(std::move(fresh));
  PublishLocked(std::move(next));
  RETURN_IF_ERROR(empty->Delete());
  Offset old_end = log_end_offset();
  if (log_start_offset() == old_end) {
    log_start_.store(base.value(), std::memory_order_release);  // the log held nothing yet
  }
  SetLogEndLocked(base);
  if (recovery_point() == old_end) {
    recovery_point_.store(base.value(), std::memory_order_release);  // the gap holds no data
  }
  dir_needs_sync_ = true;
  return absl::OkStatus();
}

}  // namespace strata
