#include "log/cleaner_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata {

CleanerManager::CleanerManager(FileSystem* fs, std::string data_dir, Clock* clock, Options options,
                               LogSource logs)
    : fs_(fs),
      data_dir_(std::move(data_dir)),
      clock_(clock),
      options_(options),
      logs_(std::move(logs)) {
  options_.threads = std::max(1, options_.threads);
  options_.backoff_ms = std::max<int64_t>(1, options_.backoff_ms);
  options_.max_failure_backoff_ms = std::max(options_.backoff_ms, options_.max_failure_backoff_ms);
}

CleanerManager::~CleanerManager() { Stop(); }

absl::StatusOr<std::unique_ptr<CleanerManager>> CleanerManager::Open(FileSystem* fs,
                                                                     std::string data_dir,
                                                                     Clock* clock, Options options,
                                                                     LogSource logs) {
  std::unique_ptr<CleanerManager> m(
      new CleanerManager(fs, std::move(data_dir), clock, options, std::move(logs)));
  auto points = ReadOffsetCheckpoint(fs, JoinPath(m->data_dir_, kCheckpointFile));
  if (!points.ok()) {
    // Losing it only means cleaning everything again.
    LOG_EVENT(Warn, "cleaner.checkpoint_unreadable")
        .Kv("file", kCheckpointFile)
        .Kv("error", points.status().ToString());
    points = OffsetCheckpoint();
  }
  absl::MutexLock lock(&m->mu_);
  m->checkpoint_ = std::move(*points);
  return m;
}

CleanerOptions CleanerManager::CleanerOptionsPerThread() const {
  CleanerOptions o;
  o.dedupe_buffer_bytes = options_.dedupe_buffer_bytes / static_cast<uint64_t>(options_.threads);
  o.io_max_bytes_per_second = options_.io_max_bytes_per_second / options_.threads;
  return o;
}

void CleanerManager::Start() {
  LogList logs = logs_();
  absl::MutexLock lock(&mu_);
  if (!options_.enable || started_ || stopping_) return;
  started_ = true;
  // Entries of partitions that no longer exist (deleted while the broker was down).
  std::set<TopicPartition> live;
  for (const auto& [tp, log] : logs) live.insert(tp);
  std::erase_if(checkpoint_, [&](const auto& e) { return !live.count(e.first); });
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { ThreadLoop(i); });
  LOG_EVENT(Info, "cleaner.started")
      .Kv("threads", options_.threads)
      .Kv("dedupe_buffer_bytes", options_.dedupe_buffer_bytes)
      .Kv("backoff_ms", options_.backoff_ms);
}

void CleanerManager::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    stop_requested_.store(true, std::memory_order_release);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void CleanerManager::Wake() {
  absl::MutexLock lock(&mu_);
  ++wake_generation_;
}

void CleanerManager::ThreadLoop(int index) {
  Cleaner cleaner(clock_, CleanerOptionsPerThread());
  LOG_EVENT(Debug, "cleaner.thread_started").Kv("thread", index);
  while (true) {
    uint64_t wake;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      wake = wake_generation_;
    }
    if (std::optional<Candidate> c = Pick({})) {
      IgnoreError(CleanPicked(cleaner, *c).status(), "recorded in the partition's state");
      continue;
    }
    absl::MutexLock lock(&mu_);
    auto woken = [this, wake]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ || wake_generation_ != wake;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(options_.backoff_ms));
  }
}

int64_t CleanerManager::HorizonLocked(const TopicPartition& tp) const {
  auto st = states_.find(tp);
  if (st == states_.end() || !st->second.last.has_value()) return INT64_MAX;
  return st->second.last->next_horizon_ms;
}

Offset CleanerManager::FirstDirtyLocked(const TopicPartition& tp) const {
  auto it = checkpoint_.find(tp);
  return it == checkpoint_.end() ? Offset(0) : it->second;
}

std::optional<CleanerManager::Candidate> CleanerManager::Pick(
    const std::set<TopicPartition>& skip) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t generation;
    std::map<TopicPartition, Offset> first_dirty;
    std::map<TopicPartition, int64_t> horizon;
    {
      // The generation is read before the snapshot: an Abort after this point is noticed below.
      absl::MutexLock lock(&mu_);
      if (stopping_) return std::nullopt;
      generation = abort_generation_;
    }
    LogList logs = logs_();
    int64_t now_mono = clock_->MonotonicMs();
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [tp, log] : logs) {
        auto st = states_.find(tp);
        if (skip.count(tp) || in_progress_.count(tp) || aborting_.count(tp) ||
            (st != states_.end() && st->second.retry_at_mono_ms > now_mono)) {
          continue;
        }
        first_dirty[tp] = FirstDirtyLocked(tp);
        horizon[tp] = HorizonLocked(tp);
      }
    }
    std::optional<Candidate> best;
    for (auto& [tp, log] : logs) {
      auto fd = first_dirty.find(tp);
      if (fd == first_dirty.end()) continue;
      LogConfig config = log->config();
      if (!config.cleanup_compact) continue;
      Offset from = fd->second;
      if (from > log->log_end_offset()) from = log->log_start_offset();  // truncated below it
      auto range = CleanableRangeOf(*log, from, clock_->NowMs());
      if (!range.ok()) {
        RecordFailure(tp, range.status());
        continue;
      }
      range->tombstones_due = horizon[tp] <= clock_->NowMs();
      bool dirty = range->dirty_bytes > 0 && range->end > range->first_dirty &&
                   (range->overdue || range->dirty_ratio() >= config.min_cleanable_dirty_ratio);
      if (!dirty && !range->tombstones_due) continue;  // due tombstones: ratio 0, picked last
      if (!best.has_value() || range->dirty_ratio() > best->range.dirty_ratio()) {
        best = Candidate{tp, log, *range};
      }
    }
    if (!best.has_value()) return std::nullopt;
    absl::MutexLock lock(&mu_);
    if (generation != abort_generation_ || in_progress_.count(best->tp)) continue;
    in_progress_.insert(best->tp);
    return best;
  }
  return std::nullopt;
}

bool CleanerManager::ShouldStop(const TopicPartition& tp) const {
  if (stop_requested_.load(std::memory_order_acquire)) return true;
  absl::MutexLock lock(&mu_);
  return aborting_.count(tp) > 0;
}

absl::StatusOr<CleanStats> CleanerManager::CleanPicked(Cleaner& cleaner, const Candidate& c) {
  LOG_EVENT(Debug, "cleaner.cleaning")
      .Kv("partition", c.tp.DirName())
      .Kv("first_dirty", c.range.first_dirty.value())
      .Kv("end", c.range.end.value())
      .Kv("dirty_ratio", c.range.dirty_ratio());
  absl::StatusOr<CleanStats> stats =
      cleaner.Clean(*c.log, c.range, [this, tp = c.tp] { return ShouldStop(tp); });
  bool aborted;
  {
    absl::MutexLock lock(&mu_);
    aborted = aborting_.count(c.tp) > 0;
  }
  if (aborted) {
    stats = absl::CancelledError(absl::StrCat("cleaning of ", c.tp.DirName(), " aborted"));
  } else if (stats.ok()) {
    // A clean interrupted by Stop before its first pass finished changed nothing.
    bool interrupted = stop_requested_.load(std::memory_order_acquire) && stats->passes == 0;
    if (!interrupted) RecordSuccess(c.tp, *stats);
  } else if (!stop_requested_.load(std::memory_order_acquire)) {
    RecordFailure(c.tp, stats.status());
  }
  absl::MutexLock lock(&mu_);
  in_progress_.erase(c.tp);  // wakes Abort / CleanNow waiters (conditions re-evaluate)
  return stats;
}

void CleanerManager::RecordSuccess(const TopicPartition& tp, const CleanStats& stats) {
  {
    absl::MutexLock lock(&mu_);
    PartitionCleanerState& st = states_[tp];
    st.last = stats;
    st.bytes_cleaned += stats.bytes_before;
    ++st.cleanings;
    st.consecutive_failures = 0;
    st.last_error.clear();
    st.retry_at_mono_ms = 0;
    total_bytes_cleaned_ += stats.bytes_before;
    // Only one clean of a partition runs at a time, so this is the newest word on it; it may
    // lower a checkpoint that pointed past the log end (a truncated log, cleaned from its start).
    checkpoint_[tp] = stats.next_dirty;
  }
  if (absl::Status s = PersistCheckpoint(); !s.ok()) {
    // The clean stands; a stale checkpoint only makes the next clean redo work.
    LOG_EVENT(Warn, "cleaner.checkpoint_failed").Kv("error", s.ToString());
  }
  LOG_EVENT(Debug, "cleaner.cleaned")
      .Kv("partition", tp.DirName())
      .Kv("next_dirty", stats.next_dirty.value())
      .Kv("segments_before", stats.segments_before)
      .Kv("segments_after", stats.segments_after)
      .Kv("bytes_before", stats.bytes_before)
      .Kv("bytes_after", stats.bytes_after)
      .Kv("records_read", stats.records_read)
      .Kv("records_kept", stats.records_kept)
      .Kv("tombstones_dropped", stats.tombstones_dropped)
      .Kv("passes", stats.passes)
      .Kv("ms", stats.duration_ms);
}

void CleanerManager::RecordFailure(const TopicPartition& tp, const absl::Status& error) {
  int failures;
  int64_t backoff_ms;
  {
    absl::MutexLock lock(&mu_);
    PartitionCleanerState& st = states_[tp];
    failures = ++st.consecutive_failures;
    backoff_ms = options_.backoff_ms;
    for (int i = 1; i < failures && backoff_ms < options_.max_failure_backoff_ms; ++i) {
      backoff_ms *= 2;
    }
    backoff_ms = std::min(backoff_ms, options_.max_failure_backoff_ms);
    st.retry_at_mono_ms = clock_->MonotonicMs() + backoff_ms;
    st.last_error = error.ToString();
  }
  LOG_EVENT(Warn, "cleaner.clean_failed")
      .Kv("partition", tp.DirName())
      .Kv("error", error.ToString())
      .Kv("consecutive_failures", failures)
      .Kv("retry_in_ms", backoff_ms);
}

absl::Status CleanerManager::PersistCheckpoint() {
  absl::MutexLock write_lock(&checkpoint_write_mu_);
  OffsetCheckpoint copy;
  {
    absl::MutexLock lock(&mu_);
    copy = checkpoint_;
  }
  return WriteOffsetCheckpoint(fs_, JoinPath(data_dir_, kCheckpointFile), copy);
}

absl::Status CleanerManager::Abort(const TopicPartition& tp) {
  {
    absl::MutexLock lock(&mu_);
    aborting_.insert(tp);
    ++abort_generation_;
    auto idle = [this, &tp]()
                    ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_progress_.count(tp) == 0; };
    mu_.Await(absl::Condition(&idle));
    aborting_.erase(tp);
    states_.erase(tp);
    if (checkpoint_.erase(tp) == 0) return absl::OkStatus();
  }
  return PersistCheckpoint();
}

absl::StatusOr<CleanStats> CleanerManager::CleanNow(const TopicPartition& tp) {
  std::shared_ptr<Log> log;
  for (auto& [t, l] : logs_()) {
    if (t == tp) log = l;
  }
  if (log == nullptr) return absl::NotFoundError(absl::StrCat(tp.DirName(), " not found"));
  if (!log->config().cleanup_compact) {
    return absl::FailedPreconditionError(absl::StrCat(tp.DirName(), " is not compacted"));
  }
  Offset first_dirty;
  int64_t horizon = INT64_MAX;
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this, &tp]()
                    ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_progress_.count(tp) == 0; };
    mu_.Await(absl::Condition(&idle));
    if (aborting_.count(tp)) return absl::CancelledError(absl::StrCat(tp.DirName(), " aborted"));
    in_progress_.insert(tp);
    first_dirty = FirstDirtyLocked(tp);
    horizon = HorizonLocked(tp);
  }
  if (first_dirty > log->log_end_offset()) first_dirty = log->log_start_offset();
  auto range = CleanableRangeOf(*log, first_dirty, clock_->NowMs());
  if (range.ok()) range->tombstones_due = horizon <= clock_->NowMs();
  if (!range.ok()) {
    absl::MutexLock lock(&mu_);
    in_progress_.erase(tp);
    return range.status();
  }
  Cleaner cleaner(clock_, CleanerOptionsPerThread());
  return CleanPicked(cleaner, Candidate{tp, log, *range});
}

CleanerManager::RoundResult CleanerManager::CleanAllOnce() {
  Cleaner cleaner(clock_, CleanerOptionsPerThread());
  RoundResult result;
  std::set<TopicPartition> done;
  while (std::optional<Candidate> c = Pick(done)) {
    done.insert(c->tp);
    absl::StatusOr<CleanStats> stats = CleanPicked(cleaner, *c);
    if (stats.ok()) {
      result.cleaned.push_back(c->tp);
    } else {
      result.failed.emplace_back(c->tp, stats.status());
    }
  }
  return result;
}

std::map<TopicPartition, PartitionCleanerState> CleanerManager::Stats() const {
  absl::MutexLock lock(&mu_);
  return states_;
}

uint64_t CleanerManager::total_bytes_cleaned() const {
  absl::MutexLock lock(&mu_);
  return total_bytes_cleaned_;
}

OffsetCheckpoint CleanerManager::Checkpoints() const {
  absl::MutexLock lock(&mu_);
  return checkpoint_;
}

}  // namespace strata
