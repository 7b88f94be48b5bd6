// One segment of a partition log: `<base>.log` (RecordBatch v2 bytes back to back) with its sparse
// `<base>.index` and `<base>.timeindex`, where <base> is the 20-digit base offset.
//
// Writer side (one thread at a time; the Log's append lock): Append, Seal, Reactivate, Recover,
// TruncateTo, WriteIndexes. Reader side (any thread, no lock): size_bytes, next_offset, Translate,
// ReadRange, FindOffsetByTimestamp, ScanBatches. Readers never see bytes past size_bytes(),
// which the writer publishes (release) only after the bytes and the index entries that point at
// them are in place.
//
// Durability: Append leaves data in the page cache; SyncLog() makes it durable (fdatasync).
// Index files are hints: WriteIndexes/Seal store them, recovery rebuilds them when they fail the
// sanity check.
//
// Lifetime: readers hold a std::shared_ptr<Segment> (from the Log's segment snapshot) and
// FileSlices hold the .log File, so deleting a segment never pulls a file from under a read.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"
#include "index/offset_index.h"
#include "index/time_index.h"
#include "log/batch_format.h"

namespace strata {

struct SegmentOptions {
  uint64_t max_index_bytes = 10 * 1024 * 1024;  // segment.index.bytes
  uint32_t index_interval_bytes = 4096;         // index.interval.bytes
};

// A byte range of a segment file, ready for sendfile(2): file->native_handle(), position, length.
struct FileSlice {
  std::shared_ptr<File> file;
  uint64_t position = 0;
  uint64_t length = 0;
};

// What a scan needs of a batch: its 61-byte header, without the CRC or the records.
struct BatchSummary {
  FilePosition position;
  Offset base_offset;
  Offset last_offset;
  uint32_t size_bytes = 0;
  LeaderEpoch leader_epoch;
  int64_t max_timestamp = kNoTimestamp;
  int8_t magic = 0;
  int16_t attributes = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;
  bool is_transactional() const { return attributes & batch_format::kTransactionalBit; }
  bool is_control() const { return attributes & batch_format::kControlBit; }
  // The sequence of the batch's last record (sequences wrap at INT32_MAX).
  int32_t last_sequence() const;
};
inline constexpr size_t kSummaryHeaderBytes = batch_format::kHeaderSize;

// Outcome of Segment::Recover.
struct SegmentRecovery {
  uint64_t scanned_from = 0;   // where validation started (0 unless a flushed prefix was kept)
  uint64_t valid_bytes = 0;    // bytes of whole, valid batches from the start
  uint64_t invalid_bytes = 0;  // bytes after them (torn tail or corruption)
  int64_t batches = 0;
  absl::Status first_error;  // why the scan stopped early (OK if it did not)
  // The first bad batch is incomplete or has an impossible length (what an interrupted write or
  // lost pages leave), as opposed to a complete batch that fails its CRC or magic check.
  bool torn = false;
};

class Segment {
 public:
  static std::string FileName(Offset base_offset, absl::string_view suffix);  // 20 digits

  // Creates empty files (replacing leftovers) for a new active segment. `file_suffix` is
  // appended to the three file names (".cleaned": a segment the cleaner is writing).
  static absl::StatusOr<std::unique_ptr<Segment>> Create(FileSystem* fs, const std::string& dir,
                                                         Offset base_offset,
                                                         const SegmentOptions& options,
                                                         const std::string& file_suffix = "");
  // Opens existing files. kActive preallocates the indexes for appends; kReadOnly opens every
  // file read-only (tools). Missing index files are created empty. The segment is not usable
  // until CheckIndexes() or Recover() has run.
  enum class OpenMode { kReadOnly, kSealed, kActive };
  static absl::StatusOr<std::unique_ptr<Segment>> Open(FileSystem* fs, const std::string& dir,
                                                       Offset base_offset,
                                                       const SegmentOptions& options,
                                                       OpenMode mode);

  Offset base_offset() const { return base_; }
  uint64_t size_bytes() const { return size_.load(std::memory_order_acquire); }
  // One past the last offset in the segment (base_offset when empty).
  Offset next_offset() const { return Offset(next_offset_.load(std::memory_order_acquire)); }
  TimestampMs max_timestamp() const { return max_timestamp_.load(std::memory_order_acquire); }
  // Timestamp of the first batch (kNoTimestamp when empty); segment.ms rolls from it.
  TimestampMs first_batch_timestamp() const { return first_timestamp_; }
  bool empty() const { return size_bytes() == 0; }
  // Wall-clock time the segment was created or opened (segment.ms without timestamps).
  TimestampMs created_ms() const { return created_ms_; }
  void set_created_ms(TimestampMs ms) { created_ms_ = ms; }
  const std::string& log_path() const { return log_->path(); }
  const OffsetIndex& offset_index() const { return *offset_index_; }
  const TimeIndex& time_index() const { return *time_index_; }
  std::shared_ptr<File> log_file() const { return log_; }

  // ---- Writer ----

  // Sanity-checks both indexes against the file and computes next_offset and max_timestamp from
  // the batches after the last index entry (a few KiB, not the whole file). DataLoss/OutOfRange
  // mean the indexes or the tail are bad: run Recover().
  absl::Status CheckIndexes();

  // Appends one batch whose header is final (base offset, epoch, CRC). On error the segment is
  // cut back to its previous size when possible; if even that fails, the bytes past size_bytes()
  // are garbage that the next Append overwrites.
  absl::Status Append(std::span<const uint8_t> batch, const BatchSummary& summary);
  // Whether an append of `batch_bytes` ending at `last_offset` must go to a new segment.
  bool ShouldRoll(uint64_t batch_bytes, Offset last_offset, uint64_t segment_bytes) const;
  // Closes the segment for appends: final time-index entry, index files trimmed and written.
  absl::Status Seal();
  // Makes a sealed segment the active one again (after a truncation removed later segments).
  absl::Status Reactivate();
  // Writes index entries added since the last call (no fsync).
  absl::Status WriteIndexes();
  // fdatasync of the .log file; safe to call from any thread, concurrently with Append.
  absl::Status SyncLog();
  absl::Status SyncIndexes();
  // Removes all batches at or after `offset` (which must be a batch boundary or beyond the
  // segment's end) from the file and indexes. Returns bytes removed.
  absl::StatusOr<uint64_t> TruncateTo(Offset offset);
  // Validates every batch (CRC included) and rebuilds both indexes, scanning from the start, or
  // from the batch holding `trusted_below` when everything before it was flushed and the indexes
  // pass their sanity check (so an unclean restart costs what the unflushed tail costs).
  // Does not cut the file: the caller decides (see SegmentRecovery) and calls TruncateToBytes.
  absl::StatusOr<SegmentRecovery> Recover(Offset trusted_below = Offset::Min());
  absl::Status TruncateToBytes(uint64_t size);
  // Renames `.log` to `.log.deleted` (the crash-safe marker), then removes all three files.
  absl::Status Delete();

  // ---- Readers ----

  // Summary of the first batch whose last offset is >= target, scanning from the index hint.
  // nullopt when no batch in the segment reaches `target`.
  absl::StatusOr<std::optional<BatchSummary>> Translate(Offset target) const;
  // Where the batch holding `target` starts: a remembered batch boundary when there is one
  // (consumers usually fetch exactly where their last fetch ended), else Translate.
  absl::StatusOr<std::optional<uint64_t>> FindBatchStart(Offset target) const;
  // Up to max_bytes of whole batches starting at `start` (a batch position), stopping before
  // the first batch with last offset >= `max_offset`. With `min_one_batch` a first batch larger
  // than max_bytes is returned whole (KIP-74). Remembers where the slice ends as a boundary.
  struct Range {
    FileSlice slice;
    Offset end_offset;  // one past the last offset in the slice
  };
  absl::StatusOr<Range> ReadRange(FilePosition start, uint64_t max_bytes, Offset max_offset,
                                  bool min_one_batch) const;
  // The first batch whose maxTimestamp >= ts, or nullopt.
  absl::StatusOr<std::optional<BatchSummary>> FindBatchByTimestamp(TimestampMs ts) const;
  // Visits batch summaries from `from` to the end (or until `visit` returns false). Reads only
  // headers, a chunk at a time. A malformed header ends the scan with DataLoss.
  absl::Status ScanBatches(FilePosition from,
                           absl::FunctionRef<bool(const BatchSummary&)> visit) const;
  // Reads `length` bytes at `position` into `out` (tools, replication, compaction).
  absl::Status ReadBytes(uint64_t position, uint64_t length, std::string* out) const;

  // Reads and parses the summary of the batch at `position` (which must be below size_bytes()).
  absl::StatusOr<BatchSummary> ReadSummary(FilePosition position) const;

 private:
  Segment(FileSystem* fs, std::string dir, Offset base, SegmentOptions options);
  absl::Status MaybeIndex(const BatchSummary& summary);
  absl::Status CreateIndexes(const std::string& file_suffix);
  absl::Status ComputeTailState(uint64_t end);
  // Batch-boundary hints: (offset relative to base + 1) << 32 | position, 0 = empty. Written by
  // the appender and by readers (where their slices end), one atomic word each, so a reader
  // never sees a torn pair; cleared on truncation.
  // `generation` is boundary_generation_ as the caller read it before computing the boundary
  // from the file: the hint is stored only if no truncation happened since.
  void RememberBoundary(Offset offset, uint64_t position, uint64_t generation) const;
  void ForgetBoundaries();
  std::atomic<uint64_t> boundary_generation_{0};
  static constexpr size_t kBoundarySlots = 16;
  mutable std::array<std::atomic<uint64_t>, kBoundarySlots> boundaries_{};
  uint64_t TrustedPrefix(Offset trusted_below);
  absl::Status ResetIndexes();

  FileSystem* fs_;
  std::string dir_;
  Offset base_;
  SegmentOptions options_;
  std::shared_ptr<File> log_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;

  std::atomic<uint64_t> size_{0};
  std::atomic<int64_t> next_offset_;
  std::atomic<int64_t> max_timestamp_{kNoTimestamp};
  TimestampMs first_timestamp_ = kNoTimestamp;
  TimestampMs created_ms_ = 0;
  // Writer-only state.
  Offset offset_of_max_timestamp_;
  uint64_t bytes_since_index_entry_ = 0;
  bool read_only_ = false;
  bool index_missing_ = false;
};

// Parses a summary from at least kSummaryHeaderBytes bytes; checks length and magic only.
absl::StatusOr<BatchSummary> ParseSummary(std::span<const uint8_t> header, FilePosition position);

}  // namespace strata
