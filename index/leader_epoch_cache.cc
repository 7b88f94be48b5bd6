#include "index/leader_epoch_cache.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "index/checkpoint_file.h"

namespace strata {

absl::StatusOr<std::unique_ptr<LeaderEpochCache>> LeaderEpochCache::Open(FileSystem* fs,
                                                                         const std::string& dir) {
  std::unique_ptr<LeaderEpochCache> cache(new LeaderEpochCache(fs, JoinPath(dir, kFileName)));
  auto lines = ReadCheckpointFile(fs, cache->path_, kVersion, 2);
  if (absl::IsNotFound(lines.status())) return cache;
  if (!lines.ok()) return lines.status();
  absl::MutexLock lock(&cache->mu_);
  for (const auto& line : *lines) {
    int32_t epoch;
    int64_t start;
    if (!absl::SimpleAtoi(line[0], &epoch) || !absl::SimpleAtoi(line[1], &start) || epoch < 0 ||
        start < 0) {
      return CorruptionError(absl::StrCat("malformed entry in ", cache->path_));
    }
    EpochEntry e{LeaderEpoch(epoch), Offset(start)};
    if (!cache->entries_.empty() && (e.epoch <= cache->entries_.back().epoch ||
                                     e.start_offset < cache->entries_.back().start_offset)) {
      return CorruptionError(absl::StrCat("entries out of order in ", cache->path_));
    }
    cache->entries_.push_back(e);
  }
  return cache;
}

absl::Status LeaderEpochCache::PersistLocked() {
  std::vector<CheckpointLine> lines;
  for (const auto& e : entries_) {
    lines.push_back({absl::StrCat(e.epoch.value()), absl::StrCat(e.start_offset.value())});
  }
  return WriteCheckpointFile(fs_, path_, kVersion, lines);
}

absl::Status LeaderEpochCache::Assign(LeaderEpoch epoch, Offset start_offset) {
  if (epoch < LeaderEpoch(0)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  if (!entries_.empty() && epoch <= entries_.back().epoch) {
    if (epoch < entries_.back().epoch) {
      LOG_EVENT(Warn, "leader_epoch.stale_assign")
          .Kv("path", path_)
          .Kv("epoch", epoch.value())
          .Kv("latest", entries_.back().epoch.value());
    }
    return absl::OkStatus();
  }
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.start_offset >= start_offset; });
  entries_.push_back({epoch, start_offset});
  return PersistLocked();
}

absl::Status LeaderEpochCache::Reset(std::vector<EpochEntry> entries) {
  absl::MutexLock lock(&mu_);
  entries_ = std::move(entries);
  return PersistLocked();
}

std::optional<EpochEntry> LeaderEpochCache::Latest() const {
  absl::MutexLock lock(&mu_);
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

std::vector<EpochEntry> LeaderEpochCache::Entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

std::pair<LeaderEpoch, Offset> LeaderEpochCache::EndOffsetFor(LeaderEpoch requested,
                                                              Offset log_end_offset) const {
  absl::MutexLock lock(&mu_);
  const std::pair<LeaderEpoch, Offset> undefined{kNoLeaderEpoch, kInvalidOffset};
  if (requested < LeaderEpoch(0) || entries_.empty()) return undefined;
  if (requested == entries_.back().epoch) return {requested, log_end_offset};
  auto higher = std::upper_bound(
      entries_.begin(), entries_.end(), requested,
      [](LeaderEpoch e, const EpochEntry& entry) { return e < entry.epoch; });
  if (higher == entries_.end()) return undefined;
  if (higher == entries_.begin()) return {requested, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

absl::Status LeaderEpochCache::TruncateFromEnd(Offset end_offset) {
  absl::MutexLock lock(&mu_);
  size_t before = entries_.size();
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.start_offset >= end_offset; });
  return entries_.size() == before ? absl::OkStatus() : PersistLocked();
}

absl::Status LeaderEpochCache::TruncateFromStart(Offset start_offset) {
  absl::MutexLock lock(&mu_);
  auto first_after = std::upper_bound(
      entries_.begin(), entries_.end(), start_offset,
      [](Offset o, const EpochEntry& entry) { return o < entry.start_offset; });
  if (first_after == entries_.begin()) return absl::OkStatus();
  auto covering = std::prev(first_after);
  if (covering == entries_.begin() && covering->start_offset == start_offset) {
    return absl::OkStatus();
  }
  covering->start_offset = start_offset;
  entries_.erase(entries_.begin(), covering);
  return PersistLocked();
}

}  // namespace strata
