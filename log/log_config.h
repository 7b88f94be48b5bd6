// Per-partition log settings, named and defaulted as Kafka's topic configs are. A topic's
// overrides are layered over the broker's defaults (server.properties) by the caller.
//
//   LogConfig config;                                    // Kafka's defaults
//   RETURN_IF_ERROR(config.Set("segment.bytes", "1048576"));
//   RETURN_IF_ERROR(config.Set("cleanup.policy", "compact,delete"));
//
// Set() validates ranges and types and reports InvalidArgument with the property's name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "log/record_batch.h"

namespace strata {

struct LogConfig {
  static constexpr int64_t kNever = INT64_MAX;

  uint64_t segment_bytes = 1024 * 1024 * 1024;         // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;          // segment.ms
  uint64_t segment_index_bytes = 10 * 1024 * 1024;      // segment.index.bytes
  uint32_t index_interval_bytes = 4096;                 // index.interval.bytes
  int64_t retention_bytes = -1;                         // retention.bytes (-1 = unlimited)
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;        // retention.ms (-1 = unlimited)
  int64_t flush_messages = kNever;                      // flush.messages
  int64_t flush_ms = kNever;                            // flush.ms
  TimestampType timestamp_type = TimestampType::kCreateTime;  // message.timestamp.type
  int32_t max_message_bytes = 1048588;                  // max.message.bytes
  bool cleanup_compact = false;                         // cleanup.policy contains compact
  bool cleanup_delete = true;                           // cleanup.policy contains delete
  int64_t delete_retention_ms = 24LL * 3600 * 1000;     // delete.retention.ms
  int64_t min_compaction_lag_ms = 0;                    // min.compaction.lag.ms
  int64_t max_compaction_lag_ms = kNever;               // max.compaction.lag.ms
  double min_cleanable_dirty_ratio = 0.5;               // min.cleanable.dirty.ratio
  int32_t min_insync_replicas = 1;                      // min.insync.replicas
  bool unclean_leader_election = false;                 // unclean.leader.election.enable
  std::string compression_type = "producer";            // compression.type
  int64_t file_delete_delay_ms = 60000;                 // file.delete.delay.ms
  int64_t message_timestamp_difference_max_ms = kNever; // message.timestamp.difference.max.ms
  int64_t producer_id_expiration_ms = 86'400'000;       // producer.id.expiration.ms (broker)

  // Applies one Kafka topic config. Unknown names are InvalidArgument.
  absl::Status Set(absl::string_view name, absl::string_view value);
  // The current value of `name` as Kafka prints it, or NotFound.
  absl::StatusOr<std::string> Get(absl::string_view name) const;
  // Every topic config name Strata knows, in a stable order.
  static const std::vector<std::string>& Names();
};

}  // namespace strata
