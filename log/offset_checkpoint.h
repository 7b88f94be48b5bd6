// TopicPartition, and the data directory's per-partition offset checkpoint files
// (recovery-point-offset-checkpoint, log-start-offset-checkpoint, cleaner-offset-checkpoint):
// Kafka's text format, one "topic partition offset" line per partition (index/checkpoint_file.h,
// docs/formats/checkpoints.md).
//
//   ASSIGN_OR_RETURN(OffsetCheckpoint points, ReadOffsetCheckpoint(fs, dir +
//   "/cleaner-offset-checkpoint")); points[{"orders", 0}] = Offset(42);
//   RETURN_IF_ERROR(WriteOffsetCheckpoint(fs, path, points));   // crash-safe replace
//
// A missing file reads as empty; a malformed one is DataLoss. Not synchronized: callers
// serialize writes of one file.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"

namespace strata {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  // "<topic>-<partition>", the partition's directory name.
  std::string DirName() const;
};

using OffsetCheckpoint = std::map<TopicPartition, Offset>;

absl::StatusOr<OffsetCheckpoint> ReadOffsetCheckpoint(FileSystem* fs, const std::string& path);
absl::Status WriteOffsetCheckpoint(FileSystem* fs, const std::string& path,
                                   const OffsetCheckpoint& offsets);

}  // namespace strata
