// Log: the lock-free read side (fetch, ListOffsets).
#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace strata {
namespace {

// Index of the segment that may hold `offset`: the last one whose base offset is <= it.
size_t FloorSegment(const SegmentList& list, Offset offset) {
  auto it = std::upper_bound(
      list.begin(), list.end(), offset,
      [](Offset o, const std::shared_ptr<Segment>& s) { return o < s->base_offset(); });
  return it == list.begin() ? 0 : static_cast<size_t>(it - list.begin() - 1);
}

// The first record at or after `from` in `seg` (whose batch summary is given) that satisfies
// `match`, decoding batches one at a time.
template <typename Match>
absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> FirstRecord(const Segment& seg,
                                                                          FilePosition from,
                                                                          Offset min_offset,
                                                                          Match&& match) {
  std::optional<std::pair<TimestampMs, Offset>> found;
  absl::Status inner;
  std::string bytes;
  RETURN_IF_ERROR(seg.ScanBatches(from, [&](const BatchSummary& s) {
    if (s.last_offset < min_offset) return true;
    inner = seg.ReadBytes(s.position.value(), s.size_bytes, &bytes);
    if (!inner.ok()) return false;
    auto view = RecordBatchView::ParseNoCrc(AsBytes(bytes));
    if (!view.ok()) {
      inner = view.status();
      return false;
    }
    if (view->is_control()) return true;
    auto records = view->Records();
    if (!records.ok()) {
      inner = records.status();
      return false;
    }
    Record r;
    while (true) {
      auto more = records->Next(&r);
      if (!more.ok()) {
        inner = more.status();
        return false;
      }
      if (!*more) return true;
      if (Offset(r.offset) >= min_offset && match(r.timestamp)) {
        found = std::make_pair(r.timestamp, Offset(r.offset));
        return false;
      }
    }
  }));
  RETURN_IF_ERROR(inner);
  return found;
}

}  // namespace

absl::StatusOr<ReadResult> Log::Read(Offset offset, uint64_t max_bytes, Offset max_offset,
                                     bool min_one_batch) const {
  // A truncation (followers only) cuts the active segment in place: a scan that overlapped one
  // may see a short file or bytes of a newer batch. Such a failure is retried; one that happens
  // with no truncation around it is real.
  // Truncations are rare (a follower after a leader change), so waiting one out is fine.
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    uint64_t seq = truncation_seq_.load(std::memory_order_acquire);
    auto r = ReadOnce(offset, max_bytes, max_offset, min_one_batch);
    if (r.ok() || absl::IsOutOfRange(r.status()) || attempt == kAttempts) return r;
    if ((seq & 1) == 0 && truncation_seq_.load(std::memory_order_acquire) == seq) return r;
    for (int spins = 0; (truncation_seq_.load(std::memory_order_acquire) & 1) != 0; ++spins) {
      if (spins > 20'000) return r;  // ~1 s: a truncation stuck in I/O; report what we saw
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

absl::StatusOr<ReadResult> Log::ReadOnce(Offset offset, uint64_t max_bytes, Offset max_offset,
                                         bool min_one_batch) const {
  ReadResult result;
  // Order matters: the end offset first, then the segments, so every byte below it is visible.
  result.log_end_offset = log_end_offset();
  result.high_watermark = high_watermark();
  result.log_start_offset = log_start_offset();
  auto list = segments();
  if (offset < result.log_start_offset || offset > result.log_end_offset) {
    return absl::OutOfRangeError(absl::StrCat("offset ", offset.value(), " is outside [",
                                              result.log_start_offset.value(), ", ",
                                              result.log_end_offset.value(), "]"));
  }
  max_offset = std::min(max_offset, result.log_end_offset);
  if (offset >= max_offset) return result;
  for (size_t i = FloorSegment(*list, offset); i < list->size(); ++i) {
    const Segment& seg = *(*list)[i];
    ASSIGN_OR_RETURN(auto start, seg.FindBatchStart(offset));
    if (!start.has_value()) continue;  // nothing at or after `offset` here; try the next one
    ASSIGN_OR_RETURN(Segment::Range range,
                     seg.ReadRange(FilePosition(*start), max_bytes, max_offset, min_one_batch));
    result.slice = std::move(range.slice);
    return result;
  }
  return result;
}

absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> Log::FindOffsetByTimestamp(
    TimestampMs ts) const {
  auto list = segments();
  Offset start = log_start_offset();
  for (const auto& seg : *list) {
    if (seg->next_offset() <= start || seg->max_timestamp() < ts) continue;
    ASSIGN_OR_RETURN(auto batch, seg->FindBatchByTimestamp(ts));
    if (!batch.has_value()) continue;
    ASSIGN_OR_RETURN(auto found, FirstRecord(*seg, batch->position, start,
                                             [ts](TimestampMs t) { return t >= ts; }));
    if (found.has_value()) return found;
  }
  return std::optional<std::pair<TimestampMs, Offset>>();
}

absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> Log::FindMaxTimestamp() const {
  auto list = segments();
  Offset start = log_start_offset();
  const Segment* best = nullptr;
  for (const auto& seg : *list) {
    if (seg->empty() || seg->next_offset() <= start) continue;
    if (best == nullptr || seg->max_timestamp() > best->max_timestamp()) best = seg.get();
  }
  if (best == nullptr) return std::optional<std::pair<TimestampMs, Offset>>();
  TimestampMs max = best->max_timestamp();
  return FirstRecord(*best, FilePosition(0), start, [max](TimestampMs t) { return t == max; });
}

absl::StatusOr<std::string> ReadSliceBytes(const FileSlice& slice) {
  std::string out(slice.length, '\0');
  uint64_t done = 0;
  while (done < slice.length) {
    ASSIGN_OR_RETURN(size_t n, slice.file->ReadAt(slice.position + done,
                                                  {reinterpret_cast<uint8_t*>(out.data()) + done,
                                                   static_cast<size_t>(slice.length - done)}));
    if (n == 0) {
      return absl::DataLossError(absl::StrCat("short read at ", slice.position + done));
    }
    done += n;
  }
  return out;
}

absl::Status ForEachBatch(const Log& log, Offset from, Offset up_to,
                          const std::function<absl::Status(const RecordBatchView&)>& fn,
                          uint64_t chunk_bytes) {
  Offset next = std::max(from, log.log_start_offset());
  while (next < up_to) {
    ASSIGN_OR_RETURN(ReadResult r, log.Read(next, chunk_bytes, up_to));
    if (r.slice.length == 0) break;
    ASSIGN_OR_RETURN(std::string bytes, ReadSliceBytes(r.slice));
    std::span<const uint8_t> rest = AsBytes(bytes);
    while (!rest.empty()) {
      ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::Parse(rest));
      RETURN_IF_ERROR(fn(view));
      next = view.last_offset() + 1;
      rest = rest.subspan(view.size_bytes());
    }
  }
  return absl::OkStatus();
}

}  // namespace strata
