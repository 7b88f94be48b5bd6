// Replication end to end: three real brokers and a real etcd on loopback, real librdkafka
// clients. Followers are byte-identical copies (`strata log verify` plus file checksums);
// acks=all survives kill -9 of the leader again and again (a checker reads everything back);
// a paused follower leaves the ISR and rejoins; a crashed leader's unreplicated tail is cut on
// its return; controlled shutdown costs the producer nothing; an etcd outage stops leadership
// only once the brokers' sessions end, and heals by itself.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster_harness.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/rdkafka_group.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

using testing::BrokerProcess;

class ReplicationTest : public ClusterHarness {};

// Produces `per_partition` values 0, 1, ... to each of `partitions` with acks=all on a thread.
struct BackgroundProducer {
  BackgroundProducer(const std::string& bootstrap, const std::string& topic, int partitions,
                     int per_partition, int pause_every = 50)
      : producer(ProducerConf(bootstrap)) {
    thread = std::thread([=, this] {
      for (int i = 0; i < per_partition; ++i) {
        for (int p = 0; p < partitions; ++p) {
          producer.Send(topic, nullptr, absl::StrCat(i), p);
          sent.push_back(p);
        }
        if (i % pause_every == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      failures = producer.Flush(180'000);
      done = true;
    });
  }
  ~BackgroundProducer() {
    if (thread.joinable()) thread.join();
  }
  void Join() { thread.join(); }

  testing::Producer producer;
  std::vector<int32_t> sent;  // partition of each message, in send order
  std::atomic<int> failures{-1};
  std::atomic<bool> done{false};
  std::thread thread;
};

TEST_F(ReplicationTest, AcknowledgedWritesSurviveKillingTheLeaderAgainAndAgain) {
  StartCluster();
  CreateTopic("chaos", 2, 2);
  const int kPerPartition = 4000;
  BackgroundProducer bg(Bootstrap(), "chaos", 2, kPerPartition, /*pause_every=*/5);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ASSERT_FALSE(bg.done.load()) << "the producer finished before kill " << round;
    int32_t leader = State("chaos", round % 2).state.leader;
    ASSERT_GE(leader, 0);
    Broker(leader).Kill();
    ASSERT_TRUE(Eventually([&] {
      PartitionRecord r = State("chaos", round % 2);
      return r.state.leader >= 0 && r.state.leader != leader;
    })) << "no new leader after killing "
        << leader;
    Broker(leader).Start();
    ASSERT_TRUE(Broker(leader).ok()) << Broker(leader).log();
    // Back in the ISR before the next kill, so min.insync.replicas=2 can still be met.
    ASSERT_TRUE(Eventually(
        [&] {
          auto isr = State("chaos", round % 2).state.isr;
          return std::count(isr.begin(), isr.end(), leader) == 1;
        },
        60'000))
        << Broker(leader).log();
  }
  bg.Join();
  EXPECT_EQ(bg.failures.load(), 0);
  // The checker: every acknowledged value is there, first copies in order per partition.
  const std::vector<int64_t>& delivered = bg.producer.delivered();
  ASSERT_EQ(delivered.size(), bg.sent.size());
  std::map<int32_t, std::set<int>> acked;
  std::map<int32_t, int> next_value;
  for (size_t i = 0; i < delivered.size(); ++i) {
    int32_t p = bg.sent[i];
    int value = next_value[p]++;
    if (delivered[i] >= 0) acked[p].insert(value);
  }
  int duplicates = 0;
  for (int32_t p = 0; p < 2; ++p) {
    std::vector<testing::Message> got = testing::Consume(
        Bootstrap(), "chaos", {p}, 0, static_cast<size_t>(kPerPartition) * 2, 20'000);
    std::set<int> seen;
    int last_new = -1;
    for (const auto& m : got) {
      int v = std::stoi(m.value);
      if (!seen.insert(v).second) {
        ++duplicates;
        continue;
      }
      EXPECT_GT(v, last_new) << "partition " << p << " out of order at offset " << m.offset;
      last_new = v;
    }
    for (int v : acked[p]) {
      ASSERT_TRUE(seen.count(v)) << "acknowledged value " << v << " of partition " << p
                                 << " is missing";
    }
    EXPECT_EQ(acked[p].size(), static_cast<size_t>(kPerPartition));
  }
  std::printf("kill -9 rounds: 3, acknowledged: %zu, producer-retry duplicates: %d\n",
              acked[0].size() + acked[1].size(), duplicates);
}

TEST_F(ReplicationTest, APausedFollowerLeavesTheIsrAndRejoins) {
  StartCluster();
  CreateTopic("isr", 1, 2);
  PartitionRecord r = State("isr", 0);
  int32_t leader = r.state.leader;
  int32_t follower = r.replicas[0] == leader ? r.replicas[1] : r.replicas[0];
  Broker(follower).Pause();
  testing::Producer producer(ProducerConf(Bootstrap()));
  for (int i = 0; i < 200; ++i) producer.Send("isr", nullptr, absl::StrCat(i), 0);
  // acks=all completes once the ISR drops the paused follower (replica.lag.time.max.ms).
  EXPECT_EQ(producer.Flush(), 0);
  EXPECT_TRUE(Eventually([&] { return State("isr", 0).state.isr.size() == 2; }));
  std::vector<int32_t> isr = State("isr", 0).state.isr;
  EXPECT_EQ(std::count(isr.begin(), isr.end(), follower), 0);
  Broker(follower).Resume();
  EXPECT_TRUE(Eventually([&] { return State("isr", 0).state.isr.size() == 3; }));
  EXPECT_TRUE(Eventually([&] { return Identical("isr", 0); }));
}

TEST_F(ReplicationTest, TooSmallAnIsrRefusesAcksAll) {
  StartCluster();
  CreateTopic("strict", 1, 3);
  PartitionRecord r = State("strict", 0);
  int32_t follower = r.replicas[0] == r.state.leader ? r.replicas[1] : r.replicas[0];
  Broker(follower).Kill();
  ASSERT_TRUE(Eventually([&] { return State("strict", 0).state.isr.size() == 2; }));
  auto conf = ProducerConf(Bootstrap());
  conf["message.timeout.ms"] = "3000";
  testing::Producer producer(conf);
  producer.Send("strict", nullptr, "refused", 0);
  EXPECT_EQ(producer.Flush(), 1);  // NOT_ENOUGH_REPLICAS until the message times out
  EXPECT_EQ(producer.delivered().back(), -1);
}

TEST_F(ReplicationTest, ACrashedLeaderCutsItsUnreplicatedTailOnReturn) {
  // The paused followers must stay alive to the controller through the pause (sessions longer
  // than it): were they dropped from the ISR, the leader alone would commit the tail.
  StartCluster({"replica.lag.time.max.ms=20000", "broker.session.timeout.ms=10000"});
  CreateTopic("tail", 1, 1);
  testing::Producer acked(ProducerConf(Bootstrap()));
  for (int i = 0; i < 100; ++i) acked.Send("tail", nullptr, absl::StrCat("acked-", i), 0);
  ASSERT_EQ(acked.Flush(), 0);
  PartitionRecord r = State("tail", 0);
  const int32_t old_leader = r.state.leader;
  ASSERT_TRUE(Eventually([&] { return Identical("tail", 0); }));
  // The followers stop copying; the leader takes 50 more with acks=1 and dies.
  for (int32_t id : r.replicas) {
    if (id != old_leader) Broker(id).Pause();
  }
  // A fetch the followers had parked at the leader would still carry the next records to them
  // (it answers into their socket buffers): let those expire first (replica.fetch.wait.max.ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto conf = ProducerConf(Broker(old_leader).bootstrap());
  conf["acks"] = "1";
  const int64_t lossy_from_ms = absl::ToUnixMillis(absl::Now());
  testing::Producer lossy(conf);
  for (int i = 0; i < 50; ++i) lossy.Send("tail", nullptr, absl::StrCat("lost-", i), 0);
  ASSERT_EQ(lossy.Flush(), 0);
  // Written on the leader only: above the high watermark, so no consumer sees it, and the
  // latest offset a consumer is told is still 100.
  std::vector<testing::Message> visible =
      testing::Consume(Broker(old_leader).bootstrap(), "tail", {0}, 0, 150, 1500);
  EXPECT_EQ(visible.size(), 100u);
  auto latest = testing::Shell(
      absl::StrCat("kcat -Q -b ", Broker(old_leader).bootstrap(), " -t tail:0:-1 2>&1"));
  EXPECT_NE(latest.out.find("tail [0] offset 100"), std::string::npos) << latest.out;
  auto by_time = testing::Shell(absl::StrCat("kcat -Q -b ", Broker(old_leader).bootstrap(),
                                             " -t tail:0:", lossy_from_ms, " 2>&1"));
  EXPECT_NE(by_time.out.find("tail [0] offset -1"), std::string::npos) << by_time.out;
  Broker(old_leader).Kill();
  for (int32_t id : r.replicas) {
    if (id != old_leader) Broker(id).Resume();
  }
  ASSERT_TRUE(Eventually([&] {
    PartitionRecord now = State("tail", 0);
    return now.state.leader >= 0 && now.state.leader != old_leader;
  }));
  testing::Producer after(ProducerConf(Bootstrap()));
  for (int i = 0; i < 20; ++i) after.Send("tail", nullptr, absl::StrCat("after-", i), 0);
  ASSERT_EQ(after.Flush(), 0);
  Broker(old_leader).Start();
  ASSERT_TRUE(Broker(old_leader).ok()) << Broker(old_leader).log();
  EXPECT_TRUE(Eventually([&] { return Identical("tail", 0); }, 60'000)) << Broker(old_leader).log();
  std::vector<testing::Message> got = testing::Consume(Bootstrap(), "tail", {0}, 0, 120, 20'000);
  ASSERT_EQ(got.size(), 120u);
  for (const auto& m : got) EXPECT_EQ(m.value.find("lost-"), std::string::npos) << m.value;
  EXPECT_EQ(got.back().value, "after-19");
  EXPECT_NE(Broker(old_leader).log().find("replica.truncated"), std::string::npos);
}

TEST_F(ReplicationTest, ControlledShutdownCostsTheProducerNothing) {
  StartCluster();
  CreateTopic("calm", 3, 2);
  const int kPerPartition = 3000;
  BackgroundProducer bg(Bootstrap(), "calm", 3, kPerPartition, /*pause_every=*/5);
  for (int32_t id : {0, 1}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ASSERT_FALSE(bg.done.load()) << "the producer finished before the shutdown";
    ASSERT_EQ(Broker(id).Stop(), 0) << Broker(id).log();
    Broker(id).Start();
    ASSERT_TRUE(Broker(id).ok()) << Broker(id).log();
    ASSERT_TRUE(Eventually(
        [&] {
          for (int p = 0; p < 3; ++p) {
            if (State("calm", p).state.isr.size() != 3) return false;
          }
          return true;
        },
        60'000))
        << Diagnose("calm");
  }
  bg.Join();
  EXPECT_EQ(bg.failures.load(), 0);
  for (int64_t offset : bg.producer.delivered()) EXPECT_GE(offset, 0);
  std::vector<testing::Message> got = testing::Consume(
      Bootstrap(), "calm", {0, 1, 2}, 0, static_cast<size_t>(kPerPartition) * 3, 30'000);
  EXPECT_GE(got.size(), static_cast<size_t>(kPerPartition) * 3);
}

TEST_F(ReplicationTest, CommittedOffsetsSurviveTheirCoordinatorsDeath) {
  StartCluster();
  CreateTopic("events", 1, 2);
  testing::Producer producer(ProducerConf(Bootstrap()));
  for (int i = 0; i < 50; ++i) producer.Send("events", nullptr, absl::StrCat(i), 0);
  ASSERT_EQ(producer.Flush(), 0);
  {
    testing::GroupConsumer c(Bootstrap(), "movers", {"events"});
    ASSERT_TRUE(c.ok()) << c.error();
    std::optional<testing::Message> last;
    ASSERT_TRUE(Eventually([&] {
      while (auto m = c.Poll(100)) last = m;
      return last.has_value() && last->offset == 49;
    }));
    ASSERT_EQ(c.Commit(*last), RD_KAFKA_RESP_ERR_NO_ERROR);
    c.Close();
  }
  // The coordinator is the leader of the group's __consumer_offsets partition.
  auto describe = testing::Shell(
      absl::StrCat(STRATA_BINARY, " group describe movers --bootstrap ", Bootstrap(), " 2>&1"));
  size_t at = describe.out.find("Coordinator: ");
  ASSERT_NE(at, std::string::npos) << describe.out;
  const int32_t coordinator = std::stoi(describe.out.substr(at + 13));
  Broker(coordinator).Kill();
  std::vector<std::string> others;
  for (int32_t id = 0; id < 3; ++id) {
    if (id != coordinator) others.push_back(Broker(id).bootstrap());
  }
  testing::GroupConsumer after(absl::StrJoin(others, ","), "movers", {"events"});
  std::optional<int64_t> committed;
  EXPECT_TRUE(Eventually([&] {
    committed = after.Committed(0);
    return committed == 50;
  })) << (committed ? *committed : -1);
  auto moved = testing::Shell(absl::StrCat(STRATA_BINARY, " group describe movers --bootstrap ",
                                           absl::StrJoin(others, ","), " 2>&1"));
  EXPECT_EQ(moved.out.find(absl::StrCat("Coordinator: ", coordinator, " ")), std::string::npos)
      << moved.out;
  after.Close();
}

// Topic changes wait for the store on the admin thread, not on a reactor: with one reactor per
// broker and etcd hanging, acks=all produce to every broker goes on while a CreateTopics waits.
TEST_F(ReplicationTest, AHangingStoreStallsTopicChangesButNotData) {
  StartCluster({"num.network.threads=1"});
  CreateTopic("busy", 3, 2);
  testing::Producer producer(ProducerConf(Bootstrap()));
  for (int i = 0; i < 30; ++i) producer.Send("busy", nullptr, absl::StrCat(i), i % 3);
  ASSERT_EQ(producer.Flush(), 0);
  etcd_.Pause();
  std::thread create([&] {
    for (const auto& b : brokers_) {
      testing::Shell(absl::StrCat(STRATA_BINARY, " topic create --bootstrap ", b->bootstrap(),
                                  " --topic waiting --replication-factor 3 2>&1"));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the CreateTopics waits
  for (int i = 0; i < 30; ++i) producer.Send("busy", nullptr, absl::StrCat(i), i % 3);
  const int unfinished = producer.Flush(2000);
  etcd_.Resume();
  create.join();
  EXPECT_EQ(unfinished, 0) << "produce waited for the store";
}

// While etcd is down, data keeps flowing until the brokers' sessions may have expired; then no
// broker leads (each could have been replaced, were it cut off alone), and once etcd is back they
// register again, lead again, and every write the producer was kept waiting for lands.
TEST_F(ReplicationTest, AnEtcdOutageStopsLeadershipOnlyOnceTheSessionsEnd) {
  StartCluster({"broker.session.timeout.ms=6000"});
  CreateTopic("steady", 2, 2);
  testing::Producer producer(ProducerConf(Bootstrap()));
  producer.Send("steady", nullptr, "warm-up", 0);
  ASSERT_EQ(producer.Flush(), 0);
  const std::set<int32_t> leaders = {State("steady", 0).state.leader,
                                     State("steady", 1).state.leader};
  etcd_.Kill();
  // Within the sessions (at least 0.9 x 6 s after the last keep-alive, which was < 2 s ago).
  for (int i = 0; i < 300; ++i) producer.Send("steady", nullptr, absl::StrCat(i), i % 2);
  EXPECT_EQ(producer.Flush(2'500), 0);
  // Past them: nobody leads, the producer waits (retrying NOT_LEADER_OR_FOLLOWER).
  std::this_thread::sleep_for(std::chrono::milliseconds(6'500));
  for (int i = 300; i < 400; ++i) producer.Send("steady", nullptr, absl::StrCat(i), i % 2);
  EXPECT_GT(producer.Flush(2'000), 0);
  for (int32_t id : leaders) {
    EXPECT_NE(Broker(id).log().find("replicas.resigned_without_session"), std::string::npos)
        << Broker(id).log();
  }
  ASSERT_TRUE(etcd_.Start()) << etcd_.log();
  EXPECT_TRUE(Eventually([&] { return Registered().size() == 3; }));
  EXPECT_EQ(producer.Flush(), 0) << Diagnose("steady");
  std::vector<testing::Message> got =
      testing::Consume(Bootstrap(), "steady", {0, 1}, 0, 401, 20'000);
  std::set<std::string> values;
  for (const auto& m : got) values.insert(m.value);
  EXPECT_EQ(values.size(), 401u);
}

}  // namespace
}  // namespace strata
