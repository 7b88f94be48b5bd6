// On-disk layout of the sparse indexes, as in Kafka. Prose and diagrams:
// docs/formats/offset-index.md and docs/formats/time-index.md.
//
// Offset index (.index), 8-byte entries, big-endian:
//   0  4  relativeOffset uint32   (offset - segment base offset) of the LAST record of a batch
//   4  4  position       uint32   file position of that batch in the .log
// Time index (.timeindex), 12-byte entries, big-endian:
//   0  8  timestamp      int64    the largest timestamp seen in the segment so far
//   8  4  relativeOffset uint32   offset (relative) of the batch that carried it
//
// Files are preallocated (zero-filled) to segment.index.bytes while the segment is active and
// trimmed to their entries when it rolls or the log closes. Valid entries strictly increase (in
// relative offset for .index, in timestamp for .timeindex); an all-zero entry ends the list.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::index_format {

inline constexpr size_t kOffsetEntrySize = 8;
inline constexpr size_t kTimeEntrySize = 12;
inline constexpr uint32_t kDefaultIndexIntervalBytes = 4096;
inline constexpr uint32_t kDefaultMaxIndexBytes = 10 * 1024 * 1024;  // segment.index.bytes

static_assert(kDefaultMaxIndexBytes % kOffsetEntrySize == 0);

}  // namespace strata::index_format
