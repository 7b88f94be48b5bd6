// strata group reset-offsets: moves a consumer group's committed offsets (like
// kafka-consumer-groups --reset-offsets, except that it commits unless --dry-run is given).
//
//   strata group reset-offsets billing --bootstrap B --topic orders:0,1 --to-offset 100
//   strata group reset-offsets billing --bootstrap B --all-topics --to-datetime
//   2024-05-01T12:00:00Z
//
// The flag parsing lives here, separate from the run, so it can be tested without a broker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/admin.h"
#include "tools/cli.h"

namespace strata::tools {

extern const char kGroupResetUsage[];

// "T" (every partition of T) or "T:P1,P2,..." (those partitions).
struct TopicSelection {
  std::string topic;
  std::vector<int32_t> partitions;  // empty: all
};
absl::StatusOr<TopicSelection> ParseTopicSelection(absl::string_view text);

// ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fraction]" with an optional zone, "Z" or "+HH:MM"/"-HH:MM"
// (none: UTC), as milliseconds since the Unix epoch (fractions below a millisecond dropped).
absl::StatusOr<int64_t> ParseDateTimeMs(absl::string_view text);

// Where the offsets go.
struct ResetTarget {
  enum class Kind { kEarliest, kLatest, kOffset, kShiftBy, kDateTime } kind = Kind::kEarliest;
  int64_t value = 0;  // the offset, the shift, or the timestamp in ms
};

struct ResetOptions {
  std::vector<TopicSelection> topics;  // empty with all_topics
  bool all_topics = false;
  ResetTarget target;
  bool dry_run = false;
};
// From the command's flags; InvalidArgument (a usage error) when they are inconsistent.
absl::StatusOr<ResetOptions> ParseResetOptions(const cli::Args& args);

// The new offset of a partition whose log spans [log_start, log_end), given its committed
// offset (-1: none) and, for kDateTime, the first offset at or after the time (-1: none, so
// the log end). Clamped to [log_start, log_end]. FailedPrecondition for kShiftBy without a
// committed offset.
absl::StatusOr<int64_t> NewOffset(const ResetTarget& target, int64_t committed, int64_t log_start,
                                  int64_t log_end, int64_t offset_at_time);

// Runs the command for `group`; returns the exit code (0 done, 1 failed or refused).
int ResetOffsets(client::Admin& admin, const std::string& group, const ResetOptions& options);

}  // namespace strata::tools
