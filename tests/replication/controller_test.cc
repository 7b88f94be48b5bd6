// Replica assignment, partition-state codecs and the controller's leader election, the last
// against a real etcd with one ClusterMembership and Controller per broker, as separate broker
// processes would run them.
#include "replication/controller.h"

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "replication/etcd_store.h"
#include "tests/replication/etcd_process.h"
#include "tests/replication/store_testing.h"

namespace strata {
namespace {

using testing::Eventually;

using Replicas = std::vector<std::vector<int32_t>>;

std::vector<BrokerInfo> Brokers(std::vector<std::pair<int32_t, std::string>> ids_racks) {
  std::vector<BrokerInfo> out;
  for (auto& [id, rack] : ids_racks) {
    BrokerInfo b{.id = id, .host = "127.0.0.1", .port = 9092 + id};
    if (!rack.empty()) b.rack = rack;
    out.push_back(b);
  }
  return out;
}

TEST(AssignReplicas, SpreadsLeadersAndReplicasEvenly) {
  auto a = AssignReplicas(Brokers({{2, ""}, {0, ""}, {1, ""}}), 6, 3, 0);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, (Replicas{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}, {1, 2, 0}, {2, 0, 1}}));
  std::map<int32_t, int> leaders;
  for (const auto& r : *a) ++leaders[r.front()];
  EXPECT_EQ(leaders, (std::map<int32_t, int>{{0, 2}, {1, 2}, {2, 2}}));
  // A start offset rotates the leaders; partitions added later continue the pattern.
  EXPECT_EQ(*AssignReplicas(Brokers({{0, ""}, {1, ""}, {2, ""}}), 2, 2, 1),
            (Replicas{{1, 2}, {2, 0}}));
  EXPECT_EQ(*AssignReplicas(Brokers({{0, ""}, {1, ""}, {2, ""}}), 1, 2, 0, 4), (Replicas{{1, 2}}));
}

TEST(AssignReplicas, RackAwareAndRefusesTooFewBrokers) {
  // Racks a = {0, 1}, b = {2, 3}: every partition's two replicas sit on both racks.
  auto a = AssignReplicas(Brokers({{0, "a"}, {1, "a"}, {2, "b"}, {3, "b"}}), 8, 2, 0);
  ASSERT_TRUE(a.ok());
  std::map<int32_t, std::string> rack = {{0, "a"}, {1, "a"}, {2, "b"}, {3, "b"}};
  for (const auto& r : *a) EXPECT_NE(rack[r[0]], rack[r[1]]) << r[0] << "," << r[1];
  auto too_many = AssignReplicas(Brokers({{0, ""}, {1, ""}}), 1, 3, 0);
  ASSERT_FALSE(too_many.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(too_many.status()));
  EXPECT_NE(too_many.status().message().find("larger than available brokers: 2"),
            std::string::npos);
}

TEST(PartitionStateCodec, RoundTripsAndRejectsGarbage) {
  PartitionState s{.leader = 2, .leader_epoch = 7, .isr = {2, 0}, .controller_epoch = 11};
  EXPECT_EQ(EncodePartitionState(s),
            R"({"controller_epoch":11,"isr":[2,0],"leader":2,"leader_epoch":7})");
  EXPECT_EQ(*DecodePartitionState(EncodePartitionState(s)), s);
  EXPECT_FALSE(DecodePartitionState(R"({"leader":1,"leader_epoch":0,"isr":["x"]})").ok());
  EXPECT_FALSE(DecodePartitionState("null").ok());
  TopicAssignment t{{{0, 1}, {1, 0}}};
  EXPECT_EQ(EncodeTopicAssignment(t), R"({"partitions":[[0,1],[1,0]]})");
  EXPECT_EQ(*DecodeTopicAssignment(EncodeTopicAssignment(t)), t);
  EXPECT_FALSE(DecodeTopicAssignment(R"({"partitions":[]})").ok());
  EXPECT_FALSE(DecodeTopicAssignment(R"({"partitions":[[]]})").ok());
}

TEST(ChooseLeader, FirstLiveInSyncReplicaThenUncleanThenNone) {
  PartitionRecord p{.topic = "t", .replicas = {0, 1, 2}, .state = {.leader = 0, .isr = {0, 2}}};
  EXPECT_EQ(ChooseLeader(p, {1, 2}, false), 2);  // 1 is alive but out of sync
  EXPECT_EQ(ChooseLeader(p, {1}, false), std::nullopt);
  EXPECT_EQ(ChooseLeader(p, {1}, true), 1);
  EXPECT_EQ(ChooseLeader(p, {}, true), std::nullopt);
}

// One broker's control plane: its store connection, membership and controller.
struct Node {
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<ClusterMembership> membership;
  std::unique_ptr<Controller> controller;
  void Stop() {
    if (controller) controller->Stop();
    if (membership) membership->Stop();
  }
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = *EtcdMetadataStore::Open({.endpoint = etcd_.endpoint()});
    for (int32_t id = 0; id < 3; ++id) nodes_[id] = StartNode(id);
    ASSERT_TRUE(Eventually([&] {
      for (auto& [id, n] : nodes_) {
        if (n.membership->View().brokers.size() != 3) return false;
      }
      return true;
    }));
  }
  void TearDown() override {
    for (auto& [id, n] : nodes_) n.Stop();
  }
  Node StartNode(int32_t id, Controller::Options options = {}) {
    Node n;
    n.store = *EtcdMetadataStore::Open({.endpoint = etcd_.endpoint()});
    ClusterMembership::Options o;
    o.self = {.id = id, .host = "127.0.0.1", .port = 9092 + id};
    o.session_timeout_ms = 3'000;
    o.refresh_interval_ms = 200;
    auto m = ClusterMembership::Start(n.store.get(), o);
    EXPECT_TRUE(m.ok()) << m.status();
    n.membership = std::move(*m);
    n.controller = std::make_unique<Controller>(n.store.get(), n.membership.get(), options);
    EXPECT_TRUE(n.controller->Start().ok());
    return n;
  }
  std::map<std::string, PartitionRecord> States() {
    std::map<std::string, PartitionRecord> out;
    auto records = ReadPartitionStates(admin_.get(), "/strata/");
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return out;
    for (auto& r : *records) {
      out[r.topic + "-" + std::to_string(r.partition)] = r;
    }
    return out;
  }
  testing::EtcdProcess etcd_;
  std::unique_ptr<MetadataStore> admin_;
  std::map<int32_t, Node> nodes_;
};

TEST_F(ControllerTest, LeaderFailoverShrinksIsrAndBumpsEpochs) {
  auto replicas = *AssignReplicas(nodes_[0].membership->View().brokers, 6, 3, 0);
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "orders", replicas).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(
      CreateTopicState(admin_.get(), "/strata/", "orders", replicas).status()));
  auto before = States();
  ASSERT_EQ(before.size(), 6u);
  EXPECT_EQ(before["orders-1"].state, (PartitionState{.leader = 1, .isr = {1, 2, 0}}));

  nodes_[0].Stop();  // broker 0 (also the controller) leaves
  ASSERT_TRUE(Eventually([&] {
    for (auto& [name, r] : States()) {
      if (r.state.leader == 0 || r.state.isr.size() != 2) return false;
    }
    return true;
  })) << "partitions still name broker 0";
  for (auto& [name, r] : States()) {
    const PartitionState& old = before[name].state;
    if (old.leader == 0) {
      EXPECT_EQ(r.state.leader, 1) << name;  // next in assignment order, in sync
      EXPECT_EQ(r.state.leader_epoch, old.leader_epoch + 1) << name;
    } else {
      EXPECT_EQ(r.state.leader, old.leader) << name;
      EXPECT_EQ(r.state.leader_epoch, old.leader_epoch) << name;  // ISR changes keep the epoch
    }
    EXPECT_EQ(r.state.isr.front(), r.state.leader);
    EXPECT_GT(r.state.controller_epoch, 0);
  }
  auto view = nodes_[1].membership->View();
  std::vector<int32_t> alive = {1, 2};
  PartitionHealth h = HealthOf(*ReadPartitionStates(admin_.get(), "/strata/"), alive);
  EXPECT_EQ(h.partitions, 6);
  EXPECT_EQ(h.under_replicated, 6);
  EXPECT_EQ(h.offline, 0);

  // Broker 0 returns: out of sync, so the controller does not add it to the ISR (its leader does
  // that once it caught up). Nor does the controller hand it back the leaderships it lost, even
  // once it is in sync again: that is the leader's own choice, made once the preferred replica
  // is caught up (ReplicaManager; partition_test), never the controller's.
  nodes_[0] = StartNode(0);
  Controller* active = nodes_[1].membership->IsController() ? nodes_[1].controller.get()
                                                            : nodes_[2].controller.get();
  for (auto& [name, r] : States()) {
    PartitionState s = r.state;
    s.isr.push_back(0);
    ASSERT_TRUE(admin_
                    ->CompareAndSet(PartitionKey("/strata/", r.topic, r.partition), r.mod_revision,
                                    EncodePartitionState(s))
                    ->applied);
  }
  auto in_sync = States();
  ASSERT_TRUE(active->Reconcile().ok());
  for (auto& [name, r] : States()) {
    EXPECT_EQ(r.state.leader, in_sync[name].state.leader) << name;
    EXPECT_EQ(r.state.leader_epoch, in_sync[name].state.leader_epoch) << name;
    EXPECT_EQ(r.state.isr.size(), 3u) << name;
  }
}

TEST_F(ControllerTest, LastInSyncReplicaGoneMeansOfflineUntilItReturns) {
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "solo", {{2}}).ok());
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "pair", {{2, 1}}).ok());
  // "pair" has lost its follower from the ISR (it lagged).
  auto pair = States()["pair-0"];
  ASSERT_TRUE(admin_
                  ->CompareAndSet(PartitionKey("/strata/", "pair", 0), pair.mod_revision,
                                  EncodePartitionState({.leader = 2, .isr = {2}}))
                  ->applied);
  nodes_[2].Stop();
  ASSERT_TRUE(Eventually([&] {
    auto s = States();
    return s["solo-0"].state.leader == kNoLeader && s["pair-0"].state.leader == kNoLeader;
  }));
  auto s = States();
  EXPECT_EQ(s["solo-0"].state,
            (PartitionState{.leader = kNoLeader,
                            .leader_epoch = 1,
                            .isr = {2},
                            .controller_epoch = s["solo-0"].state.controller_epoch}));
  EXPECT_EQ(s["pair-0"].state.isr, std::vector<int32_t>{2});  // 1 is alive but not clean
  EXPECT_EQ(HealthOf(*ReadPartitionStates(admin_.get(), "/strata/"), {0, 1}).offline, 2);

  nodes_[2] = StartNode(2);  // the in-sync replica returns and leads again
  ASSERT_TRUE(Eventually([&] {
    auto s = States();
    return s["solo-0"].state.leader == 2 && s["pair-0"].state.leader == 2;
  }));
  EXPECT_EQ(States()["solo-0"].state.leader_epoch, 2);
}

TEST_F(ControllerTest, UncleanElectionPicksAnyLiveReplica) {
  for (auto& [id, n] : nodes_) n.Stop();
  nodes_.clear();
  for (int32_t id = 0; id < 2; ++id) nodes_[id] = StartNode(id, {.unclean_leader_election = true});
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "lossy", {{1, 0}}).ok());
  // A topic's own setting wins over the broker default.
  ASSERT_TRUE(CreateTopicAssignment(admin_.get(), "/strata/", "strict",
                                    {.partitions = {{1, 0}},
                                     .configs = {{"unclean.leader.election.enable", "false"}}})
                  .ok());
  for (const char* topic : {"lossy", "strict"}) {
    auto p = States()[std::string(topic) + "-0"];
    ASSERT_TRUE(admin_
                    ->CompareAndSet(PartitionKey("/strata/", topic, 0), p.mod_revision,
                                    EncodePartitionState({.leader = 1, .isr = {1}}))
                    ->applied);
  }
  nodes_[1].Stop();
  ASSERT_TRUE(Eventually([&] {
    auto s = States();
    return s["lossy-0"].state.leader == 0 && s["strict-0"].state.leader == kNoLeader;
  }));
  EXPECT_EQ(States()["lossy-0"].state.isr, std::vector<int32_t>{0});
  EXPECT_EQ(States()["strict-0"].state.isr, std::vector<int32_t>{1});  // offline until 1 returns
}

TEST_F(ControllerTest, ATopicMayAllowUncleanElectionAgainstTheDefault) {
  ASSERT_TRUE(CreateTopicAssignment(
                  admin_.get(), "/strata/", "lenient",
                  {.partitions = {{2, 1}}, .configs = {{"unclean.leader.election.enable", "true"}}})
                  .ok());
  auto p = States()["lenient-0"];
  ASSERT_TRUE(admin_
                  ->CompareAndSet(PartitionKey("/strata/", "lenient", 0), p.mod_revision,
                                  EncodePartitionState({.leader = 2, .isr = {2}}))
                  ->applied);
  nodes_[2].Stop();
  ASSERT_TRUE(Eventually([&] { return States()["lenient-0"].state.leader == 1; }));
  EXPECT_EQ(States()["lenient-0"].state.isr, std::vector<int32_t>{1});
}

TEST_F(ControllerTest, FinishesATopicCreationCutShortAndLeavesGarbageAlone) {
  // The creator wrote the assignment and died before the states.
  ASSERT_TRUE(
      admin_->Put(TopicKey("/strata/", "half"), EncodeTopicAssignment({{{2, 0}, {0, 1}}})).ok());
  ASSERT_TRUE(admin_->Put(PartitionKey("/strata/", "junk", 0), "{not json").ok());
  ASSERT_TRUE(admin_->Put(TopicKey("/strata/", "junk"), EncodeTopicAssignment({{{1}}})).ok());
  ASSERT_TRUE(Eventually([&] {
    auto s = States();
    return s["half-0"].mod_revision > 0 && s["half-1"].mod_revision > 0;
  }));
  auto s = States();
  EXPECT_EQ(s["half-0"].state.leader, 2);
  EXPECT_EQ(s["half-0"].state.isr, (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(s["half-1"].state.leader, 0);
  EXPECT_TRUE(s["junk-0"].unreadable);
  EXPECT_EQ((*admin_->Get(PartitionKey("/strata/", "junk", 0)))->value, "{not json");
}

TEST_F(ControllerTest, ControlledShutdownMovesLeadersFirst) {
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "orders",
                               *AssignReplicas(nodes_[0].membership->View().brokers, 3, 2, 0))
                  .ok());
  ASSERT_TRUE(CreateTopicState(admin_.get(), "/strata/", "only1", {{1}}).ok());
  // orders: {0,1} {1,2} {2,0}. Broker 1 leaves in a controlled way.
  auto view = nodes_[1].membership->View();
  auto moved = MoveLeadershipAway(admin_.get(), "/strata/", 1, {0, 1, 2}, view.controller_epoch);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 1);
  auto s = States();
  EXPECT_EQ(s["orders-1"].state.leader, 2);
  EXPECT_EQ(s["orders-1"].state.leader_epoch, 1);
  EXPECT_EQ(s["orders-0"].state.isr, std::vector<int32_t>{0});  // left the follower's ISR
  EXPECT_EQ(s["orders-0"].state.leader_epoch, 0);
  EXPECT_EQ(s["only1-0"].state.leader, 1);  // nobody else in sync: it keeps leading
}

}  // namespace
}  // namespace strata
