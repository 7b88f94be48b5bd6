// Kafka's plain-text checkpoint files, used for recovery-point-offset-checkpoint,
// log-start-offset-checkpoint and leader-epoch-checkpoint (docs/formats/checkpoints.md):
//
//   0            <- format version
//   2            <- number of entries
//   orders 0 42  <- one entry per line, fields separated by single spaces
//   orders 1 17
//
// Writes are crash-safe (temporary file, fsync, rename, directory fsync): after a crash the file
// holds the old or the new contents. Reads check the version, the count and the field count and
// report DataLoss when the file is malformed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file.h"

namespace strata {

using CheckpointLine = std::vector<std::string>;

absl::Status WriteCheckpointFile(FileSystem* fs, const std::string& path, int version,
                                 const std::vector<CheckpointLine>& entries);

// Returns the entries; each has exactly `fields_per_entry` fields. NotFound if the file is absent.
absl::StatusOr<std::vector<CheckpointLine>> ReadCheckpointFile(FileSystem* fs,
                                                               const std::string& path,
                                                               int expected_version,
                                                               size_t fields_per_entry);

}  // namespace strata
