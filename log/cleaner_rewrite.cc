// Cleaner: rewriting segment groups (log/cleaner.h, step 2) and handing them to the swap.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "log/batch_builder.h"
#include "log/cleaner.h"
#include "log/offset_map.h"
#include "log/record_batch.h"

namespace strata {

struct Cleaner::GroupOutput {
  Segment* segment = nullptr;  // nullptr: dry run
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 0;
  // Per idempotent producer, the last offset of its latest batch: that batch is kept whole.
  std::map<int64_t, Offset> producer_last;
  uint64_t bytes = 0;
};

namespace {

// Consecutive segments that fit one segment together (Kafka's groupSegmentsBySize).
std::vector<SegmentList> GroupSegments(const SegmentList& segs, const LogConfig& c) {
  std::vector<SegmentList> groups;
  for (size_t i = 0; i < segs.size();) {
    SegmentList group{segs[i]};
    uint64_t bytes = segs[i]->size_bytes();
    uint64_t index_bytes = segs[i]->offset_index().file_bytes();
    for (++i; i < segs.size(); ++i) {
      const Segment& next = *segs[i];
      bool fits = bytes + next.size_bytes() <= c.segment_bytes &&
                  index_bytes + next.offset_index().file_bytes() <= c.segment_index_bytes &&
                  next.next_offset().value() - group.front()->base_offset().value() < INT32_MAX;
      if (!fits) break;
      bytes += next.size_bytes();
      index_bytes += next.offset_index().file_bytes();
      group.push_back(segs[i]);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

std::vector<HeaderField> CopyHeaders(const Record& r) {
  std::vector<HeaderField> out;
  out.reserve(r.headers.size());
  for (const auto& h : r.headers) {
    HeaderField f{std::string(AsStringView(h.key)), std::nullopt};
    if (h.value.has_value()) f.value = std::string(AsStringView(*h.value));
    out.push_back(std::move(f));
  }
  return out;
}

std::optional<absl::string_view> View(const std::optional<std::span<const uint8_t>>& bytes) {
  if (!bytes.has_value()) return std::nullopt;
  return AsStringView(*bytes);
}

absl::Status Append(Segment* out, std::span<const uint8_t> batch, uint64_t* bytes) {
  *bytes += batch.size();
  if (out == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(BatchSummary summary, ParseSummary(batch, FilePosition(0)));
  return out->Append(batch, summary);
}

}  // namespace

absl::Status Cleaner::FilterBatch(const RecordBatchView& batch, GroupOutput& out,
                                  CleanStats* stats) {
  auto producer = out.producer_last.find(batch.producer_id());
  bool latest_of_producer =
      producer != out.producer_last.end() && producer->second == batch.last_offset();
  if (batch.is_control() || latest_of_producer) {
    ++stats->batches_copied;
    stats->records_read += batch.record_count();
    stats->records_kept += batch.record_count();
    return Append(out.segment, batch.bytes(), &out.bytes);
  }
  ASSIGN_OR_RETURN(RecordReader reader, batch.Records());
  const bool horizon_passed = batch.has_delete_horizon() && out.now_ms >= batch.base_timestamp();
  std::vector<Record> kept;
  bool all_kept = true, needs_horizon = false, has_tombstone = false;
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&r));
    if (!more) break;
    ++stats->records_read;
    bool keep = true;
    if (r.key.has_value()) {
      std::optional<Offset> latest = map_->Get(*r.key);
      keep = !latest.has_value() || latest->value() <= r.offset;
    }
    if (keep && !r.value.has_value()) {  // a tombstone that is still the latest
      if (horizon_passed) {
        keep = false;
        ++stats->tombstones_dropped;
      } else {
        needs_horizon = !batch.has_delete_horizon();
      }
    }
    all_kept &= keep;
    has_tombstone |= keep && !r.value.has_value();
    if (keep) kept.push_back(r);
  }
  stats->records_kept += static_cast<int64_t>(kept.size());
  if (kept.empty()) return absl::OkStatus();
  if (needs_horizon || (batch.has_delete_horizon() && has_tombstone)) {
    pass_horizon_ms_ =
        std::min(pass_horizon_ms_,
                 needs_horizon ? out.now_ms + out.delete_retention_ms : batch.base_timestamp());
  }
  if (all_kept && !needs_horizon) {
    ++stats->batches_copied;
    return Append(out.segment, batch.bytes(), &out.bytes);
  }
  BatchOptions o{.compression = batch.compression(),
                 .timestamp_type = batch.timestamp_type(),
                 .base_offset = batch.base_offset(),
                 .partition_leader_epoch = batch.partition_leader_epoch(),
                 .producer_id = batch.producer_id(),
                 .producer_epoch = batch.producer_epoch(),
                 .base_sequence = batch.base_sequence(),
                 .transactional = batch.is_transactional()};
  if (batch.has_delete_horizon()) {
    o.delete_horizon_ms = batch.base_timestamp();
  } else if (needs_horizon) {
    o.delete_horizon_ms = out.now_ms + out.delete_retention_ms;
  }
  RecordBatchBuilder builder(o);
  for (const Record& k : kept) {
    builder.AddWithOffsetDelta(k.offset_delta, View(k.key), View(k.value), k.timestamp,
                               CopyHeaders(k));
  }
  ASSIGN_OR_RETURN(std::string rebuilt, builder.Build(batch.last_offset_delta()));
  ++stats->batches_rewritten;
  return Append(out.segment, AsBytes(rebuilt), &out.bytes);
}

absl::Status Cleaner::CleanGroup(Log& log, const SegmentList& group, CleanStats* stats) {
  const Offset base = group.front()->base_offset();
  LogConfig c = log.config();
  GroupOutput out{.now_ms = clock_->NowMs(), .delete_retention_ms = c.delete_retention_ms};
  for (const auto& [pid, entry] : log.producer_state()) {
    if (!entry.batches.empty()) out.producer_last[pid] = entry.batches.back().last_offset;
  }
  std::unique_ptr<Segment> segment;
  if (!options_.dry_run) {
    RemoveCleanedFiles(log.fs(), log.dir(), base);  // an earlier attempt's leftovers
    ASSIGN_OR_RETURN(segment,
                     Segment::Create(log.fs(), log.dir(), base, log.segment_options(), ".cleaned"));
    out.segment = segment.get();
  }
  absl::Status s;
  for (const auto& seg : group) {
    s = ForEachBatchIn(*seg, [&](const RecordBatchView& b) { return FilterBatch(b, out, stats); });
    if (!s.ok()) break;
    stats->bytes_before += seg->size_bytes();
  }
  if (s.ok() && segment != nullptr) {
    s = segment->Seal();
    if (s.ok()) s = segment->SyncLog();
    if (s.ok()) s = segment->SyncIndexes();
  }
  Throttle(out.bytes);
  segment.reset();                                                  // closes the .cleaned files
  if (s.ok() && !options_.dry_run) s = log.ReplaceSegments(group);  // cleans up on failure
  if (!s.ok()) {
    if (!options_.dry_run) RemoveCleanedFiles(log.fs(), log.dir(), base);
    return s;
  }
  stats->segments_before += static_cast<int>(group.size());
  stats->segments_after += 1;
  stats->bytes_after += out.bytes;
  return absl::OkStatus();
}

absl::Status Cleaner::RewritePass(Log& log, Offset pass_end, CleanStats* stats,
                                  const std::function<bool()>& stop, const Progress& progress) {
  pass_horizon_ms_ = INT64_MAX;
  SegmentList segs;
  auto list = log.segments();
  for (size_t i = 0; i + 1 < list->size() && (*list)[i]->base_offset() < pass_end; ++i) {
    segs.push_back((*list)[i]);
  }
  for (const SegmentList& group : GroupSegments(segs, log.config())) {
    if (stop && stop()) return absl::OkStatus();
    RETURN_IF_ERROR(CleanGroup(log, group, stats));
    for (const auto& seg : group) progress_done_ += seg->size_bytes();
    if (progress) progress(std::min(progress_done_, progress_total_), progress_total_);
  }
  return absl::OkStatus();
}

}  // namespace strata
