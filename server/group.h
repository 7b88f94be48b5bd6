// One consumer group's state as the coordinator keeps it (Kafka's GroupMetadata): members and
// their protocols, generation, leader, selected protocol, assignments and committed offsets.
// Plain data plus the small decisions that depend only on it (protocol selection, member
// bookkeeping); the state machine lives in GroupCoordinator, which guards every Group with its
// lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "server/group_records.h"
#include "server/scheduler.h"

namespace strata::server {

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };
// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" (DescribeGroups).
const char* GroupStateName(GroupState state);

using protocol::ErrorCode;

struct JoinMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;
};

struct JoinResult {
  ErrorCode error = ErrorCode::kNone;
  int32_t generation = -1;
  std::string protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<JoinMember> members;  // the leader's copy only
  bool skip_assignment = false;
};

struct SyncResult {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string assignment;
};

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata; preferred first
  std::string assignment;
  // In-flight requests of this member waiting for the rebalance to progress.
  std::function<void(JoinResult)> awaiting_join;
  std::function<void(SyncResult)> awaiting_sync;
  Scheduler::TaskId session_task = 0;
  int64_t last_heartbeat_ms = 0;

  const std::string* Metadata(const std::string& protocol) const;
};

struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp_ms = 0;
};

struct Group {
  std::string id;
  GroupState state = GroupState::kEmpty;
  int32_t generation = 0;
  std::string protocol_type;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  std::map<std::string, Member> members;              // by member id
  std::map<std::string, std::string> static_members;  // instance id -> member id
  std::set<std::string> pending_members;              // got MEMBER_ID_REQUIRED, not joined
  std::map<std::pair<std::string, int32_t>, CommittedOffset> offsets;
  int64_t state_since_ms = 0;
  // Rebalance bookkeeping.
  Scheduler::TaskId join_task = 0;
  int64_t rebalance_started_ms = 0;
  bool initial_rebalance = false;
  size_t members_at_delay = 0;  // initial delay: members when the current delay started
  bool persisting = false;      // the leader's assignment is being written

  bool Has(const std::string& member_id) const { return members.count(member_id) > 0; }
  bool IsLeader(const std::string& member_id) const { return leader == member_id; }
  // Protocols every member supports, each member voting for its most preferred one; the one
  // with the most votes (earliest in the first member's list on ties). nullopt if none.
  std::optional<std::string> SelectProtocol() const;
  // Whether a (prospective) member's protocols keep at least one protocol common to all.
  bool SupportsProtocols(const std::string& type,
                         const std::vector<std::pair<std::string, std::string>>& protocols) const;
  int32_t MaxRebalanceTimeoutMs() const;
  bool AllMembersJoined() const;
  // The record that persists this group (members with their assignments).
  GroupValue ToValue(int64_t now_ms) const;
  // Topics any member's subscription names ("consumer" protocol), for OffsetDelete.
  std::set<std::string> SubscribedTopics() const;
};

}  // namespace strata::server
