// LogManager: every partition log under one data directory, and the data-directory-wide state
// around them (Kafka's LogManager):
//
//   <data-dir>/recovery-point-offset-checkpoint   "topic partition offset" lines
//   <data-dir>/log-start-offset-checkpoint        "topic partition offset" lines
//   <data-dir>/replication-offset-checkpoint      high watermarks, same format
//   <data-dir>/cleaner-offset-checkpoint          first dirty offset per compacted partition
//   <data-dir>/.kafka_cleanshutdown                present only after a clean shutdown
//   <data-dir>/<topic>-<partition>/               one Log each
//
//   LogManager::Options opts{.data_dir = "/var/lib/strata"};
//   ASSIGN_OR_RETURN(auto manager, LogManager::Open(fs, opts, clock, defaults));
//   manager->StartBackground();            // flush.ms, retention, checkpoints, cleaner threads
//   ASSIGN_OR_RETURN(Log* log, manager->GetOrCreate("orders", 0, topic_config));
//   ...
//   RETURN_IF_ERROR(manager->Shutdown());  // close logs, checkpoints, clean-shutdown marker
//
// Startup: the marker is read and removed (so a crash from now on counts as unclean), every
// partition directory is loaded with its checkpointed recovery point and log start offset, and
// directories left by an interrupted topic deletion ("*-delete") are removed.
//
// Compaction: a CleanerManager (log/cleaner_manager.h) cleans the logs whose config has
// cleanup.policy=compact; its threads start with StartBackground (if options.cleaner.enable),
// stop first thing in Shutdown, and Delete aborts a partition's cleaning before its files go.
//
// Thread safety: all methods are thread-safe. Logs are shared: a caller keeps a log alive for as
// long as it holds the shared_ptr, even across Delete() (whose files are gone by then).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/file.h"
#include "log/cleaner_manager.h"
#include "log/log.h"
#include "log/offset_checkpoint.h"

namespace strata {

class LogManager {
 public:
  struct Options {
    std::string data_dir;
    int64_t flush_check_interval_ms = 1000;         // log.flush.scheduler.interval.ms
    int64_t retention_check_interval_ms = 300'000;  // log.retention.check.interval.ms
    int64_t checkpoint_interval_ms = 60'000;        // log.flush.offset.checkpoint.interval.ms
    CleanerManager::Options cleaner;                // log.cleaner.*
    // Replication (cluster mode): a loaded log's high watermark is the checkpointed one (at most
    // its log end) instead of its log end, so a restarted replica does not expose records the
    // ISR may not have had. Partitions without an entry start at their log start offset.
    bool restore_high_watermarks = false;
  };
  static constexpr char kRecoveryPointFile[] = "recovery-point-offset-checkpoint";
  static constexpr char kLogStartFile[] = "log-start-offset-checkpoint";
  static constexpr char kHighWatermarkFile[] = "replication-offset-checkpoint";
  static constexpr char kCleanShutdownFile[] = ".kafka_cleanshutdown";

  // Loads every partition under options.data_dir with `configs(tp)` as its config.
  static absl::StatusOr<std::unique_ptr<LogManager>> Open(
      FileSystem* fs, Options options, Clock* clock,
      std::function<LogConfig(const TopicPartition&)> configs);
  ~LogManager();

  // The log of `tp`, or nullptr.
  std::shared_ptr<Log> Get(const TopicPartition& tp) const;
  absl::StatusOr<std::shared_ptr<Log>> GetOrCreate(const TopicPartition& tp,
                                                   const LogConfig& config);
  // Removes the partition: renames its directory to "<dir>.<n>-delete", then deletes it.
  absl::Status Delete(const TopicPartition& tp);
  std::vector<TopicPartition> Partitions() const;
  bool had_clean_shutdown() const { return clean_shutdown_; }

  // Background work, also callable directly (tests).
  void StartBackground();
  absl::Status FlushDueLogs();      // flush.ms
  absl::Status ApplyRetention();    // retention.ms / retention.bytes / log start offset
  absl::Status WriteCheckpoints();  // recovery points and log start offsets
  // The compaction scheduler (never null): stats, CleanNow / CleanAllOnce for tests.
  CleanerManager& cleaner() { return *cleaner_; }

  // Stops background work, closes every log (final flush), writes the checkpoints and then the
  // clean-shutdown marker. Idempotent.
  absl::Status Shutdown();

 private:
  LogManager(FileSystem* fs, Options options, Clock* clock);
  absl::Status LoadAll(const std::function<LogConfig(const TopicPartition&)>& configs);
  absl::StatusOr<std::map<TopicPartition, Offset>> ReadOffsets(const char* name);
  // ReadOffsets, or no entries (logged) when the file is unreadable.
  std::map<TopicPartition, Offset> ReadOffsetsOrNone(const char* name);
  absl::Status WriteOffsets(const char* name, const std::map<TopicPartition, Offset>& offsets);
  void BackgroundLoop();
  std::vector<std::pair<TopicPartition, std::shared_ptr<Log>>> Snapshot() const;

  FileSystem* fs_;
  Options options_;
  Clock* clock_;
  bool clean_shutdown_ = false;

  absl::Mutex create_mu_;  // one GetOrCreate at a time (taken before mu_)
  mutable absl::Mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Log>> logs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t delete_counter_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex checkpoint_mu_;  // serializes checkpoint writes
  std::thread background_;
  std::unique_ptr<CleanerManager> cleaner_;
};

}  // namespace strata
