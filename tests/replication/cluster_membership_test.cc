// ClusterMembership against a real etcd (several brokers, each with its own store connection as
// separate processes would have) and the embedded store (a single broker).
#include "replication/cluster_membership.h"

#include <chrono>
#include <functional>
#include <thread>

#include "gtest/gtest.h"
#include "replication/etcd_store.h"
#include "tests/replication/etcd_process.h"
#include "tests/replication/store_testing.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::Eventually;

ClusterMembership::Options OptionsFor(int32_t id) {
  ClusterMembership::Options o;
  o.self = {.id = id, .host = "127.0.0.1", .port = 9092 + id};
  if (id % 2 == 1) o.self.rack = "rack-a";
  o.session_timeout_ms = 3'000;
  o.registration_wait_ms = 500;
  o.refresh_interval_ms = 200;
  return o;
}

class EtcdCluster : public ::testing::Test {
 protected:
  std::unique_ptr<MetadataStore> NewStore() {
    auto store =
        EtcdMetadataStore::Open({.endpoint = etcd_.endpoint(), .request_timeout_ms = 2000});
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  }
  testing::EtcdProcess etcd_;
};

TEST(BrokerInfoCodec, RoundTripsAndRejectsGarbage) {
  BrokerInfo b{.id = 7, .host = "10.0.0.1", .port = 9092, .rack = "r1"};
  EXPECT_EQ(EncodeBrokerInfo(b), R"({"host":"10.0.0.1","id":7,"port":9092,"rack":"r1"})");
  auto back = DecodeBrokerInfo(EncodeBrokerInfo(b));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, b);
  b.rack.reset();
  EXPECT_EQ(*DecodeBrokerInfo(EncodeBrokerInfo(b)), b);
  EXPECT_FALSE(DecodeBrokerInfo("{").ok());
  EXPECT_FALSE(DecodeBrokerInfo(R"({"id":"x","host":"h","port":1})").ok());
  EXPECT_FALSE(DecodeBrokerInfo("[]").ok());
}

TEST_F(EtcdCluster, OneControllerAndEveryoneSeesEveryone) {
  std::vector<std::unique_ptr<MetadataStore>> stores;
  std::vector<std::unique_ptr<ClusterMembership>> members;
  for (int32_t id = 1; id <= 3; ++id) {
    stores.push_back(NewStore());
    auto m = ClusterMembership::Start(stores.back().get(), OptionsFor(id));
    ASSERT_TRUE(m.ok()) << m.status();
    members.push_back(std::move(*m));
  }
  ASSERT_TRUE(Eventually([&] {
    for (auto& m : members) {
      if (m->View().brokers.size() != 3) return false;
    }
    return true;
  }));
  // The first to start won; all agree.
  int controllers = 0;
  for (auto& m : members) {
    controllers += m->IsController();
    EXPECT_EQ(m->View().controller_id, 1);
    EXPECT_GT(m->View().controller_epoch, 0);
  }
  EXPECT_EQ(controllers, 1);
  ClusterView view = members[2]->View();
  ASSERT_NE(view.Find(3), nullptr);
  EXPECT_EQ(view.Find(3)->port, 9095);
  EXPECT_EQ(view.Find(1)->rack, "rack-a");
  EXPECT_FALSE(view.Find(2)->rack.has_value());
  // A tool's one-off read agrees.
  auto read = ReadClusterView(stores[0].get(), "/strata/");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->brokers, view.brokers);
  EXPECT_EQ(read->controller_id, 1);
}

TEST_F(EtcdCluster, ControllerStopHandsOverWithHigherEpoch) {
  std::vector<std::unique_ptr<MetadataStore>> stores;
  std::vector<std::unique_ptr<ClusterMembership>> members;
  for (int32_t id = 1; id <= 3; ++id) {
    stores.push_back(NewStore());
    members.push_back(*ClusterMembership::Start(stores.back().get(), OptionsFor(id)));
  }
  ASSERT_TRUE(members[0]->IsController());
  int64_t epoch = members[1]->View().controller_epoch;
  auto started = std::chrono::steady_clock::now();
  members[0]->Stop();  // revokes at once: no waiting for the session timeout
  ASSERT_TRUE(Eventually([&] {
    ClusterView a = members[1]->View(), b = members[2]->View();
    return a.brokers.size() == 2 && b.brokers.size() == 2 && a.controller_id != -1 &&
           a.controller_id != 1 && a.controller_id == b.controller_id &&
           a.controller_epoch == b.controller_epoch;
  }));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::milliseconds(2'500)) << "handover should not wait for the TTL";
  EXPECT_GT(members[1]->View().controller_epoch, epoch);
  EXPECT_EQ(members[1]->IsController() + members[2]->IsController(), 1);
}

TEST_F(EtcdCluster, LostSessionReRegisters) {
  auto s1 = NewStore(), s2 = NewStore(), admin = NewStore();
  auto m1 = *ClusterMembership::Start(s1.get(), OptionsFor(1));
  auto m2 = *ClusterMembership::Start(s2.get(), OptionsFor(2));
  ASSERT_TRUE(m1->IsController());
  // Broker 1's session ends under it (as when etcd expires a lease the broker could not refresh).
  auto reg = *admin->Get("/strata/brokers/1");
  ASSERT_TRUE(reg.has_value());
  ASSERT_TRUE(admin->Revoke(reg->lease).ok());
  // Broker 2 takes the controller role; broker 1 registers again under a new session.
  ASSERT_TRUE(Eventually([&] { return m2->IsController(); }));
  ASSERT_TRUE(Eventually([&] {
    auto again = admin->Get("/strata/brokers/1");
    return again.ok() && again->has_value() && (*again)->lease != reg->lease &&
           m2->View().brokers.size() == 2 && m1->View().controller_id == 2;
  }));
  EXPECT_FALSE(m1->IsController());
}

TEST_F(EtcdCluster, DuplicateBrokerIdIsRefused) {
  auto s1 = NewStore(), s2 = NewStore();
  auto m1 = *ClusterMembership::Start(s1.get(), OptionsFor(1));
  auto dup = ClusterMembership::Start(s2.get(), OptionsFor(1));
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(dup.status())) << dup.status();
  EXPECT_NE(dup.status().message().find("--broker-id"), std::string::npos);
  // The refused one left nothing behind: the first registration is intact.
  EXPECT_EQ(m1->View().brokers.size(), 1u);
  auto reg = *s2->Get("/strata/brokers/1");
  ASSERT_TRUE(reg.has_value());
  EXPECT_EQ(reg->version, 1);
}

TEST_F(EtcdCluster, RestartedBrokerWaitsOutItsOldSession) {
  auto s1 = NewStore(), admin = NewStore();
  auto o = OptionsFor(1);
  auto m1 = *ClusterMembership::Start(s1.get(), o);
  // A kill -9: the old session stays until its TTL runs out. Emulate it by a second session
  // holding the key that nobody refreshes.
  m1->Stop();
  auto lease = *admin->Grant(3'000);
  ASSERT_TRUE(
      admin->CompareAndSet("/strata/brokers/1", 0, EncodeBrokerInfo(o.self), lease)->applied);
  o.registration_wait_ms = 10'000;
  auto started = std::chrono::steady_clock::now();
  auto again = ClusterMembership::Start(s1.get(), o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1'000));
  EXPECT_TRUE((*again)->IsController());
}

TEST_F(EtcdCluster, EtcdRestartKeepsTheCluster) {
  auto s1 = NewStore(), s2 = NewStore();
  auto m1 = *ClusterMembership::Start(s1.get(), OptionsFor(1));
  auto m2 = *ClusterMembership::Start(s2.get(), OptionsFor(2));
  etcd_.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(etcd_.Start());
  // Leases survive an etcd restart (etcd renews them on recovery); the view comes back whole.
  std::this_thread::sleep_for(std::chrono::milliseconds(4'000));
  ASSERT_TRUE(Eventually([&] {
    return m1->View().brokers.size() == 2 && m2->View().brokers.size() == 2 &&
           m1->View().controller_id != -1 && m1->View().controller_id == m2->View().controller_id;
  }));
  EXPECT_EQ(m1->IsController() + m2->IsController(), 1);
}

}  // namespace
}  // namespace strata
