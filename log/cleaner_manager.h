// CleanerManager: which compacted log to clean next, the cleaner threads that do it, and the
// data directory's cleaner-offset-checkpoint (Kafka's LogCleanerManager + CleanerThread).
//
//   CleanerManager::Options options{.threads = 1, .dedupe_buffer_bytes = 128 << 20};
//   ASSIGN_OR_RETURN(auto cleaner, CleanerManager::Open(fs, data_dir, clock, options,
//                                                       [&] { return manager.LogsSnapshot(); }));
//   cleaner->Start();                      // log.cleaner.threads background threads
//   ...
//   cleaner->Abort({"orders", 3});         // before deleting a partition
//   cleaner->Stop();                       // before closing the logs
//
// A round (each thread, or CleanAllOnce for tests): among the logs whose config has
// cleanup.policy=compact, that nobody is cleaning and that are not backing off after a failure,
// take the one with the highest dirty ratio (CleanableRangeOf with its checkpointed first dirty
// offset) among those at or above min.cleanable.dirty.ratio or `overdue`
// (max.compaction.lag.ms), and clean it with the thread's own Cleaner. The new first dirty
// offset (CleanStats::next_dirty) is then written to `<data-dir>/cleaner-offset-checkpoint`
// ("topic partition offset" lines, log/offset_checkpoint.h). A thread with nothing to clean
// sleeps `backoff_ms` on a condition (woken at once by Stop or Wake). A log whose last clean
// left tombstones is also picked (last) once their earliest delete horizon has passed, so they
// go without waiting for new writes (the horizon is remembered in memory only).
//
// Failures: a log that fails to clean is logged (cleaner.clean_failed, with the error) and not
// picked again for backoff_ms, doubling with each consecutive failure up to
// max_failure_backoff_ms; then it is tried again. It is never skipped forever.
//
// Memory and I/O: each thread owns a Cleaner with dedupe_buffer_bytes / threads of offset map
// and io_max_bytes_per_second / threads of I/O budget (Kafka splits the same way).
//
// Thread safety: all methods are thread-safe. A log is never cleaned by two threads at once
// (CleanNow waits for a thread that holds it). Lock order: this object's mutex is never held
// while calling the log source or a Cleaner.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/file.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/offset_checkpoint.h"

namespace strata {

// What the cleaner knows about one partition.
struct PartitionCleanerState {
  std::optional<CleanStats> last;  // the last successful clean
  uint64_t bytes_cleaned = 0;      // sum of bytes_before over successful cleans
  int64_t cleanings = 0;
  int consecutive_failures = 0;
  std::string last_error;        // empty after a success
  int64_t retry_at_mono_ms = 0;  // not picked before this (Clock::MonotonicMs)
};

class CleanerManager {
 public:
  struct Options {
    bool enable = true;                           // log.cleaner.enable (Start is a no-op if false)
    int threads = 1;                              // log.cleaner.threads
    uint64_t dedupe_buffer_bytes = 128ull << 20;  // log.cleaner.dedupe.buffer.size (all threads)
    double io_max_bytes_per_second = 0;           // log.cleaner.io.max.bytes.per.second; 0 = off
    int64_t backoff_ms = 15000;                   // log.cleaner.backoff.ms
    int64_t max_failure_backoff_ms = 600000;      // cap of the doubling after failures
  };
  using LogList = std::vector<std::pair<TopicPartition, std::shared_ptr<Log>>>;
  // Returns the partitions that exist now; called without this object's lock held.
  using LogSource = std::function<LogList()>;
  static constexpr char kCheckpointFile[] = "cleaner-offset-checkpoint";

  // Reads the checkpoint (a malformed one is logged and treated as empty: everything is dirty
  // again, which costs a clean, not data).
  static absl::StatusOr<std::unique_ptr<CleanerManager>> Open(FileSystem* fs, std::string data_dir,
                                                              Clock* clock, Options options,
                                                              LogSource logs);
  ~CleanerManager();  // Stop()

  // Starts the threads (no-op when disabled or already started). Drops checkpoint entries of
  // partitions the source does not know.
  void Start();
  // Asks the threads to stop (a clean in progress stops at its next segment boundary, leaving
  // the log as it was or cleaned) and joins them. Idempotent; Start after Stop does nothing.
  void Stop();
  // Wakes sleeping threads for an early round (e.g. a topic became compacted).
  void Wake();

  // Before a partition is deleted: stops a clean of `tp` in progress and waits for it, then
  // forgets `tp` (state and checkpoint entry). A log snapshot taken before this call is not
  // cleaned after it.
  absl::Status Abort(const TopicPartition& tp);

  // Synchronous cleaning in the caller's thread (tests, tools). CleanNow cleans `tp` whatever
  // its dirty ratio (NotFound if the source does not have it, FailedPrecondition if it is not
  // compacted). CleanAllOnce runs rounds until no log is eligible, cleaning each log at most
  // once, and returns the partitions cleaned in order plus those that failed.
  absl::StatusOr<CleanStats> CleanNow(const TopicPartition& tp);
  struct RoundResult {
    std::vector<TopicPartition> cleaned;
    std::vector<std::pair<TopicPartition, absl::Status>> failed;
  };
  RoundResult CleanAllOnce();

  // ---- Stats ----
  std::map<TopicPartition, PartitionCleanerState> Stats() const;
  uint64_t total_bytes_cleaned() const;
  // The checkpointed first dirty offsets.
  OffsetCheckpoint Checkpoints() const;

 private:
  struct Candidate {
    TopicPartition tp;
    std::shared_ptr<Log> log;
    CleanableRange range;
  };

  CleanerManager(FileSystem* fs, std::string data_dir, Clock* clock, Options options,
                 LogSource logs);
  CleanerOptions CleanerOptionsPerThread() const;
  void ThreadLoop(int index);
  // Picks the dirtiest eligible log and marks it in progress; nullopt when none. `skip` lists
  // partitions to pass over (CleanAllOnce).
  std::optional<Candidate> Pick(const std::set<TopicPartition>& skip);
  // Cleans a picked candidate and clears its in-progress mark.
  absl::StatusOr<CleanStats> CleanPicked(Cleaner& cleaner, const Candidate& c);
  void RecordSuccess(const TopicPartition& tp, const CleanStats& stats);
  void RecordFailure(const TopicPartition& tp, const absl::Status& error);
  // Writes the checkpoint as it is now (serialized by checkpoint_write_mu_, taken before mu_).
  absl::Status PersistCheckpoint();
  Offset FirstDirtyLocked(const TopicPartition& tp) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest delete horizon the last clean left (INT64_MAX: none or unknown since start):
  // once it passes, the log is cleaned again even with nothing dirty (tombstones_due).
  int64_t HorizonLocked(const TopicPartition& tp) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldStop(const TopicPartition& tp) const;

  FileSystem* fs_;
  std::string data_dir_;
  Clock* clock_;
  Options options_;
  LogSource logs_;

  mutable absl::Mutex mu_;
  OffsetCheckpoint checkpoint_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, PartitionCleanerState> states_ ABSL_GUARDED_BY(mu_);
  std::set<TopicPartition> in_progress_ ABSL_GUARDED_BY(mu_);
  std::set<TopicPartition> aborting_ ABSL_GUARDED_BY(mu_);
  // Bumped by each Abort: a pick made from a log snapshot older than an abort is retried.
  uint64_t abort_generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_bytes_cleaned_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_requested_{false};  // read by the cleaners' stop callbacks
  absl::Mutex checkpoint_write_mu_;          // one checkpoint file write at a time
  std::vector<std::thread> threads_;
};

}  // namespace strata
