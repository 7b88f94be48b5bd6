// strata log verify: checks every batch (CRC, structure, records), offset order within and across
// segments, and that both indexes and the leader-epoch checkpoint agree with the log.
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/status.h"
#include "index/leader_epoch_cache.h"
#include "index/offset_index.h"
#include "index/time_index.h"
#include "log/batch_scanner.h"
#include "log/log.h"
#include "log/record_batch.h"
#include "log/segment.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata log verify <partition dir or data dir> [--quiet]\n"
    "  Checks CRCs, record structure, offset order, indexes and the leader-epoch checkpoint.\n"
    "  Exits 1 when it finds a problem.\n";

struct Totals {
  int64_t partitions = 0, segments = 0, batches = 0, records = 0;
  uint64_t bytes = 0;
  std::vector<std::string> problems;
};

struct BatchInfo {
  Offset last_offset;
  int64_t max_timestamp;
};

class PartitionVerifier {
 public:
  PartitionVerifier(std::string dir, Totals* totals, cli::Progress* progress)
      : dir_(std::move(dir)), totals_(totals), progress_(progress) {}

  void Run() {
    std::vector<std::string> logs = SegmentFiles(dir_);
    for (size_t i = 0; i < logs.size(); ++i) {
      std::optional<Offset> next_base;
      if (i + 1 < logs.size()) next_base = BaseOf(logs[i + 1]);
      VerifySegment(logs[i], next_base);
    }
    VerifyEpochs();
    ++totals_->partitions;
  }

 private:
  static Offset BaseOf(const std::string& path) {
    return Offset(std::stoll(BaseName(path).substr(0, 20)));
  }

  void Problem(const std::string& path, std::optional<uint64_t> position, absl::string_view what) {
    totals_->problems.push_back(absl::StrCat(
        path, position ? absl::StrCat(" at position ", *position) : std::string(), ": ", what));
  }

  void VerifySegment(const std::string& path, std::optional<Offset> next_base) {
    ++totals_->segments;
    Offset base = BaseOf(path);
    auto file = FileSystem::Default()->Open(path, OpenMode::kReadOnly);
    if (!file.ok()) return Problem(path, std::nullopt, file.status().message());
    uint64_t size = *(*file)->Size();
    std::map<uint64_t, BatchInfo> batches;  // by position
    internal::BatchReader reader(**file, size);
    uint64_t pos = 0;
    while (pos < size) {
      auto bytes = reader.At(pos);
      if (!bytes.ok()) {
        Problem(
            path, pos,
            absl::StrCat(size - pos, " bytes of torn or corrupt tail: ", bytes.status().message()));
        break;
      }
      CheckBatch(path, pos, *bytes, base, &batches);
      progress_->Advance(bytes->size());
      totals_->bytes += bytes->size();
      pos += bytes->size();
    }
    if (next_base.has_value() && last_offset_ >= *next_base) {
      Problem(path, std::nullopt,
              absl::StrCat("last offset ", last_offset_.value(),
                           " reaches into the next segment (base ", next_base->value(), ")"));
    }
    VerifyIndexes(path, base, size, batches);
  }

  void CheckBatch(const std::string& path, uint64_t pos, std::span<const uint8_t> bytes,
                  Offset base, std::map<uint64_t, BatchInfo>* batches) {
    ++totals_->batches;
    auto view = RecordBatchView::Parse(bytes);
    if (!view.ok()) return Problem(path, pos, view.status().message());
    if (absl::Status s = view->ValidateRecords(false); !s.ok()) Problem(path, pos, s.message());
    totals_->records += view->record_count();
    if (view->base_offset() < base) {
      Problem(path, pos,
              absl::StrCat("base offset ", view->base_offset().value(),
                           " is below the segment's base ", base.value()));
    }
    if (view->base_offset() <= last_offset_) {
      Problem(path, pos,
              absl::StrCat("offsets go backwards: ", view->base_offset().value(), " after ",
                           last_offset_.value()));
    }
    if (view->partition_leader_epoch() >= LeaderEpoch(0)) {
      if (view->partition_leader_epoch() < max_epoch_) {
        Problem(path, pos,
                absl::StrCat("leader epoch ", view->partition_leader_epoch().value(),
                             " after epoch ", max_epoch_.value()));
      }
      if (view->partition_leader_epoch() > max_epoch_) {
        max_epoch_ = view->partition_leader_epoch();
        epoch_starts_[max_epoch_] = view->base_offset();
      }
    }
    last_offset_ = view->last_offset();
    (*batches)[pos] = {view->last_offset(), view->max_timestamp()};
  }

  void VerifyIndexes(const std::string& path, Offset base, uint64_t size,
                     const std::map<uint64_t, BatchInfo>& batches) {
    std::string stem = path.substr(0, path.size() - 4);
    FileSystem* fs = FileSystem::Default();
    if (!fs->Exists(stem + ".index") || !fs->Exists(stem + ".timeindex")) {
      return Problem(path, std::nullopt, "index file missing");
    }
    auto index = OffsetIndex::Open(fs, stem + ".index", base, 0, IndexMode::kReadOnly);
    if (!index.ok()) return Problem(stem + ".index", std::nullopt, index.status().message());
    if (absl::Status s = (*index)->Check(size); !s.ok()) {
      Problem(stem + ".index", std::nullopt, s.message());
    }
    for (size_t i = 0; i < (*index)->size(); ++i) {
      OffsetPosition e = (*index)->EntryAt(i);
      auto it = batches.find(e.position.value());
      if (it == batches.end() || it->second.last_offset != e.offset) {
        Problem(stem + ".index", i * 8,
                absl::StrCat("entry (offset ", e.offset.value(), ", position ", e.position.value(),
                             ") does not name a batch's last offset"));
      }
    }
    auto time = TimeIndex::Open(fs, stem + ".timeindex", base, 0, IndexMode::kReadOnly);
    if (!time.ok()) return Problem(stem + ".timeindex", std::nullopt, time.status().message());
    if (absl::Status s = (*time)->Check(last_offset_); !s.ok()) {
      Problem(stem + ".timeindex", std::nullopt, s.message());
    }
    std::set<std::pair<int64_t, int64_t>> stamps;  // (last offset, max timestamp)
    for (const auto& [p, b] : batches) stamps.insert({b.last_offset.value(), b.max_timestamp});
    for (size_t i = 0; i < (*time)->size(); ++i) {
      TimestampOffset e = (*time)->EntryAt(i);
      if (!stamps.count({e.offset.value(), e.timestamp})) {
        Problem(stem + ".timeindex", i * 12,
                absl::StrCat("entry (timestamp ", e.timestamp, ", offset ", e.offset.value(),
                             ") matches no batch"));
      }
    }
  }

  void VerifyEpochs() {
    std::string path = JoinPath(dir_, LeaderEpochCache::kFileName);
    if (!FileSystem::Default()->Exists(path)) {
      if (max_epoch_ >= LeaderEpoch(0)) Problem(path, std::nullopt, "missing");
      return;
    }
    auto cache = LeaderEpochCache::Open(FileSystem::Default(), dir_);
    if (!cache.ok()) return Problem(path, std::nullopt, cache.status().message());
    auto latest = (*cache)->Latest();
    if (max_epoch_ >= LeaderEpoch(0) && (!latest || latest->epoch < max_epoch_)) {
      Problem(path, std::nullopt,
              absl::StrCat("latest epoch ", latest ? latest->epoch.value() : -1,
                           " but the log's batches reach epoch ", max_epoch_.value()));
    }
    // A newer epoch than any batch is a leadership that has written nothing yet (a leader
    // records its epoch at its log end when it takes over): it must start past the last batch.
    for (const EpochEntry& e : (*cache)->Entries()) {
      if (e.epoch > max_epoch_ && e.start_offset <= last_offset_) {
        Problem(path, std::nullopt,
                absl::StrCat("epoch ", e.epoch.value(), " starts at ", e.start_offset.value(),
                             " but batches of older epochs reach ", last_offset_.value()));
      }
    }
    std::vector<EpochEntry> entries = (*cache)->Entries();
    for (size_t i = 1; i < entries.size(); ++i) {  // the first may have moved with log start
      const EpochEntry& e = entries[i];
      auto it = epoch_starts_.find(e.epoch);
      if (it != epoch_starts_.end() && it->second != e.start_offset) {
        Problem(path, std::nullopt,
                absl::StrCat("epoch ", e.epoch.value(), " starts at ", e.start_offset.value(),
                             " but its first batch is at ", it->second.value()));
      }
    }
  }

  std::string dir_;
  Totals* totals_;
  cli::Progress* progress_;
  Offset last_offset_{-1};
  LeaderEpoch max_epoch_{-1};
  std::map<LeaderEpoch, Offset> epoch_starts_;
};

uint64_t TotalLogBytes(const std::vector<std::string>& dirs) {
  uint64_t total = 0;
  for (const auto& dir : dirs) {
    for (const auto& log : SegmentFiles(dir)) {
      auto size = FileSystem::Default()->FileSize(log);
      if (size.ok()) total += *size;
    }
  }
  return total;
}

}  // namespace

int LogVerify(const Argv& argv) {
  cli::Args args;
  if (absl::Status s = args.Parse(argv, {"quiet", "help"}, {});
      !s.ok() || args.Has("help") || args.positional().size() != 1) {
    std::cerr << (s.ok() ? "" : std::string(s.message()) + "\n") << kUsage;
    return 2;
  }
  std::string target = args.positional()[0];
  FileSystem* fs = FileSystem::Default();
  if (!fs->IsDirectory(target)) {
    std::cerr << "strata log verify: " << target << " is not a directory\n";
    return 1;
  }
  // A partition directory holds .log files; a data directory holds partition directories.
  std::vector<std::string> dirs;
  if (!SegmentFiles(target).empty()) {
    dirs.push_back(target);
  } else {
    auto names = fs->ListDir(target);
    for (const auto& name : names.ok() ? *names : std::vector<std::string>()) {
      std::string path = JoinPath(target, name);
      if (fs->IsDirectory(path) && Log::ParseDirName(name).has_value()) dirs.push_back(path);
    }
    std::sort(dirs.begin(), dirs.end());
  }
  int64_t start = Clock::System()->MonotonicNanos();
  Totals totals;
  {
    cli::Progress progress("verifying", TotalLogBytes(dirs));
    for (const auto& dir : dirs) PartitionVerifier(dir, &totals, &progress).Run();
  }
  double seconds = static_cast<double>(Clock::System()->MonotonicNanos() - start) / 1e9;
  for (const auto& p : totals.problems) std::cout << "PROBLEM " << p << "\n";
  std::cout << absl::StrFormat(
      "Verified %d partitions, %d segments, %d batches, %d records, %s in %.2f s: %s\n",
      totals.partitions, totals.segments, totals.batches, totals.records,
      cli::HumanBytes(totals.bytes), seconds,
      totals.problems.empty() ? "OK" : absl::StrCat(totals.problems.size(), " problems"));
  if (dirs.empty()) {
    std::cout << "No partition found under " << target << "\n";
    return 1;
  }
  return totals.problems.empty() ? 0 : 1;
}

}  // namespace strata::tools
