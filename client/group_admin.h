// GroupAdmin: consumer-group administration over Kafka's group APIs — find a group's
// coordinator, list, describe and delete groups, fetch a group's committed offsets and commit
// new ones from outside the group. Admin (client/admin.h) owns one and forwards to it; that is
// the usual way in:
//
//   ASSIGN_OR_RETURN(auto admin, Admin::Create({.bootstrap = {{"127.0.0.1", 9092}}}));
//   ASSIGN_OR_RETURN(std::vector<GroupListing> groups, admin->ListGroups());
//   ASSIGN_OR_RETURN(GroupDescription g, admin->DescribeGroup("billing"));
//   for (const GroupMemberDescription& m : g.members) {
//     // m.member_id, m.client_id, m.client_host ("/10.0.0.7"), m.assigned_partitions
//   }
//   ASSIGN_OR_RETURN(GroupOffsets committed, admin->FetchGroupOffsets("billing"));
//   if (g.state == "Empty" || g.state == "Dead") {   // nobody consuming: safe to move offsets
//     std::map<TopicPartition, int64_t> to = {{{"orders", 0}, 42}};
//     ASSIGN_OR_RETURN(PartitionResults r, admin->CommitGroupOffsets("billing", to));
//   }
//   RETURN_IF_ERROR(admin->DeleteGroup("billing"));   // NON_EMPTY_GROUP while it has members
//
// Coordinators. Every call about one group goes to that group's coordinator, found with
// FindCoordinator (key type 0 = group; v4's batched form when the broker has it, else v0-3)
// and cached per group. A call answered with COORDINATOR_LOAD_IN_PROGRESS (the coordinator is
// still replaying __consumer_offsets) is retried on the same coordinator; one answered with
// COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR, or whose connection failed, forgets the
// coordinator and looks it up again. Retries back off exponentially (retry_backoff_ms doubling
// up to retry_backoff_max_ms) until request_timeout_ms has passed since the call began; then the
// last error is returned. ListGroups asks every broker in the cluster metadata (each coordinates
// its own groups) and retries each the same way.
//
// Semantics are the broker's, as in Kafka:
//  - a group that does not exist is described as state "Dead" with no members (no error);
//  - CommitOffsets is a "simple" commit (generation -1, no member id): the coordinator accepts
//    it only while the group has no members and otherwise answers each partition with
//    UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION or REBALANCE_IN_PROGRESS; it creates the group
//    (state Empty) when there is none;
//  - DeleteGroup fails with GROUP_ID_NOT_FOUND (NotFound) for an unknown group and
//    NON_EMPTY_GROUP (FailedPrecondition) while the group has members.
// Kafka errors keep their names (client/errors.h).
//
// Thread-safe. The Cluster must outlive the GroupAdmin.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "client/cluster.h"

namespace strata::client {

struct GroupListing {
  std::string group_id;
  // "consumer" for groups of subscribing consumers; "" for a group that only holds offsets
  // committed from outside (CommitOffsets, assign-mode consumers).
  std::string protocol_type;
  std::string state;         // "Empty", "Stable", ...; "" when the broker is older than v4
  int32_t coordinator = -1;  // the broker that listed it
};

struct GroupMemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;  // static membership (KIP-345)
  std::string client_id;
  std::string client_host;  // as the coordinator saw the connection: "/127.0.0.1"
  std::string metadata;     // the member's protocol metadata (a "consumer" subscription)
  std::string assignment;   // the leader's assignment for it, raw
  // `assignment` decoded, for protocol type "consumer"; empty otherwise, while the group
  // rebalances, or when the bytes do not decode.
  std::vector<TopicPartition> assigned_partitions;
};

struct GroupDescription {
  std::string group_id;
  std::string state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
  std::string protocol_type;
  std::string protocol;  // the selected assignor ("range", ...), set while Stable
  std::vector<GroupMemberDescription> members;
  BrokerMetadata coordinator;
};

struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
};

// A group's committed offsets; partitions without one are absent.
using GroupOffsets = std::map<TopicPartition, CommittedOffset>;
// One result per partition of a commit.
using PartitionResults = std::map<TopicPartition, absl::Status>;

// The topic-partitions of a "consumer" protocol assignment (an int16 version, then
// ConsumerProtocolAssignment at that version; newer versions decode as the newest we know),
// sorted. Empty bytes are an empty assignment.
absl::StatusOr<std::vector<TopicPartition>> DecodeConsumerAssignment(absl::string_view bytes);

struct GroupAdminOptions {
  // Bounds every call, retries included.
  int64_t request_timeout_ms = 30'000;
  int64_t retry_backoff_ms = 50;
  int64_t retry_backoff_max_ms = 1'000;
  // Called with the error before each retry (for logging); may be empty.
  std::function<void(const absl::Status&)> on_retry;
};

class GroupAdmin {
 public:
  GroupAdmin(Cluster* cluster, GroupAdminOptions options);

  // The coordinator of `group`, looked up now (and cached for the calls below).
  absl::StatusOr<BrokerMetadata> FindCoordinator(const std::string& group);
  // Every group of every broker, sorted by id.
  absl::StatusOr<std::vector<GroupListing>> ListGroups();
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group);
  // Every committed offset of the group (OffsetFetch with topics = null; needs v2+). An unknown
  // group has none.
  absl::StatusOr<GroupOffsets> FetchOffsets(const std::string& group);
  // Commits `offsets` as a simple commit (see above). The call fails only when the coordinator
  // cannot be reached; per-partition errors are in the result.
  absl::StatusOr<PartitionResults> CommitOffsets(const std::string& group,
                                                 const std::map<TopicPartition, int64_t>& offsets);
  absl::Status DeleteGroup(const std::string& group);

 private:
  // One try: the coordinator's connection and identity. Returns the try's error, if any.
  using Attempt = absl::FunctionRef<absl::Status(Connection&, const BrokerMetadata&)>;
  // Runs `attempt` against the group's coordinator until it succeeds, fails with an error
  // that is not worth retrying, or the request timeout passes.
  absl::Status WithCoordinator(const std::string& group, Attempt attempt);
  // Runs `attempt` with backoff while it fails with a retriable coordinator error; `on_retry`
  // sees each such error first.
  absl::Status Retry(absl::FunctionRef<absl::Status()> attempt,
                     absl::FunctionRef<void(const absl::Status&)> on_retry);
  // The cached coordinator, or one FindCoordinator request.
  absl::StatusOr<BrokerMetadata> Coordinator(const std::string& group);
  absl::StatusOr<BrokerMetadata> LookupCoordinator(const std::string& group);
  absl::StatusOr<std::shared_ptr<Connection>> ConnectionTo(int32_t broker_id);
  void Forget(const std::string& group);
  absl::StatusOr<std::vector<GroupListing>> ListGroupsOf(int32_t broker_id);

  Cluster* const cluster_;
  const GroupAdminOptions options_;
  absl::Mutex mu_;
  std::map<std::string, BrokerMetadata> coordinators_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::client
