#include "log/offset_checkpoint.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/checkpoint_file.h"

namespace strata {

std::string TopicPartition::DirName() const { return absl::StrCat(topic, "-", partition); }

absl::StatusOr<OffsetCheckpoint> ReadOffsetCheckpoint(FileSystem* fs, const std::string& path) {
  OffsetCheckpoint out;
  auto lines = ReadCheckpointFile(fs, path, 0, 3);
  if (absl::IsNotFound(lines.status())) return out;
  if (!lines.ok()) return lines.status();
  for (const auto& line : *lines) {
    int32_t partition;
    int64_t offset;
    if (!absl::SimpleAtoi(line[1], &partition) || !absl::SimpleAtoi(line[2], &offset)) {
      return CorruptionError(absl::StrCat("malformed line in ", path));
    }
    out[{line[0], partition}] = Offset(offset);
  }
  return out;
}

absl::Status WriteOffsetCheckpoint(FileSystem* fs, const std::string& path,
                                   const OffsetCheckpoint& offsets) {
  std::vector<CheckpointLine> lines;
  lines.reserve(offsets.size());
  for (const auto& [tp, offset] : offsets) {
    lines.push_back({tp.topic, absl::StrCat(tp.partition), absl::StrCat(offset.value())});
  }
  return WriteCheckpointFile(fs, path, 0, lines);
}

}  // namespace strata
