// Producer-state snapshot files (`<offset>.snapshot` in a partition directory): the idempotent
// producers of a partition as of `offset` (exclusive), so a restart replays only the log after
// it. Byte layout (docs/formats/producer-snapshot.md), big-endian:
//
//   0   2  version int16 = 1
//   2   4  crc uint32: CRC-32C of every byte after this field
//   6   4  producer count int32
//   10  …  producers: producerId int64, producerEpoch int16, lastTimestamp int64,
//          batchCount int8 (0..5), then per batch: firstSequence int32, lastSequence int32,
//          firstOffset int64, lastOffset int64, timestamp int64
//
// Files are written crash-safely (temporary file, fsync, rename). A file that fails its CRC or
// structure check gives DataLoss; the caller falls back to an older snapshot or the log.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"

namespace strata {

struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  Offset first_offset;
  Offset last_offset;
  int64_t timestamp = 0;
  bool operator==(const ProducerBatch&) const = default;
};

struct ProducerEntry {
  int16_t epoch = -1;
  int64_t last_timestamp = 0;
  std::deque<ProducerBatch> batches;  // newest last, at most kMaxProducerBatches
  bool operator==(const ProducerEntry&) const = default;
};

inline constexpr size_t kMaxProducerBatches = 5;
inline constexpr int16_t kProducerSnapshotVersion = 1;

using ProducerMap = std::map<int64_t, ProducerEntry>;

std::string EncodeProducerSnapshot(const ProducerMap& producers);
absl::StatusOr<ProducerMap> DecodeProducerSnapshot(absl::string_view bytes);

// "<20-digit offset>.snapshot"
std::string ProducerSnapshotName(Offset offset);
// The offsets of the snapshot files in `dir`, ascending.
absl::StatusOr<std::vector<Offset>> ListProducerSnapshots(FileSystem* fs, const std::string& dir);

}  // namespace strata
