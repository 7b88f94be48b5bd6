#include "client/offsets.h"

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "protocol/errors.h"
#include "protocol/list_offsets.h"

namespace strata::client {

namespace {

constexpr int16_t kListOffsetsMaxVersion = 7;

// Asks one broker about `specs` (all led by it) and fills `results`.
void AskLeader(Cluster& cluster, int32_t leader, const std::map<TopicPartition, int64_t>& specs,
               int8_t isolation_level, OffsetResults* results) {
  auto fail_all = [&](const absl::Status& s) {
    for (const auto& [tp, spec] : specs) results->insert_or_assign(tp, s);
  };
  auto conn = cluster.ConnectionTo(leader);
  if (!conn.ok()) return fail_all(conn.status());
  auto version = (*conn)->PickVersion(protocol::ApiKey::kListOffsets, kListOffsetsMaxVersion);
  if (!version.ok()) return fail_all(version.status());
  protocol::ListOffsetsRequest req;
  req.replica_id = -1;
  req.isolation_level = isolation_level;
  for (const auto& [tp, spec] : specs) {
    if (req.topics.empty() || req.topics.back().name != tp.topic) {
      req.topics.push_back({.name = tp.topic, .partitions = {}});
    }
    req.topics.back().partitions.push_back(
        {.partition_index = tp.partition, .current_leader_epoch = -1, .timestamp = spec});
  }
  auto resp =
      (*conn)->Call<protocol::ListOffsetsRequest, protocol::ListOffsetsResponse>(req, *version);
  if (!resp.ok()) return fail_all(resp.status());
  for (const auto& [tp, spec] : specs) {
    results->insert_or_assign(
        tp, KafkaError(protocol::ErrorCode::kUnknownTopicOrPartition,
                       absl::StrCat("ListOffsets ", tp.ToString()), "missing from the response"));
  }
  for (const auto& t : resp->topics) {
    for (const auto& p : t.partitions) {
      TopicPartition tp{t.name, p.partition_index};
      if (!specs.contains(tp)) continue;
      if (p.error_code != 0) {
        results->insert_or_assign(
            tp, KafkaError(p.error_code, absl::StrCat("ListOffsets ", tp.ToString())));
      } else {
        results->insert_or_assign(tp, OffsetAndTimestamp{p.offset, p.timestamp, p.leader_epoch});
      }
    }
  }
}

void ListOnce(Cluster& cluster, const std::map<TopicPartition, int64_t>& specs,
              int8_t isolation_level, OffsetResults* results) {
  std::map<int32_t, std::map<TopicPartition, int64_t>> by_leader;
  for (const auto& [tp, spec] : specs) {
    auto leader = cluster.Leader(tp.topic, tp.partition);
    if (!leader.ok()) {
      results->insert_or_assign(tp, leader.status());
      continue;
    }
    by_leader[*leader][tp] = spec;
  }
  for (const auto& [leader, group] : by_leader) {
    AskLeader(cluster, leader, group, isolation_level, results);
  }
}

}  // namespace

absl::StatusOr<OffsetResults> ListOffsets(Cluster& cluster,
                                          const std::map<TopicPartition, int64_t>& specs,
                                          int8_t isolation_level) {
  OffsetResults results;
  ListOnce(cluster, specs, isolation_level, &results);
  std::map<TopicPartition, int64_t> retry;
  for (const auto& [tp, result] : results) {
    if (!result.ok() && IsRetriableError(result.status())) {
      cluster.Invalidate(tp.topic);
      retry[tp] = specs.at(tp);
    }
  }
  if (!retry.empty()) ListOnce(cluster, retry, isolation_level, &results);
  return results;
}

absl::StatusOr<OffsetAndTimestamp> ListOffset(Cluster& cluster, const TopicPartition& tp,
                                              int64_t spec, int8_t isolation_level) {
  ASSIGN_OR_RETURN(OffsetResults results, ListOffsets(cluster, {{tp, spec}}, isolation_level));
  return results.at(tp);
}

}  // namespace strata::client
