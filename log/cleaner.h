// Log compaction (Kafka's LogCleaner, one pass over one partition): keep at least the latest
// record of every key in [log start, end of the cleanable range), drop tombstones once their
// delete horizon has passed, and swap the rewritten segments in crash-safely.
//
//   Cleaner cleaner(clock, {.dedupe_buffer_bytes = 128 << 20});
//   ASSIGN_OR_RETURN(CleanableRange range, CleanableRangeOf(*log, first_dirty, clock->NowMs()));
//   ASSIGN_OR_RETURN(CleanStats stats, cleaner.Clean(*log, range));
//   // stats.next_dirty is where the next cleaning starts (the cleaner-offset-checkpoint).
//
// A pass:
//  1. Offset map: reads the dirty section [first_dirty, end) and records, per key digest (XXH3
//     128-bit of the key bytes), the offset of its latest record (log/offset_map.h). When the
//     map fills before `end`, the pass stops at the last whole segment that fit and cleans up to
//     there; the caller's next round continues from next_dirty ("several passes").
//  2. Rewrite: segments [log start, pass end) are read in groups whose combined size fits
//     segment.bytes (and their indexes segment.index.bytes), so small cleaned segments merge
//     into one. A record is kept when its key has no later offset in the map, or it has no key.
//     A tombstone (null value) is kept until its batch's delete horizon passes: the first pass
//     that keeps it rewrites its batch with the horizon now + delete.retention.ms in
//     baseTimestamp and attribute bit 6 (KIP-534); a later pass after the horizon drops it.
//     Batches whose records are all kept, and control batches, are copied byte for byte. A
//     rewritten batch keeps its base offset, lastOffsetDelta, partition leader epoch, producer id,
//     epoch and base sequence, timestamps and timestamp type, and is re-compressed with its own
//     codec. A batch that is the latest of an idempotent producer is copied whole, so the
//     producer's sequence state survives any replay. Empty batches are dropped.
//  3. Swap (Log::ReplaceSegments): `<base>.log.cleaned` (+ .index/.timeindex) written and
//     fsynced, renamed to `.swap` (.log last: it is the commit point), the old segments deleted,
//     the `.swap` files renamed to their final names, the directory fsynced, then the new segment
//     list published. Log::Open completes a swap whose `.log.swap` exists and rolls back one
//     whose `.cleaned` files remain (see log_loader.cc). Readers holding the old segments keep
//     reading them through their open files.
//
// I/O is throttled (bytes read + written per second) when `io_max_bytes_per_second` is set.
// Not thread-safe: one Cleaner per cleaner thread; a Log must be cleaned by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/types.h"
#include "log/log.h"

namespace strata {

class OffsetMap;
class RecordBatchView;

struct CleanerOptions {
  uint64_t dedupe_buffer_bytes = 128ull << 20;  // log.cleaner.dedupe.buffer.size (this thread's)
  double dedupe_load_factor = 0.9;              // log.cleaner.io.buffer.load.factor
  double io_max_bytes_per_second = 0;           // log.cleaner.io.max.bytes.per.second; 0 = off
  uint64_t io_buffer_bytes = 1 << 20;           // read chunk
  bool dry_run = false;  // compute the stats of a clean, change nothing (strata log compact)
};

// What a log offers for cleaning now (see CleanableRangeOf).
struct CleanableRange {
  Offset first_dirty;        // the dirty section starts here (max of checkpoint and log start)
  Offset end;                // first uncleanable offset: active segment base or min.compaction.lag
  uint64_t clean_bytes = 0;  // bytes of segments below first_dirty
  uint64_t dirty_bytes = 0;  // bytes of segments in [first_dirty, end)
  // dirty / (clean + dirty); 0 when there is nothing to clean.
  double dirty_ratio() const {
    uint64_t total = clean_bytes + dirty_bytes;
    return total == 0 ? 0.0 : static_cast<double>(dirty_bytes) / static_cast<double>(total);
  }
  // max.compaction.lag.ms: the oldest dirty record waited longer than that; clean regardless of
  // the dirty ratio.
  bool overdue = false;
  // Set by the caller when a delete horizon it was told about (CleanStats::next_horizon_ms) has
  // passed: Clean then rewrites the cleaned section even with nothing dirty, dropping the
  // tombstones whose horizon passed.
  bool tombstones_due = false;
};

// The cleanable range of `log` given the checkpointed first dirty offset (Offset(0) when none),
// honouring min.compaction.lag.ms / max.compaction.lag.ms at `now_ms`. Never includes the
// active segment. Segments are counted whole (a segment straddling first_dirty is dirty).
absl::StatusOr<CleanableRange> CleanableRangeOf(const Log& log, Offset first_dirty, int64_t now_ms);

struct CleanStats {
  Offset next_dirty;        // the first offset not yet cleaned: the new checkpoint
  int segments_before = 0;  // segments rewritten
  int segments_after = 0;   // segments that replaced them
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
  uint64_t keys = 0;       // distinct key digests in the offset map (last pass)
  uint64_t map_bytes = 0;  // memory of the offset map
  int64_t records_read = 0;
  int64_t records_kept = 0;
  int64_t tombstones_dropped = 0;
  int64_t batches_copied = 0;     // kept verbatim
  int64_t batches_rewritten = 0;  // re-encoded (records dropped or a horizon set)
  int passes = 0;
  int64_t duration_ms = 0;
  bool nothing_to_do = false;  // the range was empty
  // The earliest delete horizon of a tombstone still in the cleaned section (INT64_MAX: none):
  // once it passes, a clean with tombstones_due set drops it even if nothing new was written.
  int64_t next_horizon_ms = INT64_MAX;
};

class Cleaner {
 public:
  Cleaner(Clock* clock, CleanerOptions options);
  ~Cleaner();

  // Cleans `log` over `range` (from CleanableRangeOf), running passes until the dirty section
  // up to range.end is consumed or `stop` returns true (checked between segments and passes).
  // `progress(done_bytes, total_bytes)` is called as segments are read (tools' progress bar).
  // Errors leave the log as it was (files of an unfinished swap are removed) and name the cause.
  absl::StatusOr<CleanStats> Clean(
      Log& log, const CleanableRange& range, const std::function<bool()>& stop = nullptr,
      const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

  // Bytes read and written so far (throttling, metrics).
  uint64_t io_bytes() const { return io_bytes_; }

 private:
  using BatchFn = std::function<absl::Status(const RecordBatchView&)>;
  using Progress = std::function<void(uint64_t, uint64_t)>;
  struct GroupOutput;

  // Calls fn on every batch of `seg` in order, reading io_buffer_bytes at a time (throttled);
  // a batch that fails its framing (or its CRC, when `verify_crc`) is DataLoss. The map pass
  // skips the CRC: every batch it reads is read again, CRC-checked, by the rewrite.
  absl::Status ForEachBatchIn(const Segment& seg, const BatchFn& fn, bool verify_crc = true);
  absl::StatusOr<uint64_t> CountRecords(const SegmentList& segs);
  // Puts the keys of `batch`'s records at or after `from`; sets *full when the map refuses one.
  absl::Status PutKeys(const RecordBatchView& batch, Offset from, bool* full);
  // Fills the map from the dirty section starting at `from`; returns where the pass ends (a
  // segment boundary <= end).
  absl::StatusOr<Offset> BuildMap(const Log& log, Offset from, Offset end, CleanStats* stats,
                                  const Progress& progress);
  // Rewrites every segment below pass_end, a group at a time.
  absl::Status RewritePass(Log& log, Offset pass_end, CleanStats* stats,
                           const std::function<bool()>& stop, const Progress& progress);
  absl::Status CleanGroup(Log& log, const SegmentList& group, CleanStats* stats);
  // Decides a batch's fate and appends what is kept to `out` (nullptr in a dry run).
  absl::Status FilterBatch(const RecordBatchView& batch, GroupOutput& out, CleanStats* stats);
  void Throttle(uint64_t bytes);

  Clock* clock_;
  CleanerOptions options_;
  std::unique_ptr<OffsetMap> map_;
  uint64_t io_bytes_ = 0;
  int64_t throttle_start_ns_ = 0;
  uint64_t throttle_bytes_ = 0;
  int64_t pass_horizon_ms_ = INT64_MAX;  // earliest horizon among tombstones this pass kept
  uint64_t progress_done_ = 0;
  uint64_t progress_total_ = 0;
};

}  // namespace strata
