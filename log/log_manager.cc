#include "log/log_manager.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata {

LogManager::LogManager(FileSystem* fs, Options options, Clock* clock)
    : fs_(fs), options_(std::move(options)), clock_(clock) {}

LogManager::~LogManager() {
  absl::Status s = Shutdown();
  if (!s.ok()) LOG_EVENT(Error, "log_manager.shutdown_failed").Kv("error", s.ToString());
}

absl::StatusOr<std::unique_ptr<LogManager>> LogManager::Open(
    FileSystem* fs, Options options, Clock* clock,
    std::function<LogConfig(const TopicPartition&)> configs) {
  std::unique_ptr<LogManager> m(new LogManager(fs, std::move(options), clock));
  RETURN_IF_ERROR(fs->CreateDirs(m->options_.data_dir));
  std::string marker = JoinPath(m->options_.data_dir, kCleanShutdownFile);
  m->clean_shutdown_ = fs->Exists(marker);
  if (m->clean_shutdown_) {
    // From here on a crash must count as unclean.
    RETURN_IF_ERROR(fs->Remove(marker));
    RETURN_IF_ERROR(fs->SyncDir(m->options_.data_dir));
  }
  RETURN_IF_ERROR(m->LoadAll(configs));
  LogManager* raw = m.get();
  ASSIGN_OR_RETURN(m->cleaner_,
                   CleanerManager::Open(fs, m->options_.data_dir, clock, m->options_.cleaner,
                                        [raw] { return raw->Snapshot(); }));
  return m;
}

absl::StatusOr<std::map<TopicPartition, Offset>> LogManager::ReadOffsets(const char* name) {
  return ReadOffsetCheckpoint(fs_, JoinPath(options_.data_dir, name));
}

std::map<TopicPartition, Offset> LogManager::ReadOffsetsOrNone(const char* name) {
  auto offsets = ReadOffsets(name);
  if (offsets.ok()) return *std::move(offsets);
  LOG_EVENT(Warn, "log_manager.checkpoint_unreadable")
      .Kv("file", name)
      .Kv("error", offsets.status().message());
  return {};
}

absl::Status LogManager::WriteOffsets(const char* name,
                                      const std::map<TopicPartition, Offset>& offsets) {
  return WriteOffsetCheckpoint(fs_, JoinPath(options_.data_dir, name), offsets);
}

absl::Status LogManager::LoadAll(const std::function<LogConfig(const TopicPartition&)>& configs) {
  // Unreadable, these are empty: every partition is recovered from its start, and a replica's
  // high watermark starts at its log start.
  auto recovery_points = ReadOffsetsOrNone(kRecoveryPointFile);
  auto high_watermarks = ReadOffsetsOrNone(kHighWatermarkFile);
  auto log_starts = ReadOffsets(kLogStartFile);
  if (!log_starts.ok()) return log_starts.status();  // losing it would resurrect deleted records
  ASSIGN_OR_RETURN(auto names, fs_->ListDir(options_.data_dir));
  int64_t start_ms = clock_->MonotonicMs();
  for (const auto& name : names) {
    std::string path = JoinPath(options_.data_dir, name);
    if (!fs_->IsDirectory(path)) continue;
    if (absl::StartsWith(name, "__strata")) continue;  // broker metadata, not a partition
    if (absl::EndsWith(name, "-delete")) {
      LOG_EVENT(Info, "log_manager.finishing_delete").Kv("dir", name);
      RETURN_IF_ERROR(RemoveTree(fs_, path));
      continue;
    }
    auto parsed = Log::ParseDirName(name);
    if (!parsed.has_value()) {
      LOG_EVENT(Warn, "log_manager.unknown_dir").Kv("dir", name);
      continue;
    }
    TopicPartition tp{parsed->first, parsed->second};
    auto rp = recovery_points.find(tp);
    auto ls = log_starts->find(tp);
    LogOpenOptions open_options{
        .recovery_point = rp == recovery_points.end() ? Offset(0) : rp->second,
        .log_start_offset = ls == log_starts->end() ? Offset(0) : ls->second,
        .clean_shutdown = clean_shutdown_ && rp != recovery_points.end(),
        .checkpoint_now = [this] { return WriteCheckpoints(); }};
    ASSIGN_OR_RETURN(auto log, Log::Open(fs_, path, configs(tp), clock_, open_options));
    if (options_.restore_high_watermarks) {
      // Replicated: only a checkpointed mark is known to be committed. A partition without one
      // (created after the last checkpoint) starts at its log start, never at its log end,
      // which may hold records no other replica has.
      auto hw = high_watermarks.find(tp);
      log->set_high_watermark_follows_end(false);
      log->SetHighWatermark(hw != high_watermarks.end() ? hw->second : log->log_start_offset());
    }
    absl::MutexLock lock(&mu_);
    logs_[tp] = std::move(log);
  }
  absl::MutexLock lock(&mu_);
  LOG_EVENT(Info, "log_manager.loaded")
      .Kv("data_dir", options_.data_dir)
      .Kv("partitions", logs_.size())
      .Kv("clean_shutdown", clean_shutdown_ ? "true" : "false")
      .Kv("ms", clock_->MonotonicMs() - start_ms);
  return absl::OkStatus();
}

std::shared_ptr<Log> LogManager::Get(const TopicPartition& tp) const {
  absl::MutexLock lock(&mu_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<Log>> LogManager::GetOrCreate(const TopicPartition& tp,
                                                             const LogConfig& config) {
  // One creation at a time, and not under mu_: opening takes the new log's lock, and a log's
  // truncation, under that lock, writes the checkpoints, which list the logs under mu_.
  absl::MutexLock create(&create_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::FailedPreconditionError("log manager is shut down");
    auto it = logs_.find(tp);
    if (it != logs_.end()) return it->second;
  }
  const std::string dir = JoinPath(options_.data_dir, tp.DirName());
  const bool existed = fs_->Exists(dir);
  auto log = Log::Open(fs_, dir, config, clock_,
                       {.checkpoint_now = [this] { return WriteCheckpoints(); }});
  if (!log.ok()) {
    // A half-made new directory (no space for its first segment, say) would be loaded as a
    // partition at the next start: it goes.
    if (!existed) IgnoreError(RemoveTree(fs_, dir), "an empty leftover holds no data");
    return log.status();
  }
  RETURN_IF_ERROR(fs_->SyncDir(options_.data_dir));
  std::shared_ptr<Log> shared = std::move(*log);
  absl::MutexLock lock(&mu_);
  logs_[tp] = shared;
  return shared;
}

absl::Status LogManager::Delete(const TopicPartition& tp) {
  std::shared_ptr<Log> log;
  std::string doomed;
  {
    absl::MutexLock lock(&mu_);
    auto it = logs_.find(tp);
    if (it == logs_.end()) return absl::NotFoundError(absl::StrCat(tp.DirName(), " not found"));
    log = std::move(it->second);
    logs_.erase(it);
    doomed = JoinPath(options_.data_dir, absl::StrCat(tp.DirName(), ".", ++delete_counter_, "-",
                                                      clock_->NowMs(), "-delete"));
  }
  // No cleaning may write into the directory while it is renamed and removed.
  if (absl::Status s = cleaner_->Abort(tp); !s.ok()) {
    // Only the checkpoint write failed: a stale entry is pruned at the next start.
    LOG_EVENT(Warn, "log_manager.cleaner_checkpoint_failed").Kv("error", s.ToString());
  }
  RETURN_IF_ERROR(fs_->Rename(log->dir(), doomed));
  RETURN_IF_ERROR(fs_->SyncDir(options_.data_dir));
  // Open files stay valid for readers that still hold the log; the names go now.
  return RemoveTree(fs_, doomed);
}

std::vector<TopicPartition> LogManager::Partitions() const {
  absl::MutexLock lock(&mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, log] : logs_) out.push_back(tp);
  return out;
}

std::vector<std::pair<TopicPartition, std::shared_ptr<Log>>> LogManager::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return {logs_.begin(), logs_.end()};
}

absl::Status LogManager::FlushDueLogs() {
  absl::Status first;
  for (const auto& [tp, log] : Snapshot()) {
    if (!log->has_unflushed() || log->ms_since_flush() < log->config().flush_ms) continue;
    absl::Status s = log->FlushAll();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

absl::Status LogManager::ApplyRetention() {
  absl::Status first;
  for (const auto& [tp, log] : Snapshot()) {
    auto s = log->ApplyRetention();
    if (!s.ok() && first.ok()) first = s.status();
  }
  return first;
}

absl::Status LogManager::WriteCheckpoints() {
  std::map<TopicPartition, Offset> recovery_points, log_starts, high_watermarks;
  for (const auto& [tp, log] : Snapshot()) {
    recovery_points[tp] = log->recovery_point();
    log_starts[tp] = log->log_start_offset();
    high_watermarks[tp] = log->high_watermark();
  }
  absl::MutexLock lock(&checkpoint_mu_);
  RETURN_IF_ERROR(WriteOffsets(kRecoveryPointFile, recovery_points));
  RETURN_IF_ERROR(WriteOffsets(kHighWatermarkFile, high_watermarks));
  return WriteOffsets(kLogStartFile, log_starts);
}

void LogManager::StartBackground() {
  {
    absl::MutexLock lock(&mu_);
    if (background_.joinable() || shut_down_) return;
    background_ = std::thread([this] { BackgroundLoop(); });
  }
  cleaner_->Start();  // outside mu_: it reads the log snapshot
}

void LogManager::BackgroundLoop() {
  int64_t last_flush = clock_->MonotonicMs(), last_retention = last_flush,
          last_checkpoint = last_flush;
  auto run = [&](int64_t& last, int64_t interval, const char* what, auto&& fn) {
    int64_t now = clock_->MonotonicMs();
    if (now - last < interval) return;
    last = now;
    if (absl::Status s = fn(); !s.ok()) {
      LOG_EVENT(Error, "log_manager.background_failed").Kv("task", what).Kv("error", s.ToString());
    }
  };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100));
      if (stopping_) return;
    }
    run(last_flush, options_.flush_check_interval_ms, "flush", [&] { return FlushDueLogs(); });
    run(last_retention, options_.retention_check_interval_ms, "retention",
        [&] { return ApplyRetention(); });
    run(last_checkpoint, options_.checkpoint_interval_ms, "checkpoint",
        [&] { return WriteCheckpoints(); });
  }
}

absl::Status LogManager::Shutdown() {
  {
    // After a creation in progress (its log is then closed below), before any other.
    absl::MutexLock create(&create_mu_);
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::OkStatus();
    shut_down_ = true;
    stopping_ = true;
  }
  // The cleaner first: a clean in progress stops at a segment boundary before the logs close.
  if (cleaner_ != nullptr) cleaner_->Stop();
  if (background_.joinable()) background_.join();
  absl::Status first;
  for (const auto& [tp, log] : Snapshot()) {
    absl::Status s = log->Close();
    if (!s.ok()) {
      LOG_EVENT(Error, "log.close_failed").Kv("dir", log->dir()).Kv("error", s.ToString());
      if (first.ok()) first = s;
    }
  }
  RETURN_IF_ERROR(WriteCheckpoints());
  if (!first.ok()) return first;  // no clean-shutdown marker: the next start recovers
  std::string marker = JoinPath(options_.data_dir, kCleanShutdownFile);
  RETURN_IF_ERROR(WriteFileAtomically(fs_, marker, ""));
  LOG_EVENT(Info, "log_manager.shut_down").Kv("data_dir", options_.data_dir);
  return absl::OkStatus();
}

}  // namespace strata
