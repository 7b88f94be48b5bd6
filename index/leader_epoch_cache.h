// The leader-epoch cache of one partition and its leader-epoch-checkpoint file: the offset at
// which each leader epoch began. Followers use it (through OffsetForLeaderEpoch) to find where
// their log diverged from a new leader's and truncate there.
//
//   cache.Assign(LeaderEpoch(3), Offset(120));   // epoch 3 starts at offset 120; persisted
//   auto [epoch, end] = cache.EndOffsetFor(LeaderEpoch(2), log_end_offset);
//   // end = 120: the first offset not written in epoch 2 (Kafka's semantics, KIP-101/279)
//
// Every change is written to the checkpoint (crash-safe write) before the call returns.
// Thread-safe: all methods take an internal lock; changes are rare (leadership changes,
// truncation, retention).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/types.h"

namespace strata {

struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;
  bool operator==(const EpochEntry&) const = default;
};

class LeaderEpochCache {
 public:
  static constexpr char kFileName[] = "leader-epoch-checkpoint";
  static constexpr int kVersion = 0;

  // Loads `dir`/leader-epoch-checkpoint (empty cache when missing). A malformed file gives
  // DataLoss; the caller can Rebuild from the log's batches instead.
  static absl::StatusOr<std::unique_ptr<LeaderEpochCache>> Open(FileSystem* fs,
                                                                const std::string& dir);

  // Records that `epoch` starts at `start_offset`. Ignored when `epoch` is not newer than the
  // latest one. Entries starting at or after `start_offset` are dropped first.
  absl::Status Assign(LeaderEpoch epoch, Offset start_offset);
  // Replaces all entries (recovery rebuilding from the log).
  absl::Status Reset(std::vector<EpochEntry> entries);

  std::optional<EpochEntry> Latest() const;
  std::vector<EpochEntry> Entries() const;

  // (epoch, end offset) for OffsetForLeaderEpoch: the largest epoch <= requested and the start
  // offset of the next epoch, or log_end_offset when `requested` is the latest epoch.
  // (kNoLeaderEpoch, kInvalidOffset) when requested is newer than any known epoch or undefined.
  std::pair<LeaderEpoch, Offset> EndOffsetFor(LeaderEpoch requested, Offset log_end_offset) const;

  // Log truncated to end before `end_offset`: drops epochs starting at or after it.
  absl::Status TruncateFromEnd(Offset end_offset);
  // Log start moved to `start_offset`: earlier epochs are dropped and the epoch covering it now
  // starts there.
  absl::Status TruncateFromStart(Offset start_offset);

 private:
  LeaderEpochCache(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  absl::Status PersistLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FileSystem* fs_;
  std::string path_;
  mutable absl::Mutex mu_;
  std::vector<EpochEntry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata
