#include "log/log.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/record_batch.h"

namespace strata {

Log::Log(FileSystem* fs, std::string dir, LogConfig config, Clock* clock)
    : fs_(fs), dir_(std::move(dir)), clock_(clock), config_(config), append_config_(config) {}

Log::~Log() = default;

std::optional<std::pair<std::string, int32_t>> Log::ParseDirName(absl::string_view name) {
  size_t dash = name.rfind('-');
  int32_t partition;
  if (dash == absl::string_view::npos || dash == 0 ||
      !absl::SimpleAtoi(name.substr(dash + 1), &partition) || partition < 0) {
    return std::nullopt;
  }
  return std::make_pair(std::string(name.substr(0, dash)), partition);
}

void Log::UpdateConfig(const LogConfig& config) {
  absl::MutexLock append_lock(&append_mu_);
  append_config_ = config;
  absl::MutexLock lock(&config_mu_);
  config_ = config;
}

LogConfig Log::config() const {
  absl::MutexLock lock(&config_mu_);
  return config_;
}

absl::Status Log::failure() const {
  absl::MutexLock lock(&flush_mu_);
  return failure_;
}

void Log::SetHighWatermark(Offset hw) {
  high_watermark_.store(std::min(hw, log_end_offset()).value(), std::memory_order_release);
}

int64_t Log::ms_since_flush() const {
  return clock_->MonotonicMs() - last_flush_mono_ms_.load(std::memory_order_acquire);
}

ProducerMap Log::producer_state() {
  absl::MutexLock lock(&append_mu_);
  return producers_->producers();
}

absl::Status Log::LoadProducerStateLocked() {
  ASSIGN_OR_RETURN(Offset from, producers_->Load(log_start_offset(), log_end_offset()));
  for (const auto& seg : *segments()) {
    if (seg->next_offset() <= from) continue;
    FilePosition start(0);
    if (seg->base_offset() < from) {
      ASSIGN_OR_RETURN(auto batch, seg->Translate(from));
      if (!batch.has_value()) continue;
      start = batch->position;
    }
    RETURN_IF_ERROR(seg->ScanBatches(start, [&](const BatchSummary& s) {
      if (s.base_offset >= from) producers_->Update(s);
      return true;
    }));
  }
  return absl::OkStatus();
}

uint64_t Log::size_bytes() const {
  uint64_t total = 0;
  for (const auto& seg : *segments()) total += seg->size_bytes();
  return total;
}

void Log::PublishLocked(SegmentList list) {
  active_ = list.back().get();
  segments_.store(std::make_shared<const SegmentList>(std::move(list)));
}

void Log::SetLogEndLocked(Offset end) {
  log_end_.store(end.value(), std::memory_order_release);
  if (hw_follows_end_) high_watermark_.store(end.value(), std::memory_order_release);
}

// ---------------------------------------------------------------- appending

absl::StatusOr<AppendInfo> Log::Append(std::span<uint8_t> batches, const AppendOptions& options) {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  if (failed_.load(std::memory_order_acquire)) return failure();
  absl::MutexLock lock(&append_mu_);
  return AppendLocked(batches, options);
}

absl::StatusOr<AppendInfo> Log::AppendLocked(std::span<uint8_t> batches,
                                             const AppendOptions& options) {
  // Check the framing of every batch before writing any, so a bad one appends nothing.
  absl::InlinedVector<std::span<uint8_t>, 1> parts;
  for (size_t pos = 0; pos < batches.size();) {
    ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::ParseNoCrc(batches.subspan(pos)));
    parts.push_back(batches.subspan(pos, view.size_bytes()));
    pos += view.size_bytes();
  }
  if (parts.empty()) return absl::InvalidArgumentError("no record batch to append");
  AppendInfo info;
  for (auto part : parts) {
    RETURN_IF_ERROR(AppendOneLocked(part, options, &info));
  }
  info.log_start_offset = log_start_offset();
  unflushed_messages_ += info.record_count;
  info.flush_due = unflushed_messages_ >= append_config_.flush_messages;
  return info;
}

// `batch` is exactly one batch whose framing AppendLocked checked.
absl::Status Log::AppendOneLocked(std::span<uint8_t> batch, const AppendOptions& options,
                                  AppendInfo* info) {
  Offset end = log_end_offset();
  Offset base(static_cast<int64_t>(LoadBE64(batch.data() + batch_format::kBaseOffsetOffset)));
  if (options.assign_offsets) {
    base = end;
    SetBaseOffset(batch, base);
    if (options.leader_epoch >= LeaderEpoch(0)) SetPartitionLeaderEpoch(batch, options.leader_epoch);
    if (append_config_.timestamp_type == TimestampType::kLogAppendTime) {
      info->log_append_time = clock_->NowMs();
      SetLogAppendTime(batch, info->log_append_time);
    }
  } else if (base < end) {
    return absl::InvalidArgumentError(absl::StrCat("batch base offset ", base.value(),
                                                   " is below the log end offset ", end.value()));
  }
  ASSIGN_OR_RETURN(BatchSummary summary, ParseSummary(batch, FilePosition(0)));
  if (summary.producer_id >= 0 && options.assign_offsets) {
    ASSIGN_OR_RETURN(std::optional<ProducerBatch> duplicate, producers_->Check(summary));
    if (duplicate.has_value()) {
      if (info->batch_count == 0) info->first_offset = duplicate->first_offset;
      info->last_offset = duplicate->last_offset;
      info->duplicate = true;
      ++info->batch_count;
      return absl::OkStatus();
    }
  }
  RETURN_IF_ERROR(MaybeRollLocked(batch.size(), summary));
  if (!options.assign_offsets && active().empty() && base > active().base_offset()) {
    // A follower's batch may start past the empty active segment's base (the leader's log has
    // a gap there, e.g. after compaction): move that empty segment to the batch's offset.
    RETURN_IF_ERROR(RebaseEmptyActiveLocked(base));
  }
  // The epoch is recorded before the bytes: if the checkpoint cannot be written, nothing was
  // appended; an entry for an epoch whose first batch then failed is harmless.
  if (summary.leader_epoch > latest_epoch_) {
    RETURN_IF_ERROR(epochs_->Assign(summary.leader_epoch, base));
    latest_epoch_ = summary.leader_epoch;
  }
  RETURN_IF_ERROR(active().Append(batch, summary));
  producers_->Update(summary);
  if (info->batch_count == 0) info->first_offset = base;
  info->last_offset = summary.last_offset;
  info->record_count += static_cast<int32_t>(
      LoadBE32(batch.data() + batch_format::kRecordsCountOffset));
  ++info->batch_count;
  SetLogEndLocked(summary.last_offset + 1);
  return absl::OkStatus();
}

// segment.ms as Kafka applies it: the incoming batch's timestamp minus the segment's first batch
// timestamp, or (without timestamps) the wall clock minus the segment's creation time.
absl::Status Log::MaybeRollLocked(uint64_t batch_bytes, const BatchSummary& incoming) {
  Segment& seg = active();
  const LogConfig& c = append_config_;
  int64_t waited_ms = seg.first_batch_timestamp() >= 0
                          ? incoming.max_timestamp - seg.first_batch_timestamp()
                          : clock_->NowMs() - seg.created_ms();
  bool by_time = !seg.empty() && waited_ms > c.segment_ms;
  if (by_time || seg.ShouldRoll(batch_bytes, incoming.last_offset, c.segment_bytes)) {
    return RollLocked();
  }
  return absl::OkStatus();
}

absl::Status Log::Roll() {
  if (read_only_) return absl::FailedPreconditionError("log opened read-only");
  absl::MutexLock lock(&append_mu_);
  return RollLocked();
}

absl::Status Log::RollLocked() {
  Segment& old = active();
  if (old.empty()) return absl::OkStatus();
  Offset base = log_end_offset();
  const LogConfig& c = append_config_;
  // Create first: if that fails (no space), the old segment stays active and appendable.
  ASSIGN_OR_RETURN(std::unique_ptr<Segment> seg,
                   Segment::Create(fs_, dir_, base,
                                   {c.segment_index_bytes, c.index_interval_bytes}));
  seg->set_created_ms(clock_->NowMs());
  dir_needs_sync_ = true;
  if (absl::Status s = old.Seal(); !s.ok()) {
    IgnoreError(seg->Delete(), "the half-made segment is a leftover recovery removes");
    return s;
  }
  SegmentList list = *segments();
  list.push_back(std::move(seg));
  PublishLocked(std::move(list));
  if (absl::Status s = producers_->TakeSnapshot(base, clock_->NowMs()); !s.ok()) {
    // Only costs a longer replay at the next start.
    LOG_EVENT(Warn, "log.producer_snapshot_failed").Kv("dir", dir_).Kv("error", s.ToString());
  }
  LOG_EVENT(Debug, "log.rolled").Kv("dir", dir_).Kv("base_offset", base.value());
  return absl::OkStatus();
}

// ---------------------------------------------------------------- flushing

absl::Status Log::Flush(Offset up_to) {
  if (read_only_) return absl::OkStatus();
  while (true) {
    {
      absl::MutexLock lock(&flush_mu_);
      flush_mu_.Await(absl::Condition(
          +[](bool* in_progress) { return !*in_progress; }, &flush_in_progress_));
      RETURN_IF_ERROR(failure_);
      // Nothing past the log end can be flushed (a truncation may have moved it back).
      if (recovery_point() >= std::min(up_to, log_end_offset())) return absl::OkStatus();
      flush_in_progress_ = true;
    }
    // Capture what to sync under the append lock, then sync without it.
    Offset target;
    Offset from = recovery_point();
    uint64_t generation;
    std::vector<std::shared_ptr<Segment>> to_sync;
    bool sync_dir;
    {
      absl::MutexLock lock(&append_mu_);
      target = log_end_offset();
      generation = truncations_;
      auto list = segments();
      for (const auto& seg : *list) {
        if (seg->next_offset() > from || seg == list->back()) to_sync.push_back(seg);
      }
      absl::Status indexes = list->back()->WriteIndexes();
      IgnoreError(indexes, "indexes are hints; recovery rebuilds them");
      sync_dir = dir_needs_sync_;
      dir_needs_sync_ = false;
      unflushed_messages_ = 0;
    }
    absl::Status s = sync_dir ? fs_->SyncDir(dir_) : absl::OkStatus();
    for (size_t i = 0; i < to_sync.size() && s.ok(); ++i) {
      s = to_sync[i]->SyncLog();
      if (s.ok() && i + 1 < to_sync.size()) s = to_sync[i]->SyncIndexes();
    }
    absl::MutexLock lock(&flush_mu_);
    flush_in_progress_ = false;
    if (!s.ok()) {
      failure_ = absl::Status(s.code(), absl::StrCat("log ", dir_, " failed to flush and refuses "
                                                     "writes until reopened: ", s.message()));
      failed_.store(true, std::memory_order_release);
      LOG_EVENT(Error, "log.flush_failed").Kv("dir", dir_).Kv("error", s.ToString());
      return failure_;
    }
    {
      // A truncation since the capture may have replaced synced bytes with unsynced ones:
      // then this round proves nothing; go again.
      absl::MutexLock append_lock(&append_mu_);
      if (truncations_ == generation) {
        Offset rp = std::min(target, log_end_offset());
        if (rp > recovery_point()) recovery_point_.store(rp.value(), std::memory_order_release);
      }
    }
    last_flush_mono_ms_.store(clock_->MonotonicMs(), std::memory_order_release);
  }
}

absl::Status Log::Close() {
  if (read_only_) return absl::OkStatus();
  Segment* last;
  {
    absl::MutexLock lock(&append_mu_);
    last = &active();
    RETURN_IF_ERROR(last->Seal());
    RETURN_IF_ERROR(producers_->TakeSnapshot(log_end_offset(), clock_->NowMs()));
  }
  RETURN_IF_ERROR(FlushAll());
  RETURN_IF_ERROR(last->SyncIndexes());
  bool sync_dir;
  {
    absl::MutexLock lock(&append_mu_);
    sync_dir = dir_needs_sync_;
    dir_needs_sync_ = false;
  }
  if (sync_dir) RETURN_IF_ERROR(fs_->SyncDir(dir_));
  absl::MutexLock lock(&flush_mu_);
  if (failure_.ok()) {
    failure_ = absl::FailedPreconditionError(absl::StrCat("log ", dir_, " is closed"));
  }
  failed_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace strata
