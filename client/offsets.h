// ListOffsets for clients: the earliest, latest or first-at-a-timestamp offset of partitions,
// each asked of the partition's leader. Used by Consumer (seeks, offset reset) and Admin.
//
//   ASSIGN_OR_RETURN(OffsetAndTimestamp end, ListOffset(cluster, {"orders", 0},
//   kLatestOffsetSpec)); ASSIGN_OR_RETURN(auto at, ListOffset(cluster, tp,
//   /*timestamp_ms=*/1700000000000)); if (at.offset < 0) { /* no record at or after that time */ }
//
// "Latest" is the high watermark (the offset the next record will get, what a consumer can
// read up to); "earliest" is the log start offset. A retriable error (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION, a dropped connection) refreshes metadata and
// is tried once more. Thread-safe (as Cluster is).
#pragma once

#include <cstdint>
#include <map>

#include "absl/status/statusor.h"
#include "client/cluster.h"

namespace strata::client {

// ListOffsets timestamp values with a special meaning (Kafka's ListOffsetsRequest constants).
inline constexpr int64_t kLatestOffsetSpec = -1;
inline constexpr int64_t kEarliestOffsetSpec = -2;
inline constexpr int64_t kMaxTimestampSpec = -3;  // the record with the largest timestamp

struct OffsetAndTimestamp {
  int64_t offset = -1;     // -1: no such record (a timestamp after every record)
  int64_t timestamp = -1;  // the record's timestamp for a timestamp query; -1 otherwise
  int32_t leader_epoch = -1;
};

using OffsetResults = std::map<TopicPartition, absl::StatusOr<OffsetAndTimestamp>>;

// One lookup per entry of `specs` (a timestamp in ms or one of the *Spec values above). The
// call fails only when no broker can be asked at all; per-partition errors are in the map.
absl::StatusOr<OffsetResults> ListOffsets(Cluster& cluster,
                                          const std::map<TopicPartition, int64_t>& specs,
                                          int8_t isolation_level = 0);
absl::StatusOr<OffsetAndTimestamp> ListOffset(Cluster& cluster, const TopicPartition& tp,
                                              int64_t spec, int8_t isolation_level = 0);

}  // namespace strata::client
