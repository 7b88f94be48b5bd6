// strata log compact: cleans one partition directory offline with the broker's Cleaner
// (log/cleaner.h), as a compacted topic's cleaner would, from the log start: every segment but
// the active one (that one too with --include-active, which rolls it first).
//
// There is no broker to ask for the topic's configs, so delete.retention.ms and segment.bytes
// come from flags (Kafka's defaults). The broker must not run on the directory: a broker
// appending or cleaning while this rewrites segments corrupts the partition. Without a lock to
// check, the tool refuses a data directory that has no clean-shutdown marker (a running or
// crashed broker) unless --force is given.
#include <cstdlib>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata log compact <partition dir> [--dry-run] [--include-active]\n"
    "         [--delete-retention-ms 86400000] [--segment-bytes 1GiB]\n"
    "         [--dedupe-buffer-size 128MiB] [--force]\n"
    "  Compacts a partition offline: keeps the latest record of every key (Kafka's log\n"
    "  cleaner), drops tombstones whose delete horizon (delete.retention.ms after the clean\n"
    "  that first kept them) has passed, merges small segments up to --segment-bytes.\n"
    "  Offsets do not change. The active segment is left alone unless --include-active.\n"
    "  --dry-run reads everything and prints what a clean would do; nothing is written.\n"
    "  STOP THE BROKER FIRST: the tool refuses a data directory without a clean-shutdown\n"
    "  marker (a broker running on it, or crashed) unless --force.\n";

struct CompactOptions {
  std::string dir;
  bool dry_run = false;
  bool include_active = false;
  bool force = false;
  int64_t delete_retention_ms = 86'400'000;
  int64_t segment_bytes = 1 << 30;
  int64_t dedupe_buffer_bytes = 128 << 20;
};

absl::Status ParseOptions(const cli::Args& args, CompactOptions* o) {
  absl::Status err;
  o->dir = std::string(absl::StripSuffix(args.positional()[0], "/"));
  o->dry_run = args.Has("dry-run");
  o->include_active = args.Has("include-active");
  o->force = args.Has("force");
  o->delete_retention_ms = args.GetInt("delete-retention-ms", o->delete_retention_ms, &err);
  o->segment_bytes = args.GetInt("segment-bytes", o->segment_bytes, &err);
  o->dedupe_buffer_bytes = args.GetInt("dedupe-buffer-size", o->dedupe_buffer_bytes, &err);
  RETURN_IF_ERROR(err);
  if (o->delete_retention_ms < 0 || o->segment_bytes < 14 || o->segment_bytes > INT32_MAX ||
      o->dedupe_buffer_bytes < (1 << 16)) {
    return absl::InvalidArgumentError(
        "--delete-retention-ms must be >= 0, --segment-bytes in [14, 2GiB), "
        "--dedupe-buffer-size >= 64KiB");
  }
  return absl::OkStatus();
}

// What the partition's data directory knows about it (checkpoints), if it is in one.
struct DataDirState {
  bool is_data_dir = false;     // the parent holds a recovery-point checkpoint
  bool clean_shutdown = false;  // ... and the clean-shutdown marker
  LogOpenOptions open;
};

DataDirState ReadDataDir(const std::string& dir, const TopicPartition& tp, bool read_only) {
  DataDirState s;
  FileSystem* fs = FileSystem::Default();
  std::string parent = DirName(dir);
  s.is_data_dir = fs->Exists(JoinPath(parent, LogManager::kRecoveryPointFile));
  s.clean_shutdown = fs->Exists(JoinPath(parent, LogManager::kCleanShutdownFile));
  s.open.read_only = read_only;
  auto points = ReadOffsetCheckpoint(fs, JoinPath(parent, LogManager::kRecoveryPointFile));
  auto starts = ReadOffsetCheckpoint(fs, JoinPath(parent, LogManager::kLogStartFile));
  if (s.clean_shutdown && points.ok() && points->count(tp)) {
    // Trust the flushed prefix as the broker would; otherwise recovery rescans everything.
    s.open.recovery_point = points->at(tp);
    s.open.clean_shutdown = true;
  }
  if (starts.ok() && starts->count(tp)) s.open.log_start_offset = starts->at(tp);
  return s;
}

// Records the new first dirty offset in the data directory, so the broker does not clean again.
void UpdateCleanerCheckpoint(const std::string& dir, const TopicPartition& tp, Offset next_dirty) {
  std::string path = JoinPath(DirName(dir), CleanerManager::kCheckpointFile);
  auto points = ReadOffsetCheckpoint(FileSystem::Default(), path);
  if (!points.ok()) return;
  (*points)[tp] = next_dirty;
  absl::Status s = WriteOffsetCheckpoint(FileSystem::Default(), path, *points);
  if (!s.ok()) std::cerr << "warning: could not update " << path << ": " << s << "\n";
}

void PrintSummary(const CompactOptions& o, const CleanStats& st, double seconds) {
  if (st.nothing_to_do) {
    std::cout << "Nothing to compact in " << o.dir
              << (o.include_active ? ""
                                   : " (only the active segment has data? try --include-active)")
              << "\n";
    return;
  }
  double saved = st.bytes_before == 0 ? 0.0
                                      : 100.0 * (1.0 - static_cast<double>(st.bytes_after) /
                                                           static_cast<double>(st.bytes_before));
  std::cout << absl::StrFormat("%s %s in %.2f s (%d pass%s)\n",
                               o.dry_run ? "Dry run (nothing changed) of" : "Compacted", o.dir,
                               seconds, st.passes, st.passes == 1 ? "" : "es");
  std::cout << absl::StrFormat("  segments:    %d -> %d\n", st.segments_before, st.segments_after);
  std::cout << absl::StrFormat("  bytes:       %s -> %s (%d -> %d, %.1f%% smaller)\n",
                               cli::HumanBytes(st.bytes_before), cli::HumanBytes(st.bytes_after),
                               st.bytes_before, st.bytes_after, saved);
  std::cout << absl::StrFormat("  records:     %d read, %d kept\n", st.records_read,
                               st.records_kept);
  std::cout << absl::StrFormat("  keys:        %d\n", st.keys);
  std::cout << absl::StrFormat("  tombstones:  %d dropped\n", st.tombstones_dropped);
  std::cout << absl::StrFormat("  batches:     %d copied, %d rewritten\n", st.batches_copied,
                               st.batches_rewritten);
  std::cout << absl::StrFormat("  next dirty offset: %d\n", st.next_dirty.value());
}

absl::StatusOr<CleanStats> Compact(const CompactOptions& o, const TopicPartition& tp,
                                   const DataDirState& state) {
  LogConfig config;
  config.cleanup_compact = true;
  config.cleanup_delete = false;
  config.delete_retention_ms = o.delete_retention_ms;
  config.segment_bytes = static_cast<uint64_t>(o.segment_bytes);
  Clock* clock = Clock::System();
  ASSIGN_OR_RETURN(auto log, Log::Open(FileSystem::Default(), o.dir, config, clock, state.open));
  if (o.include_active && !o.dry_run) RETURN_IF_ERROR(log->Roll());
  ASSIGN_OR_RETURN(CleanableRange range,
                   CleanableRangeOf(*log, log->log_start_offset(), clock->NowMs()));
  Cleaner cleaner(clock, {.dedupe_buffer_bytes = static_cast<uint64_t>(o.dedupe_buffer_bytes),
                          .dry_run = o.dry_run});
  std::optional<cli::Progress> progress;
  uint64_t shown = 0;
  auto on_progress = [&](uint64_t done, uint64_t total) {
    if (!progress.has_value()) progress.emplace(o.dry_run ? "reading" : "compacting", total);
    if (done > shown) progress->Advance(done - shown);
    shown = std::max(shown, done);
  };
  ASSIGN_OR_RETURN(CleanStats stats, cleaner.Clean(*log, range, nullptr, on_progress));
  if (progress.has_value()) progress->Finish();
  if (!o.dry_run) {
    RETURN_IF_ERROR(log->Close());
    if (state.is_data_dir && !stats.nothing_to_do)
      UpdateCleanerCheckpoint(o.dir, tp, stats.next_dirty);
  }
  return stats;
}

}  // namespace

int LogCompact(const Argv& argv) {
  // The summary says what the engine's info lines would; STRATA_LOG_LEVEL still wins.
  if (getenv("STRATA_LOG_LEVEL") == nullptr) SetLogLevel(LogLevel::kWarn);
  cli::Args args;
  absl::Status s = args.Parse(argv, {"dry-run", "include-active", "force", "help"},
                              {"delete-retention-ms", "segment-bytes", "dedupe-buffer-size"});
  CompactOptions o;
  if (s.ok() && !args.Has("help") && args.positional().size() == 1) s = ParseOptions(args, &o);
  if (!s.ok() || args.Has("help") || args.positional().size() != 1) {
    std::cerr << (s.ok() ? "" : std::string(s.message()) + "\n") << kUsage;
    return args.Has("help") && s.ok() ? 0 : 2;
  }
  auto parsed = Log::ParseDirName(BaseName(o.dir));
  if (!FileSystem::Default()->IsDirectory(o.dir) || !parsed.has_value() ||
      SegmentFiles(o.dir).empty()) {
    std::cerr << "strata log compact: " << o.dir
              << " is not a partition directory (<topic>-<partition> holding .log segments)\n";
    return 1;
  }
  TopicPartition tp{parsed->first, parsed->second};
  DataDirState state = ReadDataDir(o.dir, tp, o.dry_run);
  if (state.is_data_dir && !state.clean_shutdown && !o.dry_run && !o.force) {
    std::cerr << "strata log compact: " << DirName(o.dir)
              << " has no clean-shutdown marker: a broker is running on it (or crashed). Stop "
                 "the broker first; --force compacts anyway.\n";
    return 1;
  }
  if (o.dry_run && o.include_active) {
    std::cerr << "note: a dry run cannot roll the active segment; it is not included\n";
  }
  int64_t start = Clock::System()->MonotonicNanos();
  auto stats = Compact(o, tp, state);
  if (!stats.ok()) {
    std::cerr << "strata log compact: " << o.dir << ": " << stats.status() << "\n";
    return 1;
  }
  PrintSummary(o, *stats, static_cast<double>(Clock::System()->MonotonicNanos() - start) / 1e9);
  return 0;
}

}  // namespace strata::tools
