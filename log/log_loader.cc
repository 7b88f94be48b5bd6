// Log::Open: loading a partition directory and recovering it after a crash.
//
// The rules, in order:
//  1. A compaction swap whose `<base>.log.swap` exists was committed: the segments it replaces
//     (bases from <base> to the swap's last offset) are deleted and the `.swap` files take their
//     final names (a missing index is rebuilt below). Then leftovers of interrupted operations are
//     removed: *.tmp (checkpoint writes), *.deleted (segment deletion), *.cleaned and other *.swap
//     files (an uncommitted compaction), and index files without a .log.
//  2. Segments wholly below the recovery point hold flushed data. Their indexes get a sanity
//     check; one that fails is rebuilt by a full scan. If that scan meets a bad batch, the
//     corruption is reported (LogProblem, ERROR line), the segment is served only up to it, and
//     nothing is cut: flushed data is never deleted silently.
//  3. From the recovery point onward every batch is validated (CRC included) and indexes are
//     rebuilt; in the segment holding the recovery point, the flushed prefix keeps its index
//     entries when they pass the sanity check, so the work is proportional to the unflushed tail.
//     The first torn or corrupt batch, or a rolled segment that ends before the next segment begins
//     while every later segment is empty (what losing unsynced pages looks like; with data after
//     it, it is a real offset gap), ends the log: that segment is cut at its last valid batch and
//     later segments are deleted, with a WARN line saying what was dropped. One exception: in a
//     rolled segment, a complete batch that fails its CRC or magic check (corruption, not an
//     interrupted write) is reported and the segment is served up to it, not cut; later segments
//     stay.
//  4. After a clean shutdown everything is below the recovery point (rule 2 only).
//  5. Recovered data is fsynced before the recovery point moves to the log end.
//  6. Segments reported corrupt are listed in `corrupt-segments` ("<base offset> <served bytes>"
//     lines); the next start rescans them instead of trusting their indexes, so a corrupt batch
//     is not served after a restart either.
#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "index/checkpoint_file.h"
#include "log/batch_scanner.h"
#include "log/log.h"

namespace strata {

constexpr char kCorruptListFile[] = "corrupt-segments";

class LogLoader {
 public:
  LogLoader(Log* log, const LogOpenOptions& options) : log_(log), options_(options) {}

  absl::Status Load();

 private:
  absl::StatusOr<std::vector<Offset>> ListSegments();
  // Finishes the committed compaction swap of `<base>.log.swap` (rule 1).
  absl::Status CompleteSwap(Offset base, const std::vector<std::string>& names);
  absl::Status RemoveLeftover(const std::string& name, const char* why);
  absl::Status CheckFlushedSegment(Segment& seg);
  // Returns false when the log ends inside this segment (later segments must go).
  // `later_empty`: every later segment is empty, so a gap before the next one is lost data
  // rather than a real offset gap (a follower's or, later, compaction's).
  absl::StatusOr<bool> RecoverUnflushedSegment(Segment& seg, bool is_last,
                                               std::optional<Offset> next_base, bool later_empty,
                                               Offset trusted_below);
  absl::Status LoadEpochs();
  absl::Status Finish(SegmentList list);
  // Corrupt bytes remain in the active segment's file past what is served: a new active segment
  // (the old one sealed, or moved aside when nothing in it is valid).
  absl::Status ReplaceCorruptActive(SegmentList& list);
  // Segments reported corrupt by an earlier start (`corrupt-segments`): they are rescanned
  // rather than trusted, so the corrupt batch is never served after a restart either.
  absl::StatusOr<std::set<Offset>> ReadCorruptList();
  absl::Status WriteCorruptList(const SegmentList& list);
  void Report(const Segment& seg, uint64_t position, const absl::Status& error);

  Log* log_;
  LogOpenOptions options_;
  SegmentOptions segment_options_;
  bool recovered_ = false;
  std::vector<const Segment*> reported_;
  std::set<Offset> known_corrupt_;
};

absl::Status LogLoader::RemoveLeftover(const std::string& name, const char* why) {
  if (options_.read_only) return absl::OkStatus();
  LOG_EVENT(Info, "log.leftover_removed").Kv("dir", log_->dir_).Kv("file", name).Kv("why", why);
  return log_->fs_->Remove(JoinPath(log_->dir_, name));
}

bool ParseBaseOffset(absl::string_view name, absl::string_view suffix, Offset* out) {
  if (!absl::EndsWith(name, suffix)) return false;
  absl::string_view digits = name.substr(0, name.size() - suffix.size());
  int64_t v;
  if (digits.size() != 20 || !absl::SimpleAtoi(digits, &v) || v < 0) return false;
  *out = Offset(v);
  return true;
}

struct SwapScan {
  std::optional<Offset> last;  // the last offset of its batches, nullopt when it has none
  bool whole = true;           // every byte belongs to a well-framed batch
};

absl::StatusOr<SwapScan> ScanSwap(FileSystem* fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kReadOnly));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  internal::HeaderScanner scanner(*file, size, internal::HeaderScanner::kMaxChunk);
  SwapScan scan;
  for (uint64_t pos = 0; pos < size;) {
    auto summary = scanner.At(pos);
    if (!summary.ok()) {
      scan.whole = false;
      break;
    }
    scan.last = summary->last_offset;
    pos += summary->size_bytes;
  }
  return scan;
}

absl::Status LogLoader::CompleteSwap(Offset base, const std::vector<std::string>& names) {
  FileSystem* fs = log_->fs_;
  const std::string& dir = log_->dir_;
  ASSIGN_OR_RETURN(SwapScan scan,
                   ScanSwap(fs, JoinPath(dir, Segment::FileName(base, ".log.swap"))));
  if (!scan.whole && fs->Exists(JoinPath(dir, Segment::FileName(base, ".log")))) {
    // A swap is fsynced before it is committed, so a malformed one is damage, not a clean
    // swap; while the old segments are all there (the first is deleted first), keep them.
    LOG_EVENT(Warn, "log.swap_discarded")
        .Kv("dir", dir)
        .Kv("base_offset", base.value())
        .Kv("why", "malformed .log.swap while the old segments are intact");
    return RemoveLeftover(Segment::FileName(base, ".log.swap"), "malformed compaction swap");
  }
  Offset end = std::max(base, scan.last.value_or(base));
  for (const auto& name : names) {
    Offset b;
    bool old = (ParseBaseOffset(name, ".log", &b) || ParseBaseOffset(name, ".index", &b) ||
                ParseBaseOffset(name, ".timeindex", &b)) &&
               b >= base && b <= end;
    if (old) RETURN_IF_ERROR(fs->Remove(JoinPath(dir, name)));
  }
  for (const char* ext : {".index", ".timeindex", ".log"}) {
    std::string from = JoinPath(dir, Segment::FileName(base, absl::StrCat(ext, ".swap")));
    if (fs->Exists(from)) {
      RETURN_IF_ERROR(fs->Rename(from, JoinPath(dir, Segment::FileName(base, ext))));
    }
  }
  LOG_EVENT(Info, "log.swap_completed")
      .Kv("dir", dir)
      .Kv("base_offset", base.value())
      .Kv("replaced_through_offset", end.value());
  return fs->SyncDir(dir);
}

absl::StatusOr<std::vector<Offset>> LogLoader::ListSegments() {
  ASSIGN_OR_RETURN(auto names, log_->fs_->ListDir(log_->dir_));
  if (!options_.read_only) {
    std::vector<Offset> swaps;
    for (const auto& name : names) {
      Offset base;
      if (ParseBaseOffset(name, ".log.swap", &base)) swaps.push_back(base);
    }
    for (Offset base : swaps) RETURN_IF_ERROR(CompleteSwap(base, names));
    if (!swaps.empty()) {
      ASSIGN_OR_RETURN(names, log_->fs_->ListDir(log_->dir_));
    }
  }
  std::vector<Offset> bases;
  std::vector<std::string> indexes;
  for (const auto& name : names) {
    Offset base;
    if (ParseBaseOffset(name, ".log", &base)) {
      bases.push_back(base);
    } else if (absl::EndsWith(name, ".snapshot")) {
      // Producer-state snapshots: read later by the ProducerStateManager.
    } else if (absl::EndsWith(name, ".tmp")) {
      RETURN_IF_ERROR(RemoveLeftover(name, "interrupted checkpoint write"));
    } else if (absl::EndsWith(name, ".deleted")) {
      RETURN_IF_ERROR(RemoveLeftover(name, "interrupted segment deletion"));
    } else if (absl::EndsWith(name, ".cleaned") || absl::EndsWith(name, ".swap")) {
      RETURN_IF_ERROR(RemoveLeftover(name, "interrupted compaction"));
    } else if (ParseBaseOffset(name, ".index", &base) ||
               ParseBaseOffset(name, ".timeindex", &base)) {
      indexes.push_back(name);
    }
  }
  std::sort(bases.begin(), bases.end());
  for (const auto& name : indexes) {
    Offset base;
    if (!ParseBaseOffset(name, ".index", &base)) ParseBaseOffset(name, ".timeindex", &base);
    if (!std::binary_search(bases.begin(), bases.end(), base)) {
      RETURN_IF_ERROR(RemoveLeftover(name, "index without a segment"));
    }
  }
  return bases;
}

void LogLoader::Report(const Segment& seg, uint64_t position, const absl::Status& error) {
  log_->problems_.push_back({seg.log_path(), position, std::string(error.message())});
  reported_.push_back(&seg);
  LOG_EVENT(Error, "log.corrupt_segment")
      .Kv("path", seg.log_path())
      .Kv("position", position)
      .Kv("served_until_offset", seg.next_offset().value())
      .Kv("error", error.message());
}

absl::StatusOr<std::set<Offset>> LogLoader::ReadCorruptList() {
  std::set<Offset> out;
  auto lines = ReadCheckpointFile(log_->fs_, JoinPath(log_->dir_, kCorruptListFile), 0, 2);
  if (absl::IsNotFound(lines.status())) return out;
  if (!lines.ok()) return lines.status();
  for (const auto& line : *lines) {
    int64_t base;
    if (absl::SimpleAtoi(line[0], &base)) out.insert(Offset(base));
  }
  return out;
}

absl::Status LogLoader::WriteCorruptList(const SegmentList& list) {
  std::vector<CheckpointLine> lines;
  for (const auto& seg : list) {
    bool corrupt = std::find(reported_.begin(), reported_.end(), seg.get()) != reported_.end();
    if (corrupt) {
      lines.push_back({absl::StrCat(seg->base_offset().value()), absl::StrCat(seg->size_bytes())});
    }
  }
  std::string path = JoinPath(log_->dir_, kCorruptListFile);
  if (lines.empty()) {
    return log_->fs_->Exists(path) ? log_->fs_->Remove(path) : absl::OkStatus();
  }
  return WriteCheckpointFile(log_->fs_, path, 0, lines);
}

absl::Status LogLoader::CheckFlushedSegment(Segment& seg) {
  absl::Status check = known_corrupt_.count(seg.base_offset())
                           ? CorruptionError("reported corrupt at an earlier start")
                           : seg.CheckIndexes();
  if (check.ok()) return absl::OkStatus();
  LOG_EVENT(Warn, "log.index_rebuilt").Kv("path", seg.log_path()).Kv("why", check.message());
  ASSIGN_OR_RETURN(SegmentRecovery r, seg.Recover());
  if (!r.first_error.ok()) Report(seg, r.valid_bytes, r.first_error);
  return absl::OkStatus();
}

absl::StatusOr<bool> LogLoader::RecoverUnflushedSegment(Segment& seg, bool is_last,
                                                        std::optional<Offset> next_base,
                                                        bool later_empty, Offset trusted_below) {
  recovered_ = true;
  ASSIGN_OR_RETURN(SegmentRecovery r, seg.Recover(trusted_below));
  bool bad = !r.first_error.ok();
  if (bad && !is_last && !r.torn) {
    Report(seg, r.valid_bytes, r.first_error);  // corrupt in the middle: keep, do not cut
    return true;
  }
  bool short_segment =
      !bad && later_empty && next_base.has_value() && seg.next_offset() < *next_base;
  if (!bad && !short_segment) return true;
  if (bad && !options_.read_only) {
    RETURN_IF_ERROR(seg.TruncateToBytes(r.valid_bytes));
  }
  LOG_EVENT(Warn, "log.truncated_tail")
      .Kv("path", seg.log_path())
      .Kv("valid_bytes", r.valid_bytes)
      .Kv("dropped_bytes", r.invalid_bytes)
      .Kv("next_offset", seg.next_offset().value())
      .Kv("why", bad ? std::string(r.first_error.message())
                     : absl::StrCat("segment ends before the next one (", next_base->value(), ")"));
  return is_last;
}

absl::Status LogLoader::LoadEpochs() {
  auto cache = LeaderEpochCache::Open(log_->fs_, log_->dir_);
  bool rebuild = !cache.ok();
  if (rebuild) {
    if (!IsCorruption(cache.status())) return cache.status();
    LOG_EVENT(Warn, "log.epochs_rebuilt").Kv("dir", log_->dir_).Kv("why", cache.status().message());
    if (!options_.read_only) {
      RETURN_IF_ERROR(log_->fs_->Remove(JoinPath(log_->dir_, LeaderEpochCache::kFileName)));
    }
    ASSIGN_OR_RETURN(cache, LeaderEpochCache::Open(log_->fs_, log_->dir_));
  }
  log_->epochs_ = std::move(*cache);
  if (options_.read_only) return absl::OkStatus();
  if (rebuild) {
    std::vector<EpochEntry> entries;
    for (const auto& seg : *log_->segments()) {
      RETURN_IF_ERROR(seg->ScanBatches(FilePosition(0), [&](const BatchSummary& s) {
        if (s.leader_epoch >= LeaderEpoch(0) &&
            (entries.empty() || s.leader_epoch > entries.back().epoch)) {
          entries.push_back({s.leader_epoch, s.base_offset});
        }
        return true;
      }));
    }
    RETURN_IF_ERROR(log_->epochs_->Reset(std::move(entries)));
  }
  RETURN_IF_ERROR(log_->epochs_->TruncateFromEnd(log_->log_end_offset()));
  RETURN_IF_ERROR(log_->epochs_->TruncateFromStart(log_->log_start_offset()));
  auto latest = log_->epochs_->Latest();
  absl::MutexLock lock(&log_->append_mu_);
  log_->latest_epoch_ = latest ? latest->epoch : kNoLeaderEpoch;
  return absl::OkStatus();
}

absl::Status LogLoader::Load() {
  LogConfig c = log_->config();
  segment_options_ = {c.segment_index_bytes, c.index_interval_bytes};
  ASSIGN_OR_RETURN(std::vector<Offset> bases, ListSegments());
  ASSIGN_OR_RETURN(known_corrupt_, ReadCorruptList());
  SegmentList list;
  for (size_t i = 0; i < bases.size(); ++i) {
    bool last = i + 1 == bases.size();
    Segment::OpenMode mode = options_.read_only ? Segment::OpenMode::kReadOnly
                             : last             ? Segment::OpenMode::kActive
                                                : Segment::OpenMode::kSealed;
    ASSIGN_OR_RETURN(auto seg,
                     Segment::Open(log_->fs_, log_->dir_, bases[i], segment_options_, mode));
    list.push_back(std::move(seg));
  }
  // The first segment holding unflushed data: the one containing the recovery point.
  size_t first_unflushed = list.size();
  if (!options_.clean_shutdown) {
    first_unflushed = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]->base_offset() <= options_.recovery_point) first_unflushed = i;
    }
  }
  size_t keep = list.size();
  for (size_t i = 0; i < list.size(); ++i) {
    if (i < first_unflushed) {
      RETURN_IF_ERROR(CheckFlushedSegment(*list[i]));
      continue;
    }
    std::optional<Offset> next_base;
    if (i + 1 < list.size()) next_base = list[i + 1]->base_offset();
    bool later_empty = true;
    for (size_t j = i + 1; j < list.size(); ++j) later_empty = later_empty && list[j]->empty();
    ASSIGN_OR_RETURN(bool go_on, RecoverUnflushedSegment(*list[i], i + 1 == list.size(), next_base,
                                                         later_empty, options_.recovery_point));
    if (!go_on) {
      keep = i + 1;
      break;
    }
  }
  if (keep < list.size()) {
    LOG_EVENT(Warn, "log.segments_dropped_after_tail")
        .Kv("dir", log_->dir_)
        .Kv("segments", list.size() - keep)
        .Kv("from_base_offset", list[keep]->base_offset().value());
    for (size_t i = keep; i < list.size() && !options_.read_only; ++i) {
      RETURN_IF_ERROR(list[i]->Delete());
    }
    list.resize(keep);
    if (!options_.read_only) RETURN_IF_ERROR(list.back()->Reactivate());
  }
  return Finish(std::move(list));
}

absl::Status LogLoader::ReplaceCorruptActive(SegmentList& list) {
  Log& log = *log_;
  Segment* last = list.back().get();
  // Append elsewhere. If nothing in it is valid the new segment needs its name: move the file
  // aside first.
  Offset next = last->next_offset();
  if (next == last->base_offset()) {
    std::string aside = last->log_path() + ".corrupt";
    LOG_EVENT(Error, "log.corrupt_segment_moved").Kv("path", last->log_path()).Kv("to", aside);
    RETURN_IF_ERROR(log.fs_->Rename(last->log_path(), aside));
    for (const char* suffix : {".index", ".timeindex"}) {
      std::string index = JoinPath(log.dir_, Segment::FileName(last->base_offset(), suffix));
      if (log.fs_->Exists(index)) RETURN_IF_ERROR(log.fs_->Remove(index));
    }
    list.pop_back();  // `last` is gone from here on
  } else {
    RETURN_IF_ERROR(last->Seal());
  }
  ASSIGN_OR_RETURN(auto seg, Segment::Create(log.fs_, log.dir_, next, segment_options_));
  list.push_back(std::move(seg));
  log.dir_needs_sync_ = true;
  return absl::OkStatus();
}

absl::Status LogLoader::Finish(SegmentList list) {
  Log& log = *log_;
  if (list.empty()) {
    if (options_.read_only) {
      return absl::NotFoundError(absl::StrCat("no segments in ", log.dir_));
    }
    ASSIGN_OR_RETURN(
        auto seg, Segment::Create(log.fs_, log.dir_, options_.log_start_offset, segment_options_));
    list.push_back(std::move(seg));
    log.dir_needs_sync_ = true;
  }
  Segment* last = list.back().get();
  if (!options_.read_only &&
      std::find(reported_.begin(), reported_.end(), last) != reported_.end()) {
    RETURN_IF_ERROR(ReplaceCorruptActive(list));
  }
  Offset end = list.back()->next_offset();
  Offset start = std::min(std::max(options_.log_start_offset, list.front()->base_offset()), end);
  log.log_start_.store(start.value());
  log.log_end_.store(end.value());
  log.high_watermark_.store(end.value());
  Offset rp = options_.clean_shutdown ? end : std::min(options_.recovery_point, end);
  log.recovery_point_.store(rp.value());
  for (auto& seg : list) seg->set_created_ms(log.clock_->NowMs());
  {
    absl::MutexLock lock(&log.append_mu_);
    log.PublishLocked(std::move(list));
  }
  log.read_only_ = options_.read_only;
  log.checkpoint_now_ = options_.checkpoint_now;
  log.last_flush_mono_ms_.store(log.clock_->MonotonicMs());
  RETURN_IF_ERROR(LoadEpochs());
  log.producers_ = std::make_unique<ProducerStateManager>(log.fs_, log.dir_,
                                                          log.config().producer_id_expiration_ms);
  if (!options_.read_only) {
    absl::MutexLock lock(&log.append_mu_);
    RETURN_IF_ERROR(log.LoadProducerStateLocked());
  }
  if (!options_.read_only) RETURN_IF_ERROR(WriteCorruptList(*log.segments()));
  if (recovered_ && !options_.read_only) {
    // Recovered bytes are valid but maybe not on disk yet: make them durable before the
    // recovery point moves past them.
    RETURN_IF_ERROR(log.FlushAll());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(FileSystem* fs, std::string dir, LogConfig config,
                                               Clock* clock, LogOpenOptions options) {
  std::unique_ptr<Log> log(new Log(fs, std::move(dir), std::move(config), clock));
  if (!options.read_only) RETURN_IF_ERROR(fs->CreateDirs(log->dir_));
  if (!fs->IsDirectory(log->dir_)) {
    return absl::NotFoundError(absl::StrCat(log->dir_, " is not a directory"));
  }
  LogLoader loader(log.get(), options);
  RETURN_IF_ERROR(loader.Load());
  return log;
}

}  // namespace strata
