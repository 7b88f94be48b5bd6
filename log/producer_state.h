// Idempotent-producer state of one partition (Kafka's ProducerStateManager): per producer id,
// the epoch and the last five batches' sequence and offset ranges. The Log consults it before
// every append of a batch with a producer id:
//
//   - a retried batch (same epoch, same first and last sequence as one of the five) is a
//     duplicate: it is not written again and the producer gets the original offsets;
//   - an older epoch is refused (kInvalidProducerEpoch);
//   - a sequence that does not follow the last one is refused (kOutOfOrderSequence); a new epoch
//     must start at sequence 0; a producer the partition has never seen (or forgot) may start
//     anywhere.
//
// Persistence: TakeSnapshot writes `<offset>.snapshot` (index/producer_snapshot.h); Load reads
// the newest snapshot at or below the log end and the caller replays the batches after it, so a
// restart never replays the whole log. Producers idle for longer than the expiration are dropped
// when a snapshot is taken.
//
// Not thread-safe: the Log calls it under its append lock.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"
#include "index/producer_snapshot.h"
#include "log/segment.h"

namespace strata {

class ProducerStateManager {
 public:
  ProducerStateManager(FileSystem* fs, std::string dir, int64_t expiration_ms)
      : fs_(fs), dir_(std::move(dir)), expiration_ms_(expiration_ms) {}

  // For a batch about to be appended: nullopt = append it; a value = it duplicates that batch.
  // Errors carry an AppendError payload.
  absl::StatusOr<std::optional<ProducerBatch>> Check(const BatchSummary& batch) const;
  // Records an appended (or replayed) batch with its final offsets. Control batches and batches
  // without a producer id are ignored.
  void Update(const BatchSummary& batch);

  // Loads the newest readable snapshot at or below `log_end`; returns its offset (where replay
  // must start), or `log_start` when there is none.
  absl::StatusOr<Offset> Load(Offset log_start, Offset log_end);
  // Writes `<offset>.snapshot` and keeps only the two newest snapshots.
  absl::Status TakeSnapshot(Offset offset, int64_t now_ms);
  // Forgets everything and deletes snapshots above `offset` (log truncation); the caller then
  // calls Load and replays.
  absl::Status DeleteSnapshotsAbove(Offset offset);
  void Clear() { producers_.clear(); }

  const ProducerMap& producers() const { return producers_; }

 private:
  FileSystem* fs_;
  std::string dir_;
  int64_t expiration_ms_;
  ProducerMap producers_;
};

}  // namespace strata
