// Cleaner: the cleanable range, the passes and the offset map (log/cleaner.h). The rewrite of
// segment groups is in cleaner_rewrite.cc.
#include "log/cleaner.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/offset_map.h"
#include "log/record_batch.h"

namespace strata {

absl::StatusOr<CleanableRange> CleanableRangeOf(const Log& log, Offset first_dirty,
                                                int64_t now_ms) {
  auto list = log.segments();
  LogConfig c = log.config();
  CleanableRange r;
  r.first_dirty = std::max(first_dirty, log.log_start_offset());
  r.end = list->back()->base_offset();
  for (size_t i = 0; i + 1 < list->size(); ++i) {
    const Segment& seg = *(*list)[i];
    // min.compaction.lag.ms: a segment holding a record younger than the lag stays dirty.
    TimestampMs newest =
        seg.max_timestamp() != kNoTimestamp ? seg.max_timestamp() : seg.created_ms();
    if (c.min_compaction_lag_ms > 0 && newest > now_ms - c.min_compaction_lag_ms) {
      r.end = seg.base_offset();
      break;
    }
  }
  for (size_t i = 0; i + 1 < list->size(); ++i) {
    const Segment& seg = *(*list)[i];
    if (seg.base_offset() >= r.end) break;
    if (seg.next_offset() <= r.first_dirty) {
      r.clean_bytes += seg.size_bytes();
      continue;
    }
    if (r.dirty_bytes == 0 && c.max_compaction_lag_ms != LogConfig::kNever) {
      TimestampMs oldest = seg.first_batch_timestamp() != kNoTimestamp ? seg.first_batch_timestamp()
                                                                       : seg.created_ms();
      r.overdue = !seg.empty() && oldest < now_ms - c.max_compaction_lag_ms;
    }
    r.dirty_bytes += seg.size_bytes();
  }
  if (r.first_dirty >= r.end) r.dirty_bytes = 0;
  if (r.dirty_bytes == 0) r.overdue = false;
  return r;
}

Cleaner::Cleaner(Clock* clock, CleanerOptions options)
    : clock_(clock),
      options_(options),
      map_(std::make_unique<OffsetMap>(options.dedupe_buffer_bytes, options.dedupe_load_factor)) {}

Cleaner::~Cleaner() = default;

void Cleaner::Throttle(uint64_t bytes) {
  io_bytes_ += bytes;
  if (options_.io_max_bytes_per_second <= 0) return;
  int64_t now = clock_->MonotonicNanos();
  if (throttle_start_ns_ == 0 || now - throttle_start_ns_ > 1'000'000'000) {
    throttle_start_ns_ = now;  // a fresh window each second
    throttle_bytes_ = 0;
  }
  throttle_bytes_ += bytes;
  auto due_ns = static_cast<int64_t>(static_cast<double>(throttle_bytes_) * 1e9 /
                                     options_.io_max_bytes_per_second);
  if (int64_t ahead = due_ns - (now - throttle_start_ns_); ahead > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(ahead));
  }
}

absl::Status Cleaner::ForEachBatchIn(const Segment& seg, const BatchFn& fn, bool verify_crc) {
  const uint64_t size = seg.size_bytes();
  std::string buf;
  for (uint64_t pos = 0; pos < size;) {
    uint64_t want = std::min<uint64_t>(options_.io_buffer_bytes, size - pos);
    RETURN_IF_ERROR(seg.ReadBytes(pos, want, &buf));
    auto bytes = AsBytes(buf);
    size_t off = 0;
    while (bytes.size() - off >= batch_format::kLogOverhead) {
      ASSIGN_OR_RETURN(size_t n, RecordBatchView::PeekSize(bytes.subspan(off)));
      if (n > bytes.size() - off) {
        if (off > 0) break;
        // One batch larger than the buffer: read it whole.
        if (n > size - pos)
          return absl::DataLossError(
              absl::StrCat(seg.log_path(), ": batch at ", pos, " runs past the end"));
        RETURN_IF_ERROR(seg.ReadBytes(pos, n, &buf));
        bytes = AsBytes(buf);
      }
      auto view = verify_crc ? RecordBatchView::Parse(bytes.subspan(off, n))
                             : RecordBatchView::ParseNoCrc(bytes.subspan(off, n));
      if (!view.ok()) {
        return absl::DataLossError(
            absl::StrCat(seg.log_path(), ": batch at ", pos + off, ": ", view.status().message()));
      }
      RETURN_IF_ERROR(fn(*view));
      off += n;
    }
    if (off == 0) return absl::DataLossError(absl::StrCat(seg.log_path(), ": torn batch at ", pos));
    Throttle(off);
    pos += off;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Cleaner::CountRecords(const SegmentList& segs) {
  uint64_t records = 0;
  for (const auto& seg : segs) {
    RETURN_IF_ERROR(seg->ScanBatches(FilePosition(0), [&](const BatchSummary& b) {
      records += static_cast<uint64_t>(std::max(b.record_count, 0));
      return true;
    }));
  }
  return records;
}

// The segments with data in [from, end), not the active one.
static SegmentList SegmentsIn(const SegmentList& list, Offset from, Offset end) {
  SegmentList out;
  for (size_t i = 0; i + 1 < list.size(); ++i) {
    const auto& seg = list[i];
    if (seg->base_offset() >= end) break;
    if (seg->next_offset() > from) out.push_back(seg);
  }
  return out;
}

absl::Status Cleaner::PutKeys(const RecordBatchView& batch, Offset from, bool* full) {
  ASSIGN_OR_RETURN(RecordReader reader, batch.Records());
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&r));
    if (!more) return absl::OkStatus();
    if (r.key.has_value() && r.offset >= from.value() && !map_->Put(*r.key, Offset(r.offset))) {
      *full = true;
      return absl::OkStatus();
    }
  }
}

absl::StatusOr<Offset> Cleaner::BuildMap(const Log& log, Offset from, Offset end, CleanStats* stats,
                                         const Progress& progress) {
  SegmentList dirty = SegmentsIn(*log.segments(), from, end);
  ASSIGN_OR_RETURN(uint64_t records, CountRecords(dirty));
  map_->Reset(from, records);
  Offset pass_end = from;
  for (const auto& seg : dirty) {
    if (seg->next_offset().value() - from.value() >= OffsetMap::max_span()) break;
    bool full = false;
    RETURN_IF_ERROR(ForEachBatchIn(
        *seg,
        [&](const RecordBatchView& batch) -> absl::Status {
          if (batch.is_control() || full) return absl::OkStatus();
          absl::Status s = PutKeys(batch, from, &full);
          if (s.ok() || batch.CrcMatches()) return s;
          // Records that do not decode because the CRC was not checked: corruption.
          return absl::DataLossError(absl::StrCat(seg->log_path(), ": batch at offset ",
                                                  batch.base_offset().value(), " fails its CRC"));
        },
        /*verify_crc=*/false));
    // A segment only partly in the map ends the pass before it. What it did put is still
    // true (those records exist), so it only makes the rewrite drop more.
    if (full) break;
    pass_end = std::min(end, seg->next_offset());
    progress_done_ += seg->size_bytes();
    if (progress) progress(progress_done_, progress_total_);
  }
  stats->keys = map_->size();
  stats->map_bytes = map_->memory_bytes();
  if (pass_end == from) {
    return absl::ResourceExhaustedError(absl::StrCat(
        log.dir(), ": the dedupe buffer (", options_.dedupe_buffer_bytes,
        " bytes) cannot hold the keys of one segment; raise log.cleaner.dedupe.buffer.size"));
  }
  // The next segment's base, so offset gaps after the last record count as cleaned.
  for (const auto& seg : *log.segments()) {
    if (seg->base_offset() >= pass_end) {
      pass_end = std::min(end, seg->base_offset());
      break;
    }
  }
  return pass_end;
}

absl::StatusOr<CleanStats> Cleaner::Clean(Log& log, const CleanableRange& range,
                                          const std::function<bool()>& stop,
                                          const Progress& progress) {
  CleanStats stats;
  stats.next_dirty = range.first_dirty;
  bool has_dirty = range.first_dirty < range.end && range.dirty_bytes > 0;
  if (!has_dirty && !(range.tombstones_due && range.clean_bytes > 0)) {
    stats.nothing_to_do = true;
    return stats;
  }
  int64_t start = clock_->MonotonicNanos();
  // Only flushed data is rewritten: recovery never re-examines (and cuts) cleaned segments.
  if (!options_.dry_run) RETURN_IF_ERROR(log.Flush(range.end));
  progress_done_ = 0;
  progress_total_ = range.dirty_bytes + range.clean_bytes + range.dirty_bytes;
  if (!has_dirty) {
    // Only tombstones to drop: an empty map keeps every record but them.
    Offset clean_end = std::min(range.first_dirty, range.end);
    map_->Reset(clean_end, 0);
    RETURN_IF_ERROR(RewritePass(log, clean_end, &stats, stop, progress));
    stats.passes = 1;
    if (!options_.dry_run) stats.next_horizon_ms = pass_horizon_ms_;
  }
  for (Offset dirty = range.first_dirty; dirty < range.end && !(stop && stop());) {
    ASSIGN_OR_RETURN(Offset pass_end, BuildMap(log, dirty, range.end, &stats, progress));
    RETURN_IF_ERROR(RewritePass(log, pass_end, &stats, stop, progress));
    if (stop && stop()) break;  // the pass may be incomplete: the checkpoint stays
    ++stats.passes;
    dirty = pass_end;
    stats.next_dirty = dirty;
    // The earliest horizon is what the last pass (which rewrote everything below) saw.
    if (!options_.dry_run) stats.next_horizon_ms = pass_horizon_ms_;
    if (options_.dry_run) break;  // later passes would read what this one did not write
  }
  stats.duration_ms = (clock_->MonotonicNanos() - start) / 1'000'000;
  LOG_EVENT(Info, "log.cleaned")
      .Kv("dir", log.dir())
      .Kv("passes", stats.passes)
      .Kv("segments", absl::StrCat(stats.segments_before, "->", stats.segments_after))
      .Kv("bytes", absl::StrCat(stats.bytes_before, "->", stats.bytes_after))
      .Kv("keys", stats.keys)
      .Kv("records_kept", absl::StrCat(stats.records_kept, "/", stats.records_read))
      .Kv("tombstones_dropped", stats.tombstones_dropped)
      .Kv("next_dirty", stats.next_dirty.value())
      .Kv("ms", stats.duration_ms)
      .Kv("dry_run", options_.dry_run);
  return stats;
}

}  // namespace strata
