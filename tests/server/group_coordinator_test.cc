// The group state machine on a manual clock: no sleeps, every timeout driven by hand.
#include "server/group_coordinator.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/writer.h"

namespace strata::server {
namespace {

class MemoryStorage : public GroupStorage {
 public:
  void Append(const std::string& group, RecordList records,
              std::function<void(absl::Status)> done) override {
    for (auto& r : records) log.push_back({group, r});
    done(fail ? absl::UnavailableError("injected") : absl::OkStatus());
  }
  std::vector<std::pair<std::string, std::pair<std::string, std::optional<std::string>>>> log;
  bool fail = false;
};

std::string Subscription(std::vector<std::string> topics) {
  protocol::ConsumerProtocolSubscription sub;
  sub.topics = std::move(topics);
  std::string out;
  protocol::Writer w(&out);
  w.Write(int16_t{0});
  sub.Encode(w, 0);
  return out;
}

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  GroupCoordinatorTest() { Reset(0); }
  void Reset(int32_t initial_delay) {
    GroupConfig config;
    config.initial_rebalance_delay_ms = initial_delay;
    config.max_size = 3;
    coordinator_ = std::make_unique<GroupCoordinator>(config, &clock_, &scheduler_, &storage_);
    for (int p = 0; p < config.num_partitions; ++p) coordinator_->FinishLoading(p);
  }
  struct Pending {
    std::shared_ptr<std::optional<JoinResult>> result =
        std::make_shared<std::optional<JoinResult>>();
    bool done() const { return result->has_value(); }
    const JoinResult& operator*() const { return **result; }
    const JoinResult* operator->() const { return &**result; }
  };
  Pending Join(const std::string& member,
               std::vector<std::pair<std::string, std::string>> protocols = {{"range", "r"}},
               std::optional<std::string> instance = std::nullopt, std::string type = "consumer") {
    JoinRequest req{"g",
                    member,
                    instance,
                    "client",
                    "/127.0.0.1",
                    10000,
                    30000,
                    type,
                    std::move(protocols),
                    /*require_known_member_id=*/false};
    Pending p;
    coordinator_->Join(req, [r = p.result](JoinResult res) { *r = res; });
    return p;
  }
  // Joins a new member to completion of the join phase (when it completes at once).
  std::string JoinNew(std::optional<std::string> instance = std::nullopt) {
    auto p = Join("", {{"range", "r"}}, instance);
    EXPECT_TRUE(p.done());
    return p.done() ? p->member_id : "";
  }
  std::shared_ptr<std::optional<SyncResult>> Sync(
      const std::string& member, int32_t generation,
      std::vector<std::pair<std::string, std::string>> a = {}) {
    auto out = std::make_shared<std::optional<SyncResult>>();
    coordinator_->Sync(
        {"g", generation, member, std::nullopt, std::nullopt, std::nullopt, std::move(a)},
        [out](SyncResult r) { *out = r; });
    return out;
  }
  std::vector<ErrorCode> Commit(int32_t generation, const std::string& member, int64_t offset) {
    std::vector<ErrorCode> errors;
    coordinator_->CommitOffsets("g", generation, member, std::nullopt, {{"t", 0, offset, -1, "m"}},
                                [&](ErrorCode, std::vector<ErrorCode> e) { errors = e; });
    return errors;
  }
  void Advance(int64_t ms) {
    clock_.AdvanceMs(ms);
    scheduler_.RunDue();
  }
  std::string State() { return coordinator_->Describe("g").state; }
  // Feeds everything written so far to `other`, as a broker restart would; returns the
  // partition of group "g" (not yet marked loaded).
  int32_t Replay(GroupCoordinator& other) {
    int32_t partition = CoordinatorPartition("g", other.config().num_partitions);
    for (const auto& [group, record] : storage_.log) {
      std::optional<absl::string_view> value;
      if (record.second.has_value()) value = *record.second;
      other.LoadRecord(partition, record.first, value);
    }
    return partition;
  }

  ManualClock clock_;
  ManualScheduler scheduler_{&clock_};
  MemoryStorage storage_;
  std::unique_ptr<GroupCoordinator> coordinator_;
};

TEST_F(GroupCoordinatorTest, MemberIdRequiredThenJoinSyncStable) {
  JoinRequest req{"g",   "",    std::nullopt, "client",         "/h",
                  10000, 30000, "consumer",   {{"range", "r"}}, true};
  std::optional<JoinResult> first;
  coordinator_->Join(req, [&](JoinResult r) { first = r; });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->error, ErrorCode::kMemberIdRequired);
  ASSERT_FALSE(first->member_id.empty());
  req.member_id = first->member_id;
  std::optional<JoinResult> joined;
  coordinator_->Join(req, [&](JoinResult r) { joined = r; });
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->error, ErrorCode::kNone);
  EXPECT_EQ(joined->generation, 1);
  EXPECT_EQ(joined->leader, first->member_id);
  EXPECT_EQ(joined->protocol_name, "range");
  ASSERT_EQ(joined->members.size(), 1u) << "the leader sees the members";
  EXPECT_EQ(State(), "CompletingRebalance");
  auto sync = Sync(joined->member_id, 1, {{joined->member_id, "assignment-bytes"}});
  ASSERT_TRUE(sync->has_value());
  EXPECT_EQ((*sync)->assignment, "assignment-bytes");
  EXPECT_EQ(State(), "Stable");
  EXPECT_EQ(coordinator_->Heartbeat("g", 1, joined->member_id, std::nullopt), ErrorCode::kNone);
  EXPECT_EQ(coordinator_->Heartbeat("g", 0, joined->member_id, std::nullopt),
            ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coordinator_->Heartbeat("g", 1, "nobody", std::nullopt), ErrorCode::kUnknownMemberId);
  ASSERT_FALSE(storage_.log.empty()) << "the assignment is persisted";
  EXPECT_EQ(storage_.log.back().second.first, EncodeKey(GroupKey{"g"}));
}

TEST_F(GroupCoordinatorTest, SecondMemberTriggersRebalanceAndSyncWaitsForLeader) {
  std::string a = JoinNew();
  ASSERT_TRUE(Sync(a, 1, {{a, "A1"}})->has_value());
  auto b = Join("");
  EXPECT_FALSE(b.done()) << "waits for the existing member to rejoin";
  EXPECT_EQ(coordinator_->Heartbeat("g", 1, a, std::nullopt), ErrorCode::kRebalanceInProgress);
  auto a2 = Join(a);
  ASSERT_TRUE(a2.done() && b.done());
  EXPECT_EQ(a2->generation, 2);
  EXPECT_EQ(b->generation, 2);
  std::string leader = a2->leader;
  EXPECT_EQ(leader, a) << "the leader stays";
  EXPECT_EQ(a2->members.size(), 2u);
  EXPECT_TRUE(b->members.empty()) << "followers get no member list";
  auto follower_sync = Sync(b->member_id, 2);
  EXPECT_FALSE(follower_sync->has_value()) << "a follower waits for the leader's assignment";
  auto leader_sync = Sync(a, 2, {{a, "A2"}, {b->member_id, "B2"}});
  ASSERT_TRUE(follower_sync->has_value() && leader_sync->has_value());
  EXPECT_EQ((*follower_sync)->assignment, "B2");
  EXPECT_EQ((*leader_sync)->assignment, "A2");
  EXPECT_EQ(State(), "Stable");
}

TEST_F(GroupCoordinatorTest, SessionTimeoutRemovesASilentMember) {
  std::string a = JoinNew();
  Sync(a, 1, {{a, ""}});
  auto b = Join("");
  Join(a);
  Sync(a, 2, {});
  Sync(b->member_id, 2);
  ASSERT_EQ(State(), "Stable");
  for (int i = 0; i < 3; ++i) {
    Advance(3000);
    ASSERT_EQ(coordinator_->Heartbeat("g", 2, a, std::nullopt), ErrorCode::kNone) << i;
  }
  Advance(2000);  // b never heartbeat: 11 s > its 10 s session
  EXPECT_EQ(coordinator_->Heartbeat("g", 2, b->member_id, std::nullopt),
            ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_->Heartbeat("g", 2, a, std::nullopt), ErrorCode::kRebalanceInProgress);
  auto again = Join(a);
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again->generation, 3);
  EXPECT_EQ(again->members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, RebalanceTimeoutDropsMembersThatDoNotRejoin) {
  std::string a = JoinNew();
  Sync(a, 1, {});
  auto b = Join("");
  Join(a);
  Sync(a, 2, {});
  auto c = Join("");  // rebalance to generation 3
  ASSERT_FALSE(c.done());
  auto a3 = Join(a);  // a rejoins, b does not (but keeps heartbeating)
  for (int i = 0; i < 10 && !a3.done(); ++i) {
    Advance(3000);
    coordinator_->Heartbeat("g", 2, b->member_id, std::nullopt);
  }
  ASSERT_TRUE(a3.done() && c.done()) << "the rebalance timeout (30 s) completed the join";
  EXPECT_EQ(a3->generation, 3);
  EXPECT_EQ(a3->members.size(), 2u) << "b was dropped";
  EXPECT_EQ(coordinator_->Heartbeat("g", 3, b->member_id, std::nullopt),
            ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, InitialRebalanceDelayCollectsMembers) {
  Reset(3000);
  auto a = Join("");
  EXPECT_FALSE(a.done());
  Advance(1000);
  auto b = Join("");
  Advance(2000);
  EXPECT_FALSE(a.done()) << "b arrived during the delay: wait another delay";
  Advance(3000);
  ASSERT_TRUE(a.done() && b.done());
  EXPECT_EQ(a->generation, 1);
  EXPECT_EQ(a->leader.empty(), false);
}

TEST_F(GroupCoordinatorTest, ProtocolSelectionAndConsistency) {
  auto a = Join("", {{"range", "1"}, {"roundrobin", "2"}});
  std::string a_id = a->member_id;
  auto b = Join("", {{"roundrobin", "3"}, {"range", "4"}});
  auto c = Join("", {{"roundrobin", "5"}});
  auto a2 = Join(a_id, {{"range", "1"}, {"roundrobin", "2"}});
  ASSERT_TRUE(a2.done());
  EXPECT_EQ(a2->protocol_name, "roundrobin") << "the only protocol all support";
  auto other = Join("", {{"sticky", "x"}});
  EXPECT_EQ(other->error, ErrorCode::kInconsistentGroupProtocol);
  auto connect = Join("", {{"roundrobin", "x"}}, std::nullopt, "connect");
  EXPECT_EQ(connect->error, ErrorCode::kInconsistentGroupProtocol);
  auto full = Join("", {{"roundrobin", "x"}});
  EXPECT_EQ(full->error, ErrorCode::kGroupMaxSizeReached) << "group.max.size = 3";
}

TEST_F(GroupCoordinatorTest, StaticMemberRejoinsWithoutRebalance) {
  std::string a = JoinNew("instance-a");
  Sync(a, 1, {{a, "A"}});
  auto b = Join("");
  Join(a);
  Sync(b->member_id, 2);
  Sync(a, 2, {{a, "A"}, {b->member_id, "B"}});
  ASSERT_EQ(State(), "Stable");
  auto again = Join("", {{"range", "r"}}, "instance-a");  // restarted: no member id
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again->error, ErrorCode::kNone);
  EXPECT_EQ(again->generation, 2) << "no new generation";
  EXPECT_NE(again->member_id, a);
  EXPECT_EQ(State(), "Stable");
  EXPECT_EQ(coordinator_->Heartbeat("g", 2, b->member_id, std::nullopt), ErrorCode::kNone)
      << "the other member sees no rebalance";
  auto sync = Sync(again->member_id, 2);
  ASSERT_TRUE(sync->has_value());
  EXPECT_EQ((*sync)->assignment, "A") << "the old assignment carries over";
  EXPECT_EQ(coordinator_->Heartbeat("g", 2, a, std::nullopt), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_->Heartbeat("g", 2, b->member_id, std::string("instance-a")),
            ErrorCode::kFencedInstanceId);
}

TEST_F(GroupCoordinatorTest, OffsetCommitChecksGenerationAndMember) {
  EXPECT_EQ(Commit(-1, "", 5), std::vector<ErrorCode>{ErrorCode::kNone}) << "a simple commit";
  std::string a = JoinNew();
  EXPECT_EQ(Commit(1, a, 6), std::vector<ErrorCode>{ErrorCode::kRebalanceInProgress})
      << "CompletingRebalance";
  Sync(a, 1, {});
  EXPECT_EQ(Commit(1, a, 7), std::vector<ErrorCode>{ErrorCode::kNone});
  EXPECT_EQ(Commit(0, a, 8), std::vector<ErrorCode>{ErrorCode::kIllegalGeneration})
      << "old generation";
  EXPECT_EQ(Commit(1, "stranger", 9), std::vector<ErrorCode>{ErrorCode::kUnknownMemberId});
  EXPECT_EQ(Commit(-1, "", 10), std::vector<ErrorCode>{ErrorCode::kUnknownMemberId})
      << "no simple commits while the group has members (Kafka answers UNKNOWN_MEMBER_ID)";
  auto [error, offsets] = coordinator_->FetchOffsets("g", std::nullopt);
  ASSERT_EQ(offsets.size(), 1u);
  EXPECT_EQ(offsets[0].offset, 7);
  EXPECT_EQ(offsets[0].metadata, "m");
  auto missing =
      coordinator_->FetchOffsets("g", std::vector<std::pair<std::string, int32_t>>{{"t", 9}});
  EXPECT_EQ(missing.second[0].offset, -1);
  std::vector<ErrorCode> big;
  coordinator_->CommitOffsets("g", 1, a, std::nullopt, {{"t", 1, 3, -1, std::string(5000, 'x')}},
                              [&](ErrorCode, std::vector<ErrorCode> e) { big = e; });
  EXPECT_EQ(big, std::vector<ErrorCode>{ErrorCode::kOffsetMetadataTooLarge});
}

TEST_F(GroupCoordinatorTest, LeaveDeleteAndOffsetDelete) {
  std::string a = JoinNew("i-a");
  Sync(a, 1, {});
  auto [top, errors] =
      coordinator_->Leave("g", {{"", std::string("i-a")}, {"ghost", std::nullopt}});
  EXPECT_EQ(top, ErrorCode::kNone);
  EXPECT_EQ(errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kUnknownMemberId}));
  EXPECT_EQ(State(), "Empty");
  EXPECT_EQ(Commit(-1, "", 3), std::vector<ErrorCode>{ErrorCode::kNone});
  ErrorCode deleted = ErrorCode::kUnknownServerError;
  coordinator_->Delete("nope", [&](ErrorCode e) { deleted = e; });
  EXPECT_EQ(deleted, ErrorCode::kGroupIdNotFound);
  std::vector<ErrorCode> off_errors;
  coordinator_->DeleteOffsets("g", {{"t", 0}},
                              [&](ErrorCode, std::vector<ErrorCode> e) { off_errors = e; });
  EXPECT_EQ(off_errors, std::vector<ErrorCode>{ErrorCode::kNone});
  EXPECT_TRUE(coordinator_->FetchOffsets("g", std::nullopt).second.empty());
  coordinator_->Delete("g", [&](ErrorCode e) { deleted = e; });
  EXPECT_EQ(deleted, ErrorCode::kNone);
  EXPECT_EQ(State(), "Dead");
  EXPECT_FALSE(storage_.log.back().second.second.has_value()) << "a tombstone";
}

TEST_F(GroupCoordinatorTest, SubscribedTopicOffsetsCannotBeDeletedAndNonEmptyGroupsStay) {
  auto p = Join("", {{"range", Subscription({"orders"})}});
  Sync(p->member_id, 1, {});
  Commit(1, p->member_id, 4);
  std::vector<ErrorCode> errors;
  coordinator_->DeleteOffsets("g", {{"t", 0}, {"orders", 0}},
                              [&](ErrorCode, std::vector<ErrorCode> e) { errors = e; });
  EXPECT_EQ(errors, (std::vector<ErrorCode>{ErrorCode::kNone, ErrorCode::kGroupSubscribedToTopic}));
  ErrorCode deleted;
  coordinator_->Delete("g", [&](ErrorCode e) { deleted = e; });
  EXPECT_EQ(deleted, ErrorCode::kNonEmptyGroup);
}

TEST_F(GroupCoordinatorTest, OffsetsOfEmptyGroupsExpire) {
  Commit(-1, "", 11);
  Advance(coordinator_->config().offsets_retention_ms +
          coordinator_->config().offsets_retention_check_interval_ms);
  EXPECT_TRUE(coordinator_->FetchOffsets("g", std::nullopt).second.empty());
  EXPECT_EQ(State(), "Dead") << "an empty group with nothing left is removed";
}

TEST_F(GroupCoordinatorTest, StateIsRebuiltFromItsRecords) {
  std::string a = JoinNew("inst");
  Sync(a, 1, {{a, "AS"}});
  Commit(1, a, 42);
  GroupConfig config;
  ManualScheduler scheduler(&clock_);
  MemoryStorage storage;
  GroupCoordinator reloaded(config, &clock_, &scheduler, &storage);
  int32_t partition = Replay(reloaded);
  EXPECT_EQ(reloaded.Heartbeat("g", 1, a, std::nullopt), ErrorCode::kCoordinatorLoadInProgress);
  reloaded.FinishLoading(partition);
  EXPECT_EQ(reloaded.Describe("g").state, "Stable");
  EXPECT_EQ(reloaded.Heartbeat("g", 1, a, std::nullopt), ErrorCode::kNone);
  EXPECT_EQ(reloaded.FetchOffsets("g", std::nullopt).second.at(0).offset, 42);
  EXPECT_EQ(reloaded.Describe("g").members.at(0).assignment, "AS");
}

TEST_F(GroupCoordinatorTest, FailedAssignmentWriteRebalances) {
  std::string a = JoinNew();
  storage_.fail = true;
  auto sync = Sync(a, 1, {{a, "x"}});
  ASSERT_TRUE(sync->has_value());
  EXPECT_EQ((*sync)->error, ErrorCode::kCoordinatorNotAvailable);
  EXPECT_NE(State(), "Stable");
}

TEST_F(GroupCoordinatorTest, RestoredMembersMustHeartbeatAfterALoad) {
  std::string a = JoinNew();
  Sync(a, 1, {{a, "AS"}});
  GroupConfig config;
  ManualScheduler scheduler(&clock_);
  MemoryStorage storage;
  GroupCoordinator reloaded(config, &clock_, &scheduler, &storage);
  int32_t partition = Replay(reloaded);
  reloaded.FinishLoading(partition);
  ASSERT_EQ(reloaded.Describe("g").state, "Stable");
  clock_.AdvanceMs(10001);  // the member's session timeout (10 s) passes without a heartbeat
  scheduler.RunDue();
  EXPECT_EQ(reloaded.Describe("g").state, "Empty");
  EXPECT_EQ(reloaded.Heartbeat("g", 1, a, std::nullopt), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, UnloadAnswersParkedRequestsWithNotCoordinator) {
  std::string a = JoinNew();
  Sync(a, 1, {{a, "A"}});
  auto b = Join("");  // parked until a rejoins
  ASSERT_FALSE(b.done());
  coordinator_->Unload();
  ASSERT_TRUE(b.done());
  EXPECT_EQ(b->error, ErrorCode::kNotCoordinator);
  EXPECT_EQ(coordinator_->Heartbeat("g", 1, a, std::nullopt),
            ErrorCode::kCoordinatorLoadInProgress);
  EXPECT_EQ(scheduler_.RunDue(), 0);
  clock_.AdvanceMs(60000);
  EXPECT_EQ(scheduler_.RunDue(), 0) << "session and rebalance timers were cancelled";
}

// Writes whose order the test chooses, as concurrent requests on two reactor threads may
// append in either order.
class DeferredStorage : public GroupStorage {
 public:
  void Append(const std::string&, RecordList records,
              std::function<void(absl::Status)> done) override {
    pending.push_back({std::move(records), std::move(done)});
  }
  void Write(size_t i) {
    for (auto& r : pending[i].first) log.push_back(r);
    pending[i].second(absl::OkStatus());
  }
  std::vector<std::pair<RecordList, std::function<void(absl::Status)>>> pending;
  RecordList log;
};

// Memory must end as a replay of the log would build it, whichever order a commit and a
// DeleteGroups decided one after the other reach the log in.
TEST_F(GroupCoordinatorTest, CommitRacingDeleteLeavesMemoryAsTheLogSays) {
  for (bool commit_first : {true, false}) {
    GroupConfig config;
    ManualScheduler scheduler(&clock_);
    DeferredStorage storage;
    GroupCoordinator c(config, &clock_, &scheduler, &storage);
    for (int p = 0; p < config.num_partitions; ++p) c.FinishLoading(p);
    c.CommitOffsets("g", -1, "", std::nullopt, {{"t", 0, 1, -1, ""}}, [](auto, auto) {});
    storage.Write(0);
    c.CommitOffsets("g", -1, "", std::nullopt, {{"t", 0, 5, -1, ""}}, [](auto, auto) {});
    ErrorCode deleted = ErrorCode::kUnknownServerError;
    c.Delete("g", [&](ErrorCode e) { deleted = e; });
    ASSERT_EQ(storage.pending.size(), 3u);
    EXPECT_EQ(c.Describe("g").state, "Dead") << "no joins or commits until the delete is written";
    storage.Write(commit_first ? 1 : 2);
    storage.Write(commit_first ? 2 : 1);
    EXPECT_EQ(deleted, ErrorCode::kNone);

    GroupCoordinator replayed(config, &clock_, &scheduler, &storage);
    int32_t partition = CoordinatorPartition("g", config.num_partitions);
    for (const auto& [key, value] : storage.log) {
      std::optional<absl::string_view> v;
      if (value.has_value()) v = *value;
      replayed.LoadRecord(partition, key, v);
    }
    replayed.FinishLoading(partition);
    auto live = c.FetchOffsets("g", std::nullopt).second;
    auto from_log = replayed.FetchOffsets("g", std::nullopt).second;
    ASSERT_EQ(live.size(), from_log.size()) << "commit first: " << commit_first;
    ASSERT_EQ(live.size(), commit_first ? 0u : 1u);
    if (!live.empty()) {
      EXPECT_EQ(live[0].offset, from_log[0].offset);
    }
    EXPECT_EQ(c.Describe("g").state, replayed.Describe("g").state);
  }
}

}  // namespace
}  // namespace strata::server
