// GroupCoordinator: Kafka's classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) and committed offsets (OffsetCommit, OffsetFetch, OffsetDelete), plus
// DescribeGroups, ListGroups and DeleteGroups. Groups live in the coordinator's memory and are
// persisted as records of __consumer_offsets (server/group_records.h) through a GroupStorage; at
// startup each partition of that topic is replayed (Load) before its groups are served
// (COORDINATOR_LOAD_IN_PROGRESS until then).
//
// State machine (per group), as Kafka's:
//   Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
//   CompletingRebalance --leader's SyncGroup persisted--> Stable
//   Stable --join with new metadata / member leaves / session expires--> PreparingRebalance
//   any --last member gone--> Empty;  Empty --deleted / offsets expired--> Dead
// Timers (session timeouts, rebalance deadlines, group.initial.rebalance.delay.ms, offset
// retention) run on a Scheduler, so tests drive them with a ManualClock and no sleeps.
//
// Thread safety: every method may be called from any thread; one mutex guards all groups.
// Callbacks (join, sync, commit results) run without the lock held, possibly on the scheduler's
// or the storage's thread, possibly before the method returns.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "server/broker_config.h"
#include "server/group.h"
#include "server/scheduler.h"

namespace strata::server {

// Where the coordinator writes its records: (key, value) pairs, nullopt value = tombstone, all
// for the __consumer_offsets partition of `group`. `done` runs once the records are appended
// (and flushed, per the topic's policy); it may run before Append returns.
class GroupStorage {
 public:
  virtual ~GroupStorage() = default;
  using RecordList = std::vector<std::pair<std::string, std::optional<std::string>>>;
  virtual void Append(const std::string& group, RecordList records,
                      std::function<void(absl::Status)> done) = 0;
};

struct JoinRequest {
  std::string group_id;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;  // v0: the session timeout
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;
  bool require_known_member_id = false;  // JoinGroup v4+ (KIP-394)
};

struct SyncRequest {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<std::pair<std::string, std::string>> assignments;  // leader only
};

struct MemberRef {
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

struct OffsetCommitEntry {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
};

struct OffsetFetchEntry {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  ErrorCode error = ErrorCode::kNone;
};

struct GroupDescription {
  ErrorCode error = ErrorCode::kNone;
  std::string group_id;
  std::string state;
  std::string protocol_type;
  std::string protocol;
  struct MemberInfo {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;
    std::string assignment;
  };
  std::vector<MemberInfo> members;
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  std::string state;
};

class GroupCoordinator {
 public:
  GroupCoordinator(GroupConfig config, Clock* clock, Scheduler* scheduler, GroupStorage* storage);
  ~GroupCoordinator();

  // ---- loading (startup) ----
  // Applies one record of __consumer_offsets partition `partition` (in log order).
  void LoadRecord(int32_t partition, absl::string_view key, std::optional<absl::string_view> value);
  // Marks the partition loaded: its groups are served from now on, restored members get fresh
  // session timers.
  void FinishLoading(int32_t partition);
  bool IsLoaded(const std::string& group) const;
  // Forgets every group (broker shutdown): requests parked in a rebalance are answered with
  // NOT_COORDINATOR so clients look for the coordinator again, and timers are cancelled.
  void Unload();
  // Forgets the groups of one partition the same way (cluster mode: its leadership moved away,
  // or it is about to be replayed because this broker became its leader).
  void UnloadPartition(int32_t partition);
  // Cluster mode: whether this broker leads a __consumer_offsets partition (set before use).
  void set_ownership(std::function<bool(int32_t partition)> owns) { owns_ = std::move(owns); }

  // ---- membership ----
  void Join(const JoinRequest& req, std::function<void(JoinResult)> done);
  void Sync(const SyncRequest& req, std::function<void(SyncResult)> done);
  ErrorCode Heartbeat(const std::string& group_id, int32_t generation, const std::string& member_id,
                      const std::optional<std::string>& group_instance_id);
  // Top-level error plus one error per member.
  std::pair<ErrorCode, std::vector<ErrorCode>> Leave(const std::string& group_id,
                                                     const std::vector<MemberRef>& members);

  // ---- offsets ----
  // `generation` -1 with an empty member id is a "simple" commit (no group membership), allowed
  // while the group has no members. done(top-level error, one error per entry).
  void CommitOffsets(const std::string& group_id, int32_t generation, const std::string& member_id,
                     const std::optional<std::string>& group_instance_id,
                     std::vector<OffsetCommitEntry> entries,
                     std::function<void(ErrorCode, std::vector<ErrorCode>)> done);
  // `partitions` nullopt: every committed offset of the group.
  std::pair<ErrorCode, std::vector<OffsetFetchEntry>> FetchOffsets(
      const std::string& group_id,
      const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions);
  // done(top-level error, per-partition errors) for OffsetDelete.
  void DeleteOffsets(const std::string& group_id,
                     const std::vector<std::pair<std::string, int32_t>>& partitions,
                     std::function<void(ErrorCode, std::vector<ErrorCode>)> done);

  // ---- administration ----
  GroupDescription Describe(const std::string& group_id);
  std::vector<GroupListing> List(const std::set<std::string>& states_filter);
  void Delete(const std::string& group_id, std::function<void(ErrorCode)> done);
  // Drops offsets of empty groups older than the retention (also runs on its own timer).
  void ExpireOffsets();

  const GroupConfig& config() const { return config_; }

 private:
  using Outbox = std::vector<std::function<void()>>;
  void UnloadPartitions(std::optional<int32_t> only);
  void Flush(Outbox& outbox);
  Group* FindLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Group& GetOrCreateLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool LoadedLocked(const std::string& group) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The error for a group whose partition is not loaded: NOT_COORDINATOR when another broker
  // leads that partition (cluster mode), else COORDINATOR_LOAD_IN_PROGRESS.
  ErrorCode NotLoadedLocked(const std::string& group) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ErrorCode ValidateJoinLocked(const JoinRequest& req, Group* group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JoinNewMemberLocked(Group& g, const JoinRequest& req, std::function<void(JoinResult)> done,
                           Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JoinStaticMemberLocked(Group& g, const JoinRequest& req,
                              std::function<void(JoinResult)> done, Outbox& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JoinKnownMemberLocked(Group& g, const JoinRequest& req, std::function<void(JoinResult)> done,
                             Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Member& AddMemberLocked(Group& g, const std::string& member_id, const JoinRequest& req)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PrepareRebalanceLocked(Group& g, const char* reason, Outbox& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCompleteJoinLocked(Group& g, Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompleteJoinLocked(Group& g, Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveMemberLocked(Group& g, const std::string& member_id, const char* reason, Outbox& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleSessionLocked(Group& g, Member& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnSessionTimeout(const std::string& group_id, const std::string& member_id);
  void OnJoinDeadline(const std::string& group_id, int32_t generation);
  void PersistAssignmentLocked(Group& g, std::map<std::string, std::string> assignments,
                               Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailSyncsLocked(Group& g, ErrorCode error, Outbox& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  JoinResult JoinResultLocked(const Group& g, const std::string& member_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleExpiry();
  void ForgetGroup(const std::string& group_id, const absl::Status& written);
  void ApplyCommit(const std::string& group_id, const std::vector<OffsetCommitEntry>& entries,
                   int64_t now, const absl::Status& written, std::vector<ErrorCode>& errors);

  GroupConfig config_;
  std::function<bool(int32_t)> owns_;  // unset: a single broker owns every partition
  Clock* clock_;
  Scheduler* scheduler_;
  GroupStorage* storage_;
  mutable absl::Mutex mu_;
  std::map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);
  std::set<int32_t> loaded_partitions_ ABSL_GUARDED_BY(mu_);
  uint64_t member_counter_ ABSL_GUARDED_BY(mu_) = 0;
  Scheduler::TaskId expiry_task_ = 0;
};

}  // namespace strata::server
