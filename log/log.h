// The log of one partition: an ordered list of segments, the last of which (the active segment)
// takes appends.
//
//   ASSIGN_OR_RETURN(auto log, Log::Open(fs, "/data/orders-0", config, clock, {}));
//   ASSIGN_OR_RETURN(AppendInfo info, log->Append(batch_bytes, {.leader_epoch = epoch}));
//   RETURN_IF_ERROR(log->Flush(info.last_offset + 1));        // group-committed fdatasync
//   ASSIGN_OR_RETURN(ReadResult r, log->Read(offset, 1 << 20, log->high_watermark()));
//   sendfile(socket, r.slice.file->native_handle(), r.slice.position, r.slice.length);
//
// Offsets: the leader assigns them on Append (assign_offsets); a follower appends the leader's
// batches as they are (assign_offsets = false). Every batch gets the caller's leader epoch (or
// keeps its own for followers), which feeds the leader-epoch cache.
//
// Concurrency: one appender at a time (Append, Roll, Truncate*, retention take `append_mu_`).
// Readers (Read, Find*, offsets, segments) take no lock: they load an immutable snapshot of the
// segment list and atomics for the offsets; bytes become visible only after they are written.
// Flush runs its fdatasync outside the append lock and merges concurrent callers (group commit).
//
// Durability: Append returns once bytes are in the page cache. Flush(o) returns once every offset
// below `o` is on stable storage; recovery_point() is the offset below which that is known. After
// a crash, Open rescans only what lies past the recovery point (see RecoverSegments in
// log_loader.cc). A failed fdatasync makes the log refuse further appends (the kernel may have
// dropped the dirty pages); reopening runs recovery.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/types.h"
#include "index/leader_epoch_cache.h"
#include "log/log_config.h"
#include "log/producer_state.h"
#include "log/segment.h"

namespace strata {

using SegmentList = std::vector<std::shared_ptr<Segment>>;

struct LogOpenOptions {
  Offset recovery_point{0};     // from recovery-point-offset-checkpoint
  Offset log_start_offset{0};   // from log-start-offset-checkpoint
  bool clean_shutdown = false;  // the data dir's clean-shutdown marker was present
  bool read_only = false;       // tools: open nothing for writing, change nothing on disk
  // Called (with the append lock held) after a truncation lowered the recovery point, to write
  // the data directory's checkpoints at once. Must not call back into this Log's writers.
  std::function<absl::Status()> checkpoint_now;
};

struct AppendOptions {
  LeaderEpoch leader_epoch = kNoLeaderEpoch;  // written into partitionLeaderEpoch (leaders)
  bool assign_offsets = true;                 // false: follower, keep the leader's offsets
};

struct AppendInfo {
  Offset first_offset;
  Offset last_offset;
  TimestampMs log_append_time = kNoTimestamp;  // set when the topic uses LogAppendTime
  Offset log_start_offset;
  int64_t record_count = 0;
  int32_t batch_count = 0;
  bool flush_due = false;  // flush.messages reached: the caller should Flush(last_offset + 1)
  // An idempotent producer's retry of a batch already in the log: nothing was written and the
  // offsets are the original batch's.
  bool duplicate = false;
};

struct ReadResult {
  FileSlice slice;  // whole batches, possibly empty
  Offset log_start_offset;
  Offset log_end_offset;
  Offset high_watermark;
};

// What recovery found that it would not fix on its own (corruption in flushed data).
struct LogProblem {
  std::string path;
  uint64_t position = 0;
  std::string message;
};

class Log {
 public:
  static absl::StatusOr<std::unique_ptr<Log>> Open(FileSystem* fs, std::string dir,
                                                   LogConfig config, Clock* clock,
                                                   LogOpenOptions options);
  ~Log();

  const std::string& dir() const { return dir_; }
  FileSystem* fs() const { return fs_; }
  // "topic-3" -> ("topic", 3) from the directory name; nullopt when it does not parse.
  static std::optional<std::pair<std::string, int32_t>> ParseDirName(absl::string_view name);

  // ---- Writing ----

  // Appends one or more whole RecordBatch v2 batches (already CRC-checked by the caller). Bytes
  // are modified in place: baseOffset (when assigning), partitionLeaderEpoch, and for
  // LogAppendTime topics the timestamp and CRC.
  absl::StatusOr<AppendInfo> Append(std::span<uint8_t> batches, const AppendOptions& options);
  // Makes every offset below `up_to` durable (group commit). Fails if the log has failed.
  absl::Status Flush(Offset up_to);
  absl::Status FlushAll() { return Flush(log_end_offset()); }
  // Starts a new active segment at the log end offset (no-op when the active one is empty).
  absl::Status Roll();
  // Removes every record at or after `offset` (follower truncation). Returns the new end.
  absl::StatusOr<Offset> TruncateTo(Offset offset);
  // Drops every segment and restarts the log empty at `offset`.
  absl::Status TruncateFullyAndStartAt(Offset offset);
  // Advances the log start offset (DeleteRecords); whole segments below it are deleted.
  // Returns the new log start offset.
  absl::StatusOr<Offset> DeleteRecordsBefore(Offset offset);
  // Applies retention.ms / retention.bytes and the log start offset; returns segments deleted.
  absl::StatusOr<int> ApplyRetention();
  // Seals the active segment's indexes, flushes everything. The log stays readable.
  absl::Status Close();

  // ---- Compaction (log/cleaner.h) ----

  // Replaces `old` — consecutive segments of the list, not the active one — with the segment
  // whose files `<base>.log.cleaned`, `.index.cleaned` and `.timeindex.cleaned` the cleaner wrote,
  // sealed and fsynced (base = old.front()->base_offset()). Crash-safe: the files are renamed to
  // `.swap` (.log last), the old segments deleted, the `.swap` files given their final names, the
  // directory fsynced, then the new list published; Open finishes a swap whose `.log.swap`
  // exists. Aborted (with the `.cleaned` files removed) when `old` is no longer in the list (a
  // retention or truncation raced the cleaner).
  absl::Status ReplaceSegments(const SegmentList& old);
  SegmentOptions segment_options() const;

  void UpdateConfig(const LogConfig& config);
  LogConfig config() const;

  // ---- Reading (no lock) ----

  // Whole batches from the one containing `offset`, at most `max_bytes` (at least one batch when
  // `min_one_batch`), below `max_offset` (exclusive; pass the high watermark for consumers).
  // OutOfRange when `offset` is outside [log start, log end].
  absl::StatusOr<ReadResult> Read(Offset offset, uint64_t max_bytes, Offset max_offset,
                                  bool min_one_batch = true) const;
  // The first record with timestamp >= ts: (timestamp, offset); nullopt when none.
  absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> FindOffsetByTimestamp(
      TimestampMs ts) const;
  // The record with the largest timestamp (the first such), or nullopt when the log is empty.
  absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> FindMaxTimestamp() const;

  Offset log_start_offset() const { return Offset(log_start_.load(std::memory_order_acquire)); }
  Offset log_end_offset() const { return Offset(log_end_.load(std::memory_order_acquire)); }
  Offset recovery_point() const { return Offset(recovery_point_.load(std::memory_order_acquire)); }
  // Single broker: tracks the log end offset. Replication sets it explicitly.
  Offset high_watermark() const { return Offset(high_watermark_.load(std::memory_order_acquire)); }
  void SetHighWatermark(Offset hw);
  void set_high_watermark_follows_end(bool follows) { hw_follows_end_ = follows; }

  std::shared_ptr<const SegmentList> segments() const { return segments_.load(); }
  uint64_t size_bytes() const;
  LeaderEpochCache& leader_epochs() { return *epochs_; }
  const std::vector<LogProblem>& problems() const { return problems_; }
  // A copy of the idempotent producers' state (tests, tools).
  ProducerMap producer_state();
  // Milliseconds since the last successful flush (flush.ms scheduling).
  int64_t ms_since_flush() const;
  bool has_unflushed() const { return recovery_point() < log_end_offset(); }
  // Non-OK after a failed fdatasync: the log refuses appends until reopened.
  absl::Status failure() const;

 private:
  friend class LogLoader;
  Log(FileSystem* fs, std::string dir, LogConfig config, Clock* clock);

  absl::StatusOr<AppendInfo> AppendLocked(std::span<uint8_t> batches, const AppendOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status AppendOneLocked(std::span<uint8_t> batch, const AppendOptions& options,
                               AppendInfo* info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status MaybeRollLocked(uint64_t batch_bytes, const BatchSummary& incoming)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status RollLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status DeleteSegmentsLocked(size_t count, const char* reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::Status TruncateFullyAndStartAtLocked(Offset offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  absl::StatusOr<Offset> TruncateToLocked(Offset offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // One attempt of Read; it may fail spuriously while a truncation cuts the bytes it scans.
  absl::StatusOr<ReadResult> ReadOnce(Offset offset, uint64_t max_bytes, Offset max_offset,
                                      bool min_one_batch) const;
  absl::Status RebaseEmptyActiveLocked(Offset base) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // After a truncation: make the cut durable and tell the owner to checkpoint the lowered
  // recovery point (a stale checkpoint would vouch for bytes written after the cut).
  absl::Status AfterTruncationLocked(Segment* cut) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Loads the newest producer snapshot at or below the log end and replays the batches after it.
  absl::Status LoadProducerStateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  void PublishLocked(SegmentList list) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // ReplaceSegments after its commit point: old segments out, the swapped segment in.
  absl::Status SwapInLocked(const SegmentList& old, size_t first, Offset base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  void SetLogEndLocked(Offset end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // The last segment, for the append path (which holds append_mu_; no snapshot load needed).
  Segment& active() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_) { return *active_; }

  FileSystem* fs_;
  std::string dir_;
  Clock* clock_;
  mutable absl::Mutex config_mu_;
  LogConfig config_ ABSL_GUARDED_BY(config_mu_);

  absl::Mutex append_mu_;
  // The config as the append path sees it: a copy under the lock it already holds, so appends
  // never copy the config or take config_mu_.
  LogConfig append_config_ ABSL_GUARDED_BY(append_mu_);
  // The newest leader epoch in the epoch cache, so appends check it without the cache's lock.
  LeaderEpoch latest_epoch_ ABSL_GUARDED_BY(append_mu_) = kNoLeaderEpoch;
  int64_t unflushed_messages_ ABSL_GUARDED_BY(append_mu_) = 0;
  // Bumped by every truncation: a flush that raced one must not advance the recovery point.
  uint64_t truncations_ ABSL_GUARDED_BY(append_mu_) = 0;
  // Odd while a truncation cuts files in place, bumped again when it is done (a sequence lock):
  // a reader whose scan failed while it changed retries instead of reporting corruption.
  std::atomic<uint64_t> truncation_seq_{0};
  bool dir_needs_sync_ ABSL_GUARDED_BY(append_mu_) = false;
  // A committed swap failed half-way: no more swaps until Open completes it.
  bool swap_pending_ ABSL_GUARDED_BY(append_mu_) = false;

  // Group commit.
  mutable absl::Mutex flush_mu_;
  bool flush_in_progress_ ABSL_GUARDED_BY(flush_mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(flush_mu_);
  std::atomic<bool> failed_{false};  // failure_ is not OK (checked without the lock)
  std::atomic<int64_t> last_flush_mono_ms_{0};

  std::atomic<std::shared_ptr<const SegmentList>> segments_;
  Segment* active_ ABSL_GUARDED_BY(append_mu_) = nullptr;
  std::atomic<int64_t> log_start_{0};
  std::atomic<int64_t> log_end_{0};
  std::atomic<int64_t> recovery_point_{0};
  std::atomic<int64_t> high_watermark_{0};
  std::atomic<bool> hw_follows_end_{true};  // set by replication while appends run
  std::unique_ptr<LeaderEpochCache> epochs_;
  std::unique_ptr<ProducerStateManager> producers_ ABSL_GUARDED_BY(append_mu_);
  std::vector<LogProblem> problems_;
  bool read_only_ = false;
  std::function<absl::Status()> checkpoint_now_;
};

// The bytes of a slice (one pread loop); DataLoss when the file is shorter than the slice.
absl::StatusOr<std::string> ReadSliceBytes(const FileSlice& slice);

// Removes `<base>.{log,index,timeindex}.{cleaned,swap}` in `dir` (an abandoned cleaning).
void RemoveCleanedFiles(FileSystem* fs, const std::string& dir, Offset base);

class RecordBatchView;
// Reads the batches of `log` from the one holding `from` up to `up_to` (exclusive),
// `chunk_bytes` at a time, checks each CRC and calls fn on each in offset order (the first may
// start before `from`). Stops at the first error, fn's included. For replaying internal topics
// (__consumer_offsets) and tools.
absl::Status ForEachBatch(const Log& log, Offset from, Offset up_to,
                          const std::function<absl::Status(const RecordBatchView&)>& fn,
                          uint64_t chunk_bytes = 1 << 20);

}  // namespace strata
