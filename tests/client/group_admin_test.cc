// Group administration (client/group_admin.h, through Admin) against live brokers: simple
// commits and fetching every offset, listing, describing empty, live and unknown groups,
// deleting, the errors for unknown and non-empty groups, and retrying while the coordinator
// loads __consumer_offsets.
#include "client/group_admin.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/admin.h"
#include "client/errors.h"
#include "common/clock.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/list_groups.h"
#include "protocol/offset_commit.h"
#include "protocol/sync_group.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/consumer_protocol.h"

namespace strata::client {
namespace {

using protocol::ErrorCode;

// Brokers for group tests: no initial rebalance delay, short sessions allowed.
const std::vector<std::string> kGroupFlags = {"--set", "group.initial.rebalance.delay.ms=0",
                                              "--set", "group.min.session.timeout.ms=500"};

using strata::testing::EncodeAssignment;
using strata::testing::EncodeSubscription;

TEST(DecodeConsumerAssignmentTest, DecodesEveryVersionSorted) {
  for (int16_t v = 0; v <= 3; ++v) {
    auto tps = DecodeConsumerAssignment(EncodeAssignment(v, {{"b", {2, 0}}, {"a", {1}}}));
    ASSERT_TRUE(tps.ok()) << tps.status();
    EXPECT_EQ(*tps, (std::vector<TopicPartition>{{"a", 1}, {"b", 0}, {"b", 2}})) << "v" << v;
  }
  // A newer version than we know decodes as the newest (its new fields come last).
  std::string future = EncodeAssignment(3, {{"a", {0}}});
  future[1] = 9;
  auto tps = DecodeConsumerAssignment(future);
  ASSERT_TRUE(tps.ok()) << tps.status();
  EXPECT_EQ(*tps, (std::vector<TopicPartition>{{"a", 0}}));
  EXPECT_TRUE(DecodeConsumerAssignment("")->empty());
  EXPECT_FALSE(DecodeConsumerAssignment(std::string("\0\0\0\0\0\7ab", 8)).ok());
  EXPECT_FALSE(DecodeConsumerAssignment(std::string("\xff\xff", 2)).ok());
}

class GroupAdminTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new strata::testing::BrokerProcess(kGroupFlags);
    if (!broker_->ok()) return;
    auto admin = MakeAdmin();
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin->CreateTopic({.name = "ga-t", .partitions = 3}).ok());
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(broker_->ok()) << broker_->log(); }

  static HostPort Address() { return *ParseHostPort(broker_->bootstrap()); }
  static std::unique_ptr<Admin> MakeAdmin(AdminOptions options = {}) {
    options.bootstrap = {Address()};
    auto admin = Admin::Create(options);
    EXPECT_TRUE(admin.ok()) << admin.status();
    return admin.ok() ? std::move(*admin) : nullptr;
  }
  static absl::Status Commit(Admin& admin, const std::string& group,
                             const std::map<TopicPartition, int64_t>& offsets) {
    ASSIGN_OR_RETURN(PartitionResults results, admin.CommitGroupOffsets(group, offsets));
    for (const auto& [tp, s] : results) RETURN_IF_ERROR(s);
    return absl::OkStatus();
  }
  static std::optional<GroupListing> Listed(Admin& admin, const std::string& group) {
    auto groups = admin.ListGroups();
    EXPECT_TRUE(groups.ok()) << groups.status();
    if (!groups.ok()) return std::nullopt;
    for (const GroupListing& g : *groups) {
      if (g.group_id == group) return g;
    }
    return std::nullopt;
  }

  static strata::testing::BrokerProcess* broker_;
};

strata::testing::BrokerProcess* GroupAdminTest::broker_ = nullptr;

// A member of a group joined over its own connection (JoinGroup v5 with the member-id round
// trip, then SyncGroup as the leader), so the group has one live member.
class RawMember {
 public:
  void Join(const HostPort& broker, const std::string& group,
            const std::vector<std::pair<std::string, std::vector<int32_t>>>& assignment) {
    group_ = group;
    auto conn = Connection::Connect(broker, {.client_id = "raw-member"});
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return;
    conn_ = std::move(*conn);
    protocol::JoinGroupRequest join;
    join.group_id = group;
    join.session_timeout_ms = 30'000;
    join.rebalance_timeout_ms = 30'000;
    join.protocol_type = "consumer";
    join.protocols.push_back({"range", EncodeSubscription({"ga-t"})});
    auto first = conn_->Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(join, 5);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(first->error_code, static_cast<int16_t>(ErrorCode::kMemberIdRequired));
    join.member_id = member_id_ = first->member_id;
    auto joined = conn_->Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(join, 5);
    ASSERT_TRUE(joined.ok()) << joined.status();
    ASSERT_EQ(joined->error_code, 0);
    protocol::SyncGroupRequest sync;
    sync.group_id = group;
    sync.generation_id = joined->generation_id;
    sync.member_id = member_id_;
    sync.assignments.push_back({member_id_, EncodeAssignment(1, assignment)});
    auto synced = conn_->Call<protocol::SyncGroupRequest, protocol::SyncGroupResponse>(sync, 3);
    ASSERT_TRUE(synced.ok()) << synced.status();
    ASSERT_EQ(synced->error_code, 0);
  }
  void Leave() {
    protocol::LeaveGroupRequest leave;
    leave.group_id = group_;
    leave.members.push_back({member_id_, std::nullopt, std::nullopt});
    auto left = conn_->Call<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(leave, 3);
    ASSERT_TRUE(left.ok()) << left.status();
    ASSERT_EQ(left->error_code, 0);
  }
  const std::string& member_id() const { return member_id_; }

 private:
  std::string group_;
  std::string member_id_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(GroupAdminTest, FindsTheCoordinator) {
  auto admin = MakeAdmin();
  auto coordinator = admin->FindCoordinator("ga-any");
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  EXPECT_EQ(coordinator->id, 0);
  EXPECT_EQ(coordinator->address, Address());
}

TEST_F(GroupAdminTest, SimpleCommitThenFetchAll) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(Commit(*admin, "ga-simple", {{{"ga-t", 0}, 5}, {{"ga-t", 2}, 7}}).ok());
  auto offsets = admin->FetchGroupOffsets("ga-simple");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  ASSERT_EQ(offsets->size(), 2u);
  EXPECT_EQ(offsets->at({"ga-t", 0}).offset, 5);
  EXPECT_EQ(offsets->at({"ga-t", 2}).offset, 7);
  EXPECT_EQ(offsets->at({"ga-t", 2}).metadata, "");

  // A later commit overwrites; a partition that does not exist fails alone.
  auto results = admin->CommitGroupOffsets("ga-simple", {{{"ga-t", 0}, 9}, {{"ga-t", 3}, 1}});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE(results->at({"ga-t", 0}).ok()) << results->at({"ga-t", 0});
  EXPECT_EQ(KafkaErrorOf(results->at({"ga-t", 3})), ErrorCode::kUnknownTopicOrPartition)
      << results->at({"ga-t", 3});
  offsets = admin->FetchGroupOffsets("ga-simple");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->size(), 2u);
  EXPECT_EQ(offsets->at({"ga-t", 0}).offset, 9);
}

TEST_F(GroupAdminTest, ListsAndDescribesAnEmptyGroup) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(Commit(*admin, "ga-empty", {{{"ga-t", 1}, 3}}).ok());
  std::optional<GroupListing> listed = Listed(*admin, "ga-empty");
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->state, "Empty");
  EXPECT_EQ(listed->protocol_type, "");
  EXPECT_EQ(listed->coordinator, 0);

  auto described = admin->DescribeGroup("ga-empty");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->group_id, "ga-empty");
  EXPECT_EQ(described->state, "Empty");
  EXPECT_EQ(described->protocol, "");
  EXPECT_TRUE(described->members.empty());
  EXPECT_EQ(described->coordinator.id, 0);
  EXPECT_EQ(described->coordinator.address, Address());
}

TEST_F(GroupAdminTest, DeletesAGroupAndItsOffsets) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(Commit(*admin, "ga-delete", {{{"ga-t", 0}, 1}, {{"ga-t", 1}, 2}}).ok());
  ASSERT_TRUE(Listed(*admin, "ga-delete").has_value());
  absl::Status deleted = admin->DeleteGroup("ga-delete");
  ASSERT_TRUE(deleted.ok()) << deleted;
  EXPECT_FALSE(Listed(*admin, "ga-delete").has_value());
  auto offsets = admin->FetchGroupOffsets("ga-delete");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_TRUE(offsets->empty());
  EXPECT_EQ(admin->DescribeGroup("ga-delete")->state, "Dead");
  absl::Status again = admin->DeleteGroup("ga-delete");
  EXPECT_EQ(KafkaErrorOf(again), ErrorCode::kGroupIdNotFound) << again;
  EXPECT_TRUE(absl::IsNotFound(again)) << again;
}

TEST_F(GroupAdminTest, UnknownGroups) {
  auto admin = MakeAdmin();
  auto described = admin->DescribeGroup("ga-never");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->state, "Dead");
  EXPECT_TRUE(described->members.empty());
  auto offsets = admin->FetchGroupOffsets("ga-never");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_TRUE(offsets->empty());
  absl::Status deleted = admin->DeleteGroup("ga-never");
  EXPECT_EQ(KafkaErrorOf(deleted), ErrorCode::kGroupIdNotFound) << deleted;
  EXPECT_NE(deleted.message().find("DeleteGroups ga-never: GROUP_ID_NOT_FOUND"), std::string::npos)
      << deleted;
  EXPECT_FALSE(Listed(*admin, "ga-never").has_value());

  auto unnamed = admin->DescribeGroup("");
  EXPECT_EQ(KafkaErrorOf(unnamed.status()), ErrorCode::kInvalidGroupId) << unnamed.status();
  EXPECT_EQ(KafkaErrorOf(admin->FetchGroupOffsets("").status()), ErrorCode::kInvalidGroupId);
}

TEST_F(GroupAdminTest, AGroupWithAMember) {
  auto admin = MakeAdmin();
  RawMember member;
  ASSERT_NO_FATAL_FAILURE(member.Join(Address(), "ga-live", {{"ga-t", {2, 0}}}));
  ASSERT_FALSE(member.member_id().empty());

  auto described = admin->DescribeGroup("ga-live");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->state, "Stable");
  EXPECT_EQ(described->protocol_type, "consumer");
  EXPECT_EQ(described->protocol, "range");
  ASSERT_EQ(described->members.size(), 1u);
  const GroupMemberDescription& m = described->members[0];
  EXPECT_EQ(m.member_id, member.member_id());
  EXPECT_EQ(m.client_id, "raw-member");
  EXPECT_EQ(m.client_host, "/127.0.0.1");
  EXPECT_EQ(m.group_instance_id, std::nullopt);
  EXPECT_EQ(m.assigned_partitions, (std::vector<TopicPartition>{{"ga-t", 0}, {"ga-t", 2}}));
  EXPECT_EQ(Listed(*admin, "ga-live")->state, "Stable");

  // Simple commits and deletion are refused while the member is there.
  auto results = admin->CommitGroupOffsets("ga-live", {{{"ga-t", 0}, 4}});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(KafkaErrorOf(results->at({"ga-t", 0})), ErrorCode::kUnknownMemberId)
      << results->at({"ga-t", 0});
  absl::Status deleted = admin->DeleteGroup("ga-live");
  EXPECT_EQ(KafkaErrorOf(deleted), ErrorCode::kNonEmptyGroup) << deleted;
  EXPECT_TRUE(absl::IsFailedPrecondition(deleted)) << deleted;

  member.Leave();
  EXPECT_EQ(admin->DescribeGroup("ga-live")->state, "Empty");
  ASSERT_TRUE(Commit(*admin, "ga-live", {{{"ga-t", 0}, 4}}).ok());
  EXPECT_EQ(admin->FetchGroupOffsets("ga-live")->at({"ga-t", 0}).offset, 4);
  deleted = admin->DeleteGroup("ga-live");
  EXPECT_TRUE(deleted.ok()) << deleted;
}

// Fills one __consumer_offsets partition with `batches` x `per_batch` offset records (one
// partition of `topic`, committed again and again) so that replaying it takes a while.
void FillOffsetsTopic(const HostPort& broker, const std::string& topic, int batches,
                      int per_batch) {
  auto conn = Connection::Connect(broker, {});
  ASSERT_TRUE(conn.ok()) << conn.status();
  protocol::OffsetCommitRequest req;
  req.group_id = "ga-load";
  auto& t = req.topics.emplace_back();
  t.name = topic;
  for (int i = 0; i < per_batch; ++i) t.partitions.push_back({0, i, -1, -1, "x"});
  for (int b = 0; b < batches; ++b) {
    auto resp =
        (*conn)->Call<protocol::OffsetCommitRequest, protocol::OffsetCommitResponse>(req, 8);
    ASSERT_TRUE(resp.ok()) << resp.status();
    ASSERT_EQ(resp->topics.at(0).partitions.at(0).error_code, 0);
  }
}

// After a restart the coordinator answers COORDINATOR_LOAD_IN_PROGRESS until it has replayed
// __consumer_offsets; group calls made meanwhile wait it out instead of failing.
TEST(GroupAdminLoadTest, RetriesWhileTheCoordinatorLoads) {
  std::vector<std::string> flags = kGroupFlags;
  flags.insert(flags.end(), {"--set", "offsets.topic.num.partitions=1"});
  strata::testing::BrokerProcess broker(flags);
  ASSERT_TRUE(broker.ok()) << broker.log();
  HostPort address = *ParseHostPort(broker.bootstrap());
  {
    auto admin = Admin::Create({.bootstrap = {address}});
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)->CreateTopic({.name = "ga-load-t", .partitions = 1}).ok());
  }
  FillOffsetsTopic(address, "ga-load-t", 200, 5000);
  broker.Restart();
  ASSERT_TRUE(broker.ok()) << broker.log();

  absl::Mutex mu;
  std::vector<absl::Status> retried;
  auto admin = Admin::Create({.bootstrap = {address}, .on_retry = [&](const absl::Status& s) {
                                absl::MutexLock lock(&mu);
                                retried.push_back(s);
                              }});
  ASSERT_TRUE(admin.ok()) << admin.status();
  // Whether loading is still going on right now, asked with a bare ListGroups.
  auto conn = Connection::Connect(address, {});
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto raw = (*conn)->Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>({}, 4);
  ASSERT_TRUE(raw.ok()) << raw.status();
  bool loading = raw->error_code == static_cast<int16_t>(ErrorCode::kCoordinatorLoadInProgress);

  auto groups = (*admin)->ListGroups();
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ(groups->at(0).group_id, "ga-load");
  auto offsets = (*admin)->FetchGroupOffsets("ga-load");
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->at({"ga-load-t", 0}).offset, 4999);

  absl::MutexLock lock(&mu);
  if (!loading) GTEST_SKIP() << "the broker loaded its groups before we could ask";
  ASSERT_FALSE(retried.empty());
  EXPECT_EQ(KafkaErrorOf(retried[0]), ErrorCode::kCoordinatorLoadInProgress) << retried[0];
}

}  // namespace
}  // namespace strata::client
