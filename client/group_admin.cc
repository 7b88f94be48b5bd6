#include "client/group_admin.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "protocol/consumer_protocol_assignment.h"
#include "protocol/delete_groups.h"
#include "protocol/describe_groups.h"
#include "protocol/errors.h"
#include "protocol/find_coordinator.h"
#include "protocol/list_groups.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_fetch.h"

namespace strata::client {

namespace {

using protocol::ApiKey;
using protocol::ErrorCode;

constexpr int8_t kGroupKeyType = 0;
constexpr int16_t kFindCoordinatorMaxVersion = 4;  // v4: batched keys (KIP-699)
constexpr int16_t kListGroupsMaxVersion = 5;
constexpr int16_t kDescribeGroupsMaxVersion = 5;
constexpr int16_t kOffsetFetchMaxVersion = 8;  // v8: batched groups (KIP-709)
constexpr int16_t kOffsetFetchAllMinVersion = 2;
constexpr int16_t kOffsetCommitMaxVersion = 8;
constexpr int16_t kDeleteGroupsMaxVersion = 2;

int64_t NowMs() { return Clock::System()->MonotonicMs(); }

// The errors after which asking (again, perhaps another broker) can succeed: the coordinator is
// loading, moved or unknown, or the connection to it failed.
bool IsCoordinatorRetriable(const absl::Status& s) {
  if (std::optional<ErrorCode> code = KafkaErrorOf(s)) {
    return *code == ErrorCode::kCoordinatorLoadInProgress ||
           *code == ErrorCode::kCoordinatorNotAvailable || *code == ErrorCode::kNotCoordinator;
  }
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

GroupMemberDescription ToMember(protocol::DescribeGroupsResponse::DescribedGroupMember& m,
                                bool consumer) {
  GroupMemberDescription out{.member_id = std::move(m.member_id),
                             .group_instance_id = std::move(m.group_instance_id),
                             .client_id = std::move(m.client_id),
                             .client_host = std::move(m.client_host),
                             .metadata = std::move(m.member_metadata),
                             .assignment = std::move(m.member_assignment),
                             .assigned_partitions = {}};
  if (consumer) {
    absl::StatusOr<std::vector<TopicPartition>> assigned = DecodeConsumerAssignment(out.assignment);
    if (assigned.ok()) out.assigned_partitions = std::move(*assigned);
  }
  return out;
}

// Adds one OffsetFetch answer (any version's topic/partition structs) to `out`; the first error
// found is returned.
template <typename Topics>
absl::Status CollectOffsets(const std::string& group, int16_t error, const Topics& topics,
                            GroupOffsets* out) {
  if (error != 0) return KafkaError(error, absl::StrCat("OffsetFetch ", group));
  out->clear();
  for (const auto& t : topics) {
    for (const auto& p : t.partitions) {
      TopicPartition tp{t.name, p.partition_index};
      if (p.error_code != 0) {
        return KafkaError(p.error_code, absl::StrCat("OffsetFetch ", group, " ", tp.ToString()));
      }
      if (p.committed_offset < 0) continue;  // nothing committed
      out->insert_or_assign(tp, CommittedOffset{p.committed_offset, p.committed_leader_epoch,
                                                p.metadata.value_or("")});
    }
  }
  return absl::OkStatus();
}

protocol::OffsetCommitRequest SimpleCommit(const std::string& group,
                                           const std::map<TopicPartition, int64_t>& offsets) {
  protocol::OffsetCommitRequest req;
  req.group_id = group;
  req.generation_id_or_member_epoch = -1;  // no generation, no member id: a "simple" commit
  req.member_id = "";
  req.retention_time_ms = -1;                 // v2-4: the broker's offsets.retention.minutes
  for (const auto& [tp, offset] : offsets) {  // sorted by topic, so each topic comes once
    if (req.topics.empty() || req.topics.back().name != tp.topic) {
      req.topics.emplace_back().name = tp.topic;
    }
    auto& p = req.topics.back().partitions.emplace_back();
    p.partition_index = tp.partition;
    p.committed_offset = offset;
  }
  return req;
}

}  // namespace

absl::StatusOr<std::vector<TopicPartition>> DecodeConsumerAssignment(absl::string_view bytes) {
  std::vector<TopicPartition> out;
  if (bytes.empty()) return out;
  protocol::Reader r(AsBytes(bytes));
  ASSIGN_OR_RETURN(int16_t version, r.Read<int16_t>());
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat("consumer assignment version ", version));
  }
  protocol::ConsumerProtocolAssignment assignment;
  RETURN_IF_ERROR(assignment.Decode(
      r, std::min<int16_t>(version, protocol::ConsumerProtocolAssignment::kMaxVersion)));
  for (const auto& t : assignment.assigned_partitions) {
    for (int32_t p : t.partitions) out.push_back({t.topic, p});
  }
  std::sort(out.begin(), out.end());
  return out;
}

GroupAdmin::GroupAdmin(Cluster* cluster, GroupAdminOptions options)
    : cluster_(cluster), options_(std::move(options)) {}

absl::Status GroupAdmin::Retry(absl::FunctionRef<absl::Status()> attempt,
                               absl::FunctionRef<void(const absl::Status&)> on_retry) {
  const int64_t deadline_ms = NowMs() + options_.request_timeout_ms;
  int64_t backoff_ms = std::max<int64_t>(1, options_.retry_backoff_ms);
  while (true) {
    absl::Status s = attempt();
    if (s.ok() || !IsCoordinatorRetriable(s)) return s;
    int64_t left_ms = deadline_ms - NowMs();
    if (left_ms <= 0) return s;
    on_retry(s);
    if (options_.on_retry) options_.on_retry(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(backoff_ms, left_ms)));
    backoff_ms = std::min(backoff_ms * 2, std::max(backoff_ms, options_.retry_backoff_max_ms));
  }
}

absl::Status GroupAdmin::WithCoordinator(const std::string& group, Attempt attempt) {
  return Retry(
      [&]() -> absl::Status {
        ASSIGN_OR_RETURN(BrokerMetadata coordinator, Coordinator(group));
        ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, ConnectionTo(coordinator.id));
        return attempt(*conn, coordinator);
      },
      [&](const absl::Status& s) {
        // A loading coordinator is the right one, just not ready; anything else: look again.
        if (KafkaErrorOf(s) != ErrorCode::kCoordinatorLoadInProgress) Forget(group);
      });
}

absl::StatusOr<BrokerMetadata> GroupAdmin::Coordinator(const std::string& group) {
  {
    absl::MutexLock lock(&mu_);
    auto it = coordinators_.find(group);
    if (it != coordinators_.end()) return it->second;
  }
  return LookupCoordinator(group);
}

absl::StatusOr<BrokerMetadata> GroupAdmin::LookupCoordinator(const std::string& group) {
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, cluster_->AnyConnection());
  ASSIGN_OR_RETURN(int16_t version,
                   conn->PickVersion(ApiKey::kFindCoordinator, kFindCoordinatorMaxVersion));
  protocol::FindCoordinatorRequest req;
  req.key_type = kGroupKeyType;
  if (version >= 4) {
    req.coordinator_keys = {group};
  } else {
    req.key = group;
  }
  ASSIGN_OR_RETURN(auto resp,
                   (conn->Call<protocol::FindCoordinatorRequest, protocol::FindCoordinatorResponse>(
                       req, version)));
  if (version >= 4 && resp.coordinators.size() != 1) {
    return KafkaError(ErrorCode::kCoordinatorNotAvailable, absl::StrCat("FindCoordinator ", group),
                      absl::StrCat(resp.coordinators.size(), " coordinators in the answer"));
  }
  // v4 answers in coordinators[0]; older versions at the top level, with the same fields.
  auto take = [&](const auto& c) -> absl::StatusOr<BrokerMetadata> {
    if (c.error_code != 0) {
      return KafkaError(c.error_code, absl::StrCat("FindCoordinator ", group), c.error_message);
    }
    return BrokerMetadata{c.node_id, HostPort{c.host, c.port}};
  };
  ASSIGN_OR_RETURN(BrokerMetadata found, version >= 4 ? take(resp.coordinators[0]) : take(resp));
  absl::MutexLock lock(&mu_);
  coordinators_[group] = found;
  return found;
}

absl::StatusOr<std::shared_ptr<Connection>> GroupAdmin::ConnectionTo(int32_t broker_id) {
  absl::StatusOr<std::shared_ptr<Connection>> conn = cluster_->ConnectionTo(broker_id);
  if (KafkaErrorOf(conn.status()) != ErrorCode::kBrokerNotAvailable) return conn;
  // A broker the cached metadata does not know yet (it joined since): refresh and try again.
  RETURN_IF_ERROR(cluster_->AllTopics().status());
  return cluster_->ConnectionTo(broker_id);
}

void GroupAdmin::Forget(const std::string& group) {
  absl::MutexLock lock(&mu_);
  coordinators_.erase(group);
}

absl::StatusOr<BrokerMetadata> GroupAdmin::FindCoordinator(const std::string& group) {
  Forget(group);
  BrokerMetadata out;
  RETURN_IF_ERROR(WithCoordinator(group, [&](Connection&, const BrokerMetadata& coordinator) {
    out = coordinator;
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<GroupListing>> GroupAdmin::ListGroups() {
  std::vector<BrokerMetadata> brokers = cluster_->Brokers();
  if (brokers.empty()) {
    RETURN_IF_ERROR(cluster_->AllTopics().status());
    brokers = cluster_->Brokers();
  }
  std::map<std::string, GroupListing> by_id;
  for (const BrokerMetadata& b : brokers) {
    ASSIGN_OR_RETURN(std::vector<GroupListing> listed, ListGroupsOf(b.id));
    for (GroupListing& g : listed) by_id.emplace(g.group_id, std::move(g));
  }
  std::vector<GroupListing> out;
  for (auto& [id, g] : by_id) out.push_back(std::move(g));
  return out;
}

absl::StatusOr<std::vector<GroupListing>> GroupAdmin::ListGroupsOf(int32_t broker_id) {
  std::vector<GroupListing> out;
  auto attempt = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, ConnectionTo(broker_id));
    ASSIGN_OR_RETURN(int16_t version,
                     conn->PickVersion(ApiKey::kListGroups, kListGroupsMaxVersion));
    protocol::ListGroupsRequest req;  // no state or type filter: every group
    ASSIGN_OR_RETURN(
        auto resp,
        (conn->Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(req, version)));
    if (resp.error_code != 0) {
      return KafkaError(resp.error_code, absl::StrCat("ListGroups on broker ", broker_id));
    }
    out.clear();
    for (auto& g : resp.groups) {
      out.push_back(
          {std::move(g.group_id), std::move(g.protocol_type), std::move(g.group_state), broker_id});
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Retry(attempt, [](const absl::Status&) {}));
  return out;
}

absl::StatusOr<GroupDescription> GroupAdmin::DescribeGroup(const std::string& group) {
  GroupDescription out;
  auto attempt = [&](Connection& conn, const BrokerMetadata& coordinator) -> absl::Status {
    ASSIGN_OR_RETURN(int16_t version,
                     conn.PickVersion(ApiKey::kDescribeGroups, kDescribeGroupsMaxVersion));
    protocol::DescribeGroupsRequest req;
    req.groups = {group};
    ASSIGN_OR_RETURN(auto resp,
                     (conn.Call<protocol::DescribeGroupsRequest, protocol::DescribeGroupsResponse>(
                         req, version)));
    if (resp.groups.size() != 1 || resp.groups[0].group_id != group) {
      return absl::InternalError(absl::StrCat("DescribeGroups ", group, ": no result for it"));
    }
    auto& g = resp.groups[0];
    if (g.error_code != 0) return KafkaError(g.error_code, absl::StrCat("DescribeGroups ", group));
    out = {.group_id = group,
           .state = std::move(g.group_state),
           .protocol_type = std::move(g.protocol_type),
           .protocol = std::move(g.protocol_data),
           .members = {},
           .coordinator = coordinator};
    for (auto& m : g.members) out.members.push_back(ToMember(m, out.protocol_type == "consumer"));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(WithCoordinator(group, attempt));
  return out;
}

absl::StatusOr<GroupOffsets> GroupAdmin::FetchOffsets(const std::string& group) {
  GroupOffsets out;
  auto attempt = [&](Connection& conn, const BrokerMetadata&) -> absl::Status {
    ASSIGN_OR_RETURN(int16_t version,
                     conn.PickVersion(ApiKey::kOffsetFetch, kOffsetFetchMaxVersion));
    if (version < kOffsetFetchAllMinVersion) {
      return KafkaError(
          ErrorCode::kUnsupportedVersion, absl::StrCat("OffsetFetch ", group),
          absl::StrCat("fetching every partition needs v2+; the broker has v", version));
    }
    protocol::OffsetFetchRequest req;
    if (version >= 8) {
      auto& g = req.groups.emplace_back();
      g.group_id = group;
      g.topics.reset();  // null: every partition with a committed offset
    } else {
      req.group_id = group;
      req.topics.reset();
    }
    ASSIGN_OR_RETURN(
        auto resp,
        (conn.Call<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(req, version)));
    if (version < 8) return CollectOffsets(group, resp.error_code, resp.topics, &out);
    if (resp.groups.size() != 1 || resp.groups[0].group_id != group) {
      return absl::InternalError(absl::StrCat("OffsetFetch ", group, ": no result for it"));
    }
    return CollectOffsets(group, resp.groups[0].error_code, resp.groups[0].topics, &out);
  };
  RETURN_IF_ERROR(WithCoordinator(group, attempt));
  return out;
}

absl::StatusOr<PartitionResults> GroupAdmin::CommitOffsets(
    const std::string& group, const std::map<TopicPartition, int64_t>& offsets) {
  PartitionResults out;
  auto attempt = [&](Connection& conn, const BrokerMetadata&) -> absl::Status {
    ASSIGN_OR_RETURN(int16_t version,
                     conn.PickVersion(ApiKey::kOffsetCommit, kOffsetCommitMaxVersion));
    ASSIGN_OR_RETURN(auto resp,
                     (conn.Call<protocol::OffsetCommitRequest, protocol::OffsetCommitResponse>(
                         SimpleCommit(group, offsets), version)));
    out.clear();
    for (const auto& [tp, offset] : offsets) {
      out.insert_or_assign(tp, KafkaError(ErrorCode::kUnknownTopicOrPartition,
                                          absl::StrCat("OffsetCommit ", group, " ", tp.ToString()),
                                          "missing from the response"));
    }
    absl::Status coordinator_error;  // the whole commit is retried when the coordinator is not
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) {
        TopicPartition tp{t.name, p.partition_index};
        absl::Status s = p.error_code == 0
                             ? absl::OkStatus()
                             : KafkaError(p.error_code,
                                          absl::StrCat("OffsetCommit ", group, " ", tp.ToString()));
        if (IsCoordinatorRetriable(s)) coordinator_error = s;
        if (offsets.contains(tp)) out.insert_or_assign(tp, std::move(s));
      }
    }
    return coordinator_error;
  };
  RETURN_IF_ERROR(WithCoordinator(group, attempt));
  return out;
}

absl::Status GroupAdmin::DeleteGroup(const std::string& group) {
  return WithCoordinator(group, [&](Connection& conn, const BrokerMetadata&) -> absl::Status {
    ASSIGN_OR_RETURN(int16_t version,
                     conn.PickVersion(ApiKey::kDeleteGroups, kDeleteGroupsMaxVersion));
    protocol::DeleteGroupsRequest req;
    req.groups_names = {group};
    ASSIGN_OR_RETURN(
        auto resp,
        (conn.Call<protocol::DeleteGroupsRequest, protocol::DeleteGroupsResponse>(req, version)));
    for (const auto& r : resp.results) {
      if (r.group_id != group) continue;
      if (r.error_code == 0) return absl::OkStatus();
      return KafkaError(r.error_code, absl::StrCat("DeleteGroups ", group));
    }
    return absl::InternalError(absl::StrCat("DeleteGroups ", group, ": no result for it"));
  });
}

}  // namespace strata::client
