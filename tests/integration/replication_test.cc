// Replication end to end: three real brokers and a real etcd on loopback, real librdkafka
// clients. Followers are byte-identical copies (`strata log verify` plus file checksums);
// acks=all survives kill -9 of the leader again and again (a checker reads everything back);
// a paused follower leaves the ISR and rejoins; a crashed leader's unreplicated tail is cut on
// its return; controlled shutdown costs the producer nothing; an etcd outage does not stop
// data traffic.
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
#include "replication/etcd_store.h"
#include "replication/partition_state.h"
#include "tests/replication/etcd_process.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/rdkafka_group.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

using testing::BrokerProcess;

bool Eventually(const std::function<bool()>& done, int timeout_ms = 30'000) {
  for (int waited = 0; waited <= timeout_ms; waited += 100) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string FileBytes(const std::string& path) {
  auto s = ReadFileToString(FileSystem::Default(), path);
  return s.ok() ? *s : "";
}

// The concatenated .log segment files of one partition directory (its records, byte for byte).
std::string SegmentBytes(const std::string& dir) {
  auto names = FileSystem::Default()->ListDir(dir);
  if (!names.ok()) return "";
  std::vector<std::string> logs;
  for (const std::string& n : *names) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log") logs.push_back(n);
  }
  std::sort(logs.begin(), logs.end());
  std::string out;
  for (const std::string& n : logs) out += FileBytes(dir + "/" + n);
  return out;
}

class ReplicationTest : public ::testing::Test {
 protected:
  void StartCluster(std::vector<std::string> extra = {}) {
    ASSERT_TRUE(etcd_.ok()) << etcd_.log();
    for (int id = 0; id < 3; ++id) {
      std::vector<std::string> args{"--metadata",  etcd_.uri(),
                                    "--broker-id", std::to_string(id),
                                    "--set",       "broker.session.timeout.ms=3000",
                                    "--set",       "default.replication.factor=3",
                                    "--set",       "offsets.topic.num.partitions=3",
                                    "--set",       "replica.fetch.backoff.ms=200"};
      bool lag_set = false;
      for (const auto& e : extra) lag_set |= e.rfind("replica.lag.time.max.ms", 0) == 0;
      if (!lag_set) extra.push_back("replica.lag.time.max.ms=3000");
      for (const auto& e : extra) {
        args.push_back("--set");
        args.push_back(e);
      }
      brokers_.push_back(std::make_unique<BrokerProcess>(args));
      ASSERT_TRUE(brokers_.back()->ok()) << brokers_.back()->log();
    }
    auto store = EtcdMetadataStore::Open({.endpoint = etcd_.endpoint()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(Eventually([&] {
      auto v = ReadClusterView(store_.get(), "/strata/");
      return v.ok() && v->brokers.size() == 3;
    }));
  }

  std::string Bootstrap() const {
    std::vector<std::string> out;
    for (const auto& b : brokers_) out.push_back(b->bootstrap());
    return absl::StrJoin(out, ",");
  }

  PartitionRecord State(const std::string& topic, int32_t partition) {
    auto records = ReadPartitionStates(store_.get(), "/strata/");
    if (records.ok()) {
      for (const auto& r : *records) {
        if (r.topic == topic && r.partition == partition) return r;
      }
    }
    return {};
  }

  void CreateTopic(const std::string& name, int partitions, int min_insync) {
    std::string err = testing::CreateTopic(
        Bootstrap(), name, partitions, {{"min.insync.replicas", std::to_string(min_insync)}}, 3);
    ASSERT_EQ(err, "");
    for (int p = 0; p < partitions; ++p) {
      ASSERT_TRUE(Eventually([&] { return State(name, p).state.isr.size() == 3; }));
    }
  }

  // Every broker holds the same bytes for the partition (and has some).
  bool Identical(const std::string& topic, int32_t partition, size_t* bytes = nullptr) {
    std::set<std::string> copies;
    for (const auto& b : brokers_) {
      copies.insert(SegmentBytes(absl::StrCat(b->data_dir(), "/", topic, "-", partition)));
    }
    if (bytes != nullptr) *bytes = copies.begin()->size();
    return copies.size() == 1 && !copies.begin()->empty();
  }

  BrokerProcess& Broker(int32_t id) { return *brokers_[static_cast<size_t>(id)]; }

  // For a failed wait: the topic's partition states and the brokers' replication log lines.
  std::string Diagnose(const std::string& topic) {
    std::string out;
    auto records = ReadPartitionStates(store_.get(), "/strata/");
    for (const auto& r : records.ok() ? *records : std::vector<PartitionRecord>{}) {
      if (r.topic != topic) continue;
      absl::StrAppend(&out, topic, "-", r.partition, " leader ", r.state.leader, " epoch ",
                      r.state.leader_epoch, " isr ", absl::StrJoin(r.state.isr, ","), "\n");
    }
    for (size_t id = 0; id < brokers_.size(); ++id) {
      const std::string log = brokers_[id]->log();
      std::vector<absl::string_view> lines = absl::StrSplit(log, '\n');
      bool crashed = false;
      for (size_t i = 0; i < lines.size(); ++i) {
        // Replication events, a crash report (Abseil's or a sanitizer's, with its stacks) and
        // whatever the broker wrote last.
        crashed = crashed || absl::StrContains(lines[i], "RAW:") ||
                  absl::StrContains(lines[i], "Sanitizer");
        if (crashed || absl::StrContains(lines[i], "replica") ||
            absl::StrContains(lines[i], "controller") || i + 30 >= lines.size()) {
          absl::StrAppend(&out, "broker ", id, ": ", lines[i], "\n");
        }
      }
    }
    return out;
  }

  testing::EtcdProcess etcd_;
  std::vector<std::unique_ptr<BrokerProcess>> brokers_;
  std::unique_ptr<MetadataStore> store_;
};

std::map<std::string, std::string> ProducerConf(const std::string& bootstrap, int in_flight = 1) {
  return {{"bootstrap.servers", bootstrap},
          {"acks", "all"},
          {"enable.idempotence", "false"},
          {"max.in.flight.requests.per.connection", std::to_string(in_flight)},
          {"retries", "1000000"},
          {"retry.backoff.ms", "100"},
          {"message.timeout.ms", "120000"},
          {"linger.ms", "5"},
          {"topic.metadata.refresh.interval.ms", "1000"}};
}

TEST_F(ReplicationTest, FollowersAreByteIdenticalCopies) {
  StartCluster();
  CreateTopic("orders", 3, 2);
  testing::Producer producer(ProducerConf(Bootstrap(), 5));
  ASSERT_TRUE(producer.ok()) << producer.error();
  for (int i = 0; i < 3000; ++i) {
    std::string key = absl::StrCat("k", i % 97);
    producer.Send("orders", &key, absl::StrCat("value-", i));
  }
  ASSERT_EQ(producer.Flush(), 0);
  for (int p = 0; p < 3; ++p) {
    size_t bytes = 0;
    EXPECT_TRUE(Eventually([&] { return Identical("orders", p, &bytes); })) << p;
    EXPECT_GT(bytes, 1000u);
  }
  // Consumers read everything from the leaders.
  std::vector<testing::Message> got =
      testing::Consume(Bootstrap(), "orders", {0, 1, 2}, 0, 3000, 30'000);
  EXPECT_EQ(got.size(), 3000u);
  for (auto& b : brokers_) ASSERT_EQ(b->Stop(), 0) << b->log();
  for (auto& b : brokers_) {
    auto verify =
        testing::Shell(absl::StrCat(STRATA_BINARY, " log verify ", b->data_dir(), " 2>&1"));
    EXPECT_EQ(verify.exit_code, 0) << verify.out;
  }
}

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

TEST_F(ReplicationTest, AnEtcdOutageDoesNotStopDataTraffic) {
  StartCluster();
  CreateTopic("steady", 2, 2);
  etcd_.Kill();
  testing::Producer producer(ProducerConf(Bootstrap()));
  for (int i = 0; i < 500; ++i) producer.Send("steady", nullptr, absl::StrCat(i), i % 2);
  EXPECT_EQ(producer.Flush(), 0);
  std::vector<testing::Message> got =
      testing::Consume(Bootstrap(), "steady", {0, 1}, 0, 500, 20'000);
  EXPECT_EQ(got.size(), 500u);
  // Longer than the brokers' sessions: still serving, and back in the cluster once etcd is.
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  for (int i = 0; i < 100; ++i) producer.Send("steady", nullptr, absl::StrCat(500 + i), i % 2);
  EXPECT_EQ(producer.Flush(), 0);
  ASSERT_TRUE(etcd_.Start()) << etcd_.log();
  EXPECT_TRUE(Eventually([&] {
    auto v = ReadClusterView(store_.get(), "/strata/");
    return v.ok() && v->brokers.size() == 3;
  }));
  for (int i = 0; i < 100; ++i) producer.Send("steady", nullptr, absl::StrCat(600 + i), i % 2);
  EXPECT_EQ(producer.Flush(), 0);
  EXPECT_EQ(testing::Consume(Bootstrap(), "steady", {0, 1}, 0, 700, 20'000).size(), 700u);
}

}  // namespace
}  // namespace strata
