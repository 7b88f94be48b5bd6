// The consumer-group APIs through raw requests, at the versions clients use: the
// member-id-required join, generation checks on commits, batched LeaveGroup, OffsetFetch of all
// partitions, Describe/List/DeleteGroups, OffsetDelete, and __consumer_offsets as an internal
// topic.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "log/batch_builder.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/create_topics.h"
#include "protocol/delete_groups.h"
#include "protocol/delete_topics.h"
#include "protocol/describe_groups.h"
#include "protocol/errors.h"
#include "protocol/heartbeat.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/list_groups.h"
#include "protocol/metadata.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_delete.h"
#include "protocol/offset_fetch.h"
#include "protocol/produce.h"
#include "protocol/sync_group.h"
#include "protocol/writer.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/consumer_protocol.h"
#include "tests/testing/raw_client.h"

namespace strata {
namespace {

using protocol::ErrorCode;
using testing::RawClient;

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

protocol::JoinGroupRequest JoinReq(const std::string& group, const std::string& member,
                                   const std::vector<std::string>& topics = {"t"}) {
  protocol::JoinGroupRequest req;
  req.group_id = group;
  req.member_id = member;
  req.session_timeout_ms = 10000;
  req.rebalance_timeout_ms = 10000;
  req.protocol_type = "consumer";
  req.protocols.push_back({"range", testing::EncodeSubscription(topics)});
  return req;
}

class GroupApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ok()) << broker_.log();
    protocol::CreateTopicsRequest req;
    req.timeout_ms = 5000;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    t.num_partitions = 2;
    t.replication_factor = 1;
    auto r = Call<protocol::CreateTopicsRequest, protocol::CreateTopicsResponse>(req, 5);
    ASSERT_EQ(r.topics.at(0).error_code, 0);
  }
  template <typename Req, typename Resp>
  Resp Call(const Req& req, int16_t version, RawClient* client = nullptr) {
    auto r = (client ? client : &client_)->Call<Req, Resp>(req, version);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Resp{};
  }
  // Joins as a new member through the member-id-required round trip (JoinGroup v5).
  protocol::JoinGroupResponse JoinNew(const std::string& group, RawClient* client = nullptr) {
    auto first = Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(JoinReq(group, ""),
                                                                               5, client);
    EXPECT_EQ(first.error_code, Code(ErrorCode::kMemberIdRequired));
    EXPECT_FALSE(first.member_id.empty());
    return Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(
        JoinReq(group, first.member_id), 5, client);
  }
  protocol::SyncGroupResponse Sync(
      const std::string& group, int32_t generation, const std::string& member,
      std::vector<std::pair<std::string, std::string>> assignments = {}) {
    protocol::SyncGroupRequest req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member;
    for (auto& [m, a] : assignments) req.assignments.push_back({m, a});
    return Call<protocol::SyncGroupRequest, protocol::SyncGroupResponse>(req, 3);
  }
  int16_t Commit(const std::string& group, int32_t generation, const std::string& member,
                 const std::string& topic, int32_t partition, int64_t offset, int16_t version = 7) {
    protocol::OffsetCommitRequest req;
    req.group_id = group;
    req.generation_id_or_member_epoch = generation;
    req.member_id = member;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back(
        {partition, offset, -1, -1, std::string("meta-") + std::to_string(offset)});
    auto r = Call<protocol::OffsetCommitRequest, protocol::OffsetCommitResponse>(req, version);
    return r.topics.at(0).partitions.at(0).error_code;
  }
  protocol::DescribeGroupsResponse::DescribedGroup Describe(const std::string& group) {
    protocol::DescribeGroupsRequest req;
    req.groups = {group};
    return Call<protocol::DescribeGroupsRequest, protocol::DescribeGroupsResponse>(req, 4)
        .groups.at(0);
  }

  testing::BrokerProcess broker_{{"--set", "group.initial.rebalance.delay.ms=0"}};
  RawClient client_{broker_.port()};
};

TEST_F(GroupApiTest, MemberIdRequiredJoinThenSyncAndHeartbeat) {
  auto joined = JoinNew("g1");
  ASSERT_EQ(joined.error_code, 0);
  EXPECT_EQ(joined.generation_id, 1);
  EXPECT_EQ(joined.leader, joined.member_id);
  EXPECT_EQ(joined.protocol_name, "range");
  ASSERT_EQ(joined.members.size(), 1u);
  auto sync = Sync("g1", 1, joined.member_id, {{joined.member_id, "my-assignment"}});
  EXPECT_EQ(sync.error_code, 0);
  EXPECT_EQ(sync.assignment, "my-assignment");
  protocol::HeartbeatRequest hb{"g1", 1, joined.member_id, std::nullopt};
  EXPECT_EQ((Call<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(hb, 3).error_code), 0);
  hb.generation_id = 7;
  EXPECT_EQ((Call<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(hb, 3).error_code),
            Code(ErrorCode::kIllegalGeneration));
  auto d = Describe("g1");
  EXPECT_EQ(d.group_state, "Stable");
  EXPECT_EQ(d.protocol_data, "range");
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].client_host, "/127.0.0.1");
  EXPECT_EQ(d.members[0].client_id, "raw-test");
  EXPECT_EQ(d.members[0].member_assignment, "my-assignment");

  // JoinGroup v0 (librdkafka's oldest): no member-id round trip, rebalance timeout = session.
  auto v0 = Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(JoinReq("old", ""), 0);
  EXPECT_EQ(v0.error_code, 0);
  EXPECT_EQ(v0.generation_id, 1);
  EXPECT_FALSE(v0.member_id.empty());
}

TEST_F(GroupApiTest, CommitFromAnOldGenerationIsRejected) {
  auto a = JoinNew("g2");
  ASSERT_EQ(a.generation_id, 1);
  Sync("g2", 1, a.member_id, {{a.member_id, "A"}});
  EXPECT_EQ(Commit("g2", 1, a.member_id, "t", 0, 10), 0);
  // B joins on its own connection; its JoinGroup waits until A rejoins.
  RawClient b_client(broker_.port());
  protocol::JoinGroupResponse b;
  std::thread joiner([&] { b = JoinNew("g2", &b_client); });
  protocol::HeartbeatRequest hb{"g2", 1, a.member_id, std::nullopt};
  int16_t hb_error = 0;
  for (int i = 0; i < 100 && hb_error == 0; ++i) {
    hb_error = Call<protocol::HeartbeatRequest, protocol::HeartbeatResponse>(hb, 3).error_code;
    if (hb_error == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(hb_error, Code(ErrorCode::kRebalanceInProgress));
  auto a2 =
      Call<protocol::JoinGroupRequest, protocol::JoinGroupResponse>(JoinReq("g2", a.member_id), 5);
  joiner.join();
  ASSERT_EQ(a2.error_code, 0);
  EXPECT_EQ(a2.generation_id, 2);
  EXPECT_EQ(b.generation_id, 2);
  EXPECT_EQ(Commit("g2", 2, a.member_id, "t", 0, 11), Code(ErrorCode::kRebalanceInProgress))
      << "no commits until the new assignment is synced";
  Sync("g2", 2, a.member_id, {{a.member_id, "A"}, {b.member_id, "B"}});
  EXPECT_EQ(Commit("g2", 1, a.member_id, "t", 0, 12), Code(ErrorCode::kIllegalGeneration));
  EXPECT_EQ(Commit("g2", 2, "stranger", "t", 0, 12), Code(ErrorCode::kUnknownMemberId));
  EXPECT_EQ(Commit("g2", 2, a.member_id, "t", 0, 13), 0);
  EXPECT_EQ(Commit("g2", -1, "", "t", 0, 14), Code(ErrorCode::kUnknownMemberId))
      << "no simple commits into a group with members";
  EXPECT_EQ(Commit("g2", 2, b.member_id, "missing-topic", 0, 1),
            Code(ErrorCode::kUnknownTopicOrPartition));

  // Batched leave (v3): one known member, one unknown.
  protocol::LeaveGroupRequest leave;
  leave.group_id = "g2";
  leave.members.push_back({a.member_id, std::nullopt, std::nullopt});
  leave.members.push_back({"ghost", std::nullopt, std::nullopt});
  auto left = Call<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(leave, 3);
  EXPECT_EQ(left.error_code, 0);
  ASSERT_EQ(left.members.size(), 2u);
  EXPECT_EQ(left.members[0].error_code, 0);
  EXPECT_EQ(left.members[1].error_code, Code(ErrorCode::kUnknownMemberId));
  // LeaveGroup v0: one member, the error at the top.
  protocol::LeaveGroupRequest leave_v0;
  leave_v0.group_id = "g2";
  leave_v0.member_id = "ghost";
  EXPECT_EQ(
      (Call<protocol::LeaveGroupRequest, protocol::LeaveGroupResponse>(leave_v0, 0).error_code),
      Code(ErrorCode::kUnknownMemberId));
}

TEST_F(GroupApiTest, SimpleCommitsOffsetFetchAndOffsetDelete) {
  EXPECT_EQ(Commit("simple", -1, "", "t", 0, 5), 0);
  EXPECT_EQ(Commit("simple", -1, "", "t", 1, 9, /*version=*/2), 0);
  EXPECT_EQ(Commit("simple", -1, "", "t", 1, 10, /*version=*/0), 0) << "OffsetCommit v0";

  protocol::OffsetFetchRequest all;
  all.group_id = "simple";
  all.topics = std::nullopt;  // v2+: every committed partition
  auto fetched = Call<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(all, 7);
  EXPECT_EQ(fetched.error_code, 0);
  ASSERT_EQ(fetched.topics.size(), 1u);
  ASSERT_EQ(fetched.topics[0].partitions.size(), 2u);
  EXPECT_EQ(fetched.topics[0].partitions[0].committed_offset, 5);
  EXPECT_EQ(fetched.topics[0].partitions[0].metadata, "meta-5");
  EXPECT_EQ(fetched.topics[0].partitions[1].committed_offset, 10);

  protocol::OffsetFetchRequest v1;  // explicit partitions, one never committed
  v1.group_id = "simple";
  v1.topics.emplace();
  v1.topics->push_back({"t", {1, 3}});
  auto some = Call<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(v1, 1);
  ASSERT_EQ(some.topics.at(0).partitions.size(), 2u);
  EXPECT_EQ(some.topics[0].partitions[0].committed_offset, 10);
  EXPECT_EQ(some.topics[0].partitions[1].committed_offset, -1);

  protocol::OffsetFetchRequest batched;  // v8: several groups at once
  batched.groups.push_back({"simple", std::nullopt, -1, std::nullopt});
  batched.groups.push_back({"", std::nullopt, -1, std::nullopt});
  auto groups = Call<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(batched, 8);
  ASSERT_EQ(groups.groups.size(), 2u);
  EXPECT_EQ(groups.groups[0].topics.at(0).partitions.size(), 2u);
  EXPECT_EQ(groups.groups[1].error_code, Code(ErrorCode::kInvalidGroupId));

  protocol::OffsetDeleteRequest del;
  del.group_id = "simple";
  del.topics.push_back({"t", {{0}}});
  auto deleted = Call<protocol::OffsetDeleteRequest, protocol::OffsetDeleteResponse>(del, 0);
  EXPECT_EQ(deleted.error_code, 0);
  EXPECT_EQ(deleted.topics.at(0).partitions.at(0).error_code, 0);
  fetched = Call<protocol::OffsetFetchRequest, protocol::OffsetFetchResponse>(all, 7);
  ASSERT_EQ(fetched.topics.at(0).partitions.size(), 1u);
  EXPECT_EQ(fetched.topics[0].partitions[0].partition_index, 1);

  // A group whose member subscribes to the topic keeps its offsets.
  auto m = JoinNew("subscribed");
  Sync("subscribed", 1, m.member_id, {{m.member_id, ""}});
  EXPECT_EQ(Commit("subscribed", 1, m.member_id, "t", 0, 3), 0);
  del.group_id = "subscribed";
  deleted = Call<protocol::OffsetDeleteRequest, protocol::OffsetDeleteResponse>(del, 0);
  EXPECT_EQ(deleted.topics.at(0).partitions.at(0).error_code,
            Code(ErrorCode::kGroupSubscribedToTopic));
}

TEST_F(GroupApiTest, ListDescribeAndDeleteGroups) {
  auto m = JoinNew("busy");
  Sync("busy", 1, m.member_id, {{m.member_id, ""}});
  EXPECT_EQ(Commit("idle", -1, "", "t", 0, 1), 0);

  protocol::ListGroupsRequest list;
  auto listed = Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(list, 4);
  EXPECT_EQ(listed.error_code, 0);
  std::map<std::string, std::string> states;
  for (const auto& g : listed.groups) states[g.group_id] = g.group_state;
  EXPECT_EQ(states["busy"], "Stable");
  EXPECT_EQ(states["idle"], "Empty");
  list.states_filter = {"Empty"};
  listed = Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(list, 4);
  ASSERT_EQ(listed.groups.size(), 1u);
  EXPECT_EQ(listed.groups[0].group_id, "idle");
  auto v0 = Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(
      protocol::ListGroupsRequest{}, 0);
  EXPECT_EQ(v0.groups.size(), 2u);

  EXPECT_EQ(Describe("nobody").group_state, "Dead");
  EXPECT_EQ(Describe("idle").group_state, "Empty");

  protocol::DeleteGroupsRequest del;
  del.groups_names = {"busy", "idle", "nobody"};
  auto deleted = Call<protocol::DeleteGroupsRequest, protocol::DeleteGroupsResponse>(del, 1);
  ASSERT_EQ(deleted.results.size(), 3u);
  EXPECT_EQ(deleted.results[0].error_code, Code(ErrorCode::kNonEmptyGroup));
  EXPECT_EQ(deleted.results[1].error_code, 0);
  EXPECT_EQ(deleted.results[2].error_code, Code(ErrorCode::kGroupIdNotFound));
  EXPECT_EQ(Describe("idle").group_state, "Dead");

  // Deleted stays deleted across a restart (the tombstones were written).
  broker_.Restart();
  ASSERT_TRUE(broker_.ok()) << broker_.log();
  RawClient fresh(broker_.port());
  protocol::ListGroupsResponse after;
  for (int i = 0; i < 100; ++i) {  // until the coordinator has loaded
    after = Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(list, 4, &fresh);
    if (after.error_code != Code(ErrorCode::kCoordinatorLoadInProgress)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  list.states_filter.clear();
  after = Call<protocol::ListGroupsRequest, protocol::ListGroupsResponse>(list, 4, &fresh);
  ASSERT_EQ(after.groups.size(), 1u);
  EXPECT_EQ(after.groups[0].group_id, "busy");
}

TEST_F(GroupApiTest, ConsumerOffsetsIsAnInternalTopic) {
  protocol::MetadataRequest md;
  md.topics = std::nullopt;
  auto meta = Call<protocol::MetadataRequest, protocol::MetadataResponse>(md, 9);
  bool found = false;
  for (const auto& t : meta.topics) {
    if (t.name != "__consumer_offsets") continue;
    found = true;
    EXPECT_TRUE(t.is_internal);
    EXPECT_EQ(t.partitions.size(), 50u) << "offsets.topic.num.partitions";
  }
  EXPECT_TRUE(found);

  RecordBatchBuilder b;
  b.Add("k", "v", 1000);
  std::string batch = *b.Build();
  protocol::ProduceRequest produce =
      testing::OneBatchProduce("__consumer_offsets", 0, batch, /*acks=*/1, /*timeout_ms=*/1000);
  auto produced = Call<protocol::ProduceRequest, protocol::ProduceResponse>(produce, 7);
  EXPECT_EQ(produced.responses.at(0).partition_responses.at(0).error_code,
            Code(ErrorCode::kInvalidTopicException));

  protocol::DeleteTopicsRequest del;
  del.topic_names = {"__consumer_offsets"};
  del.timeout_ms = 1000;
  auto deleted = Call<protocol::DeleteTopicsRequest, protocol::DeleteTopicsResponse>(del, 4);
  EXPECT_EQ(deleted.responses.at(0).error_code, Code(ErrorCode::kInvalidTopicException));
}

}  // namespace
}  // namespace strata
