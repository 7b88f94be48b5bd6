// Consumer groups with real clients: librdkafka high-level consumers (eager and cooperative
// rebalancing, static membership, a member that dies), kcat -G, and committed offsets across a
// clean restart and a kill -9.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/rdkafka_group.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

using testing::BrokerProcess;
using testing::GroupConsumer;
using testing::Message;
using testing::PollUntil;
using SteadyClock = std::chrono::steady_clock;

// Fast group timers for tests: no initial delay, short sessions allowed.
std::vector<std::string> FastGroups() {
  return {"--set", "group.initial.rebalance.delay.ms=0", "--set",
          "group.min.session.timeout.ms=500"};
}

// Short sessions, and the roundrobin assignor (the other tests use range, librdkafka's first
// default, and cooperative-sticky).
const std::map<std::string, std::string> kShortSession = {
    {"session.timeout.ms", "2000"},
    {"heartbeat.interval.ms", "200"},
    {"partition.assignment.strategy", "roundrobin"}};

void ProduceN(const std::string& bootstrap, const std::string& topic, int from, int count) {
  testing::Producer producer({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}});
  ASSERT_TRUE(producer.ok()) << producer.error();
  for (int i = from; i < from + count; ++i) {
    std::string key = absl::StrCat("key-", i);
    ASSERT_EQ(producer.Send(topic, &key, absl::StrCat("value-", i)), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(producer.Flush(), 0);
}

// Consumes with every member, committing each message before counting it; a message whose
// commit fails is not counted and is read again (by whoever owns its partition next). Stops
// when `want` distinct messages were counted or the deadline passed.
// Each member polls on its own thread, as separate applications would: a synchronous commit
// waits behind its member's parked JoinGroup until the others rejoin, and they can only rejoin
// while their own polls keep running.
class ExactlyOnce {
 public:
  void Pump(const std::vector<GroupConsumer*>& members, size_t want, int timeout_ms) {
    PumpUntil(members, timeout_ms, [&] { return seen_.size() >= want; });
  }
  // Consumes (as Pump does) until `done` holds; returns whether it did. `done` runs with the
  // counter's lock held.
  template <typename Pred>
  bool PumpUntil(const std::vector<GroupConsumer*>& members, int timeout_ms, Pred done) {
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (GroupConsumer* c : members) {
      threads.emplace_back([this, c, &stop, deadline] {
        while (!stop.load() && SteadyClock::now() < deadline) {
          std::optional<Message> m = c->Poll(20);
          if (!m.has_value()) continue;
          if (c->Commit(*m) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            c->Seek(m->partition, m->offset);
            continue;
          }
          std::lock_guard<std::mutex> lock(mu_);
          ++seen_[{m->partition, m->offset}];
          by_member_[c].insert(m->partition);
        }
      });
    }
    bool ok = false;
    while (SteadyClock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if ((ok = done())) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop.store(true);
    for (auto& t : threads) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    return ok || done();
  }
  size_t distinct() const { return seen_.size(); }
  int duplicates() const {
    int d = 0;
    for (const auto& [k, n] : seen_) d += n - 1;
    return d;
  }
  const std::set<int32_t>& partitions_of(GroupConsumer* c) { return by_member_[c]; }

 private:
  std::mutex mu_;
  std::map<std::pair<int32_t, int64_t>, int> seen_;
  std::map<GroupConsumer*, std::set<int32_t>> by_member_;
};

std::set<int32_t> Union(const std::vector<GroupConsumer*>& members) {
  std::set<int32_t> all;
  for (GroupConsumer* c : members) {
    for (int32_t p : c->assignment()) all.insert(p);
  }
  return all;
}

size_t TotalAssigned(const std::vector<GroupConsumer*>& members) {
  size_t n = 0;
  for (GroupConsumer* c : members) n += c->assignment().size();
  return n;
}

const std::set<int32_t> kSix = {0, 1, 2, 3, 4, 5};

TEST(GroupTest, ThreeMembersSplitPartitionsAndTakeOverFromADeadOne) {
  BrokerProcess broker(FastGroups());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "orders", 6), "");
  ProduceN(broker.bootstrap(), "orders", 0, 300);

  std::vector<std::unique_ptr<GroupConsumer>> owned;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(std::make_unique<GroupConsumer>(
        broker.bootstrap(), "split", std::vector<std::string>{"orders"}, kShortSession));
    ASSERT_TRUE(owned.back()->ok()) << owned.back()->error();
  }
  std::vector<GroupConsumer*> all = {owned[0].get(), owned[1].get(), owned[2].get()};
  ExactlyOnce counter;
  ASSERT_TRUE(counter.PumpUntil(all, 30000, [&] {
    return Union(all) == kSix && TotalAssigned(all) == 6 && !all[0]->assignment().empty() &&
           !all[1]->assignment().empty() && !all[2]->assignment().empty();
  })) << broker.log();
  EXPECT_NE(broker.log().find("group=split generation=1 protocol=roundrobin"), std::string::npos)
      << broker.log();
  counter.Pump(all, 300, 30000);
  ASSERT_EQ(counter.distinct(), 300u);

  // The first member dies without leaving: after its session times out the others take over.
  std::set<int32_t> orphaned = all[0]->assignment();
  ASSERT_FALSE(orphaned.empty());
  owned[0]->Abandon();
  std::vector<GroupConsumer*> survivors = {all[1], all[2]};
  ProduceN(broker.bootstrap(), "orders", 300, 300);
  counter.Pump(survivors, 600, 60000);
  EXPECT_EQ(counter.distinct(), 600u) << broker.log();
  EXPECT_EQ(counter.duplicates(), 0);
  EXPECT_EQ(Union(survivors), kSix);
  EXPECT_EQ(TotalAssigned(survivors), 6u);
  std::set<int32_t> taken_over;
  for (GroupConsumer* c : survivors) {
    for (int32_t p : counter.partitions_of(c)) {
      if (orphaned.count(p)) taken_over.insert(p);
    }
  }
  EXPECT_EQ(taken_over, orphaned) << "the dead member's partitions were not consumed by others";
}

TEST(GroupTest, CommittedOffsetsSurviveRestartAndKill) {
  BrokerProcess broker(FastGroups());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "resume", 3), "");
  ProduceN(broker.bootstrap(), "resume", 0, 90);
  std::map<int32_t, int64_t> ends;
  {
    GroupConsumer c(broker.bootstrap(), "resumer", {"resume"});
    ExactlyOnce counter;
    counter.Pump({&c}, 90, 30000);
    ASSERT_EQ(counter.distinct(), 90u);
    for (int32_t p = 0; p < 3; ++p) ends[p] = c.Committed(p).value_or(-1);
  }
  int64_t total = 0;
  for (const auto& [p, off] : ends) total += off;
  ASSERT_EQ(total, 90);

  broker.Restart();
  ASSERT_TRUE(broker.ok()) << broker.log();
  ProduceN(broker.bootstrap(), "resume", 90, 30);
  {
    GroupConsumer c(broker.bootstrap(), "resumer", {"resume"});
    std::vector<Message> got;
    auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (got.size() < 30 && SteadyClock::now() < deadline) {
      if (auto m = c.Poll(50)) {
        EXPECT_GE(m->offset, ends[m->partition]) << "re-read a committed message after restart";
        ASSERT_EQ(c.Commit(*m), RD_KAFKA_RESP_ERR_NO_ERROR);
        got.push_back(*m);
      }
    }
    EXPECT_EQ(got.size(), 30u);
    for (int32_t p = 0; p < 3; ++p) ends[p] = c.Committed(p).value_or(-1);
  }

  broker.Kill();
  broker.Start();
  ASSERT_TRUE(broker.ok()) << broker.log();
  GroupConsumer c(broker.bootstrap(), "resumer", {"resume"});
  for (int32_t p = 0; p < 3; ++p) {
    std::optional<int64_t> committed;
    // Right after start the coordinator may still be loading; librdkafka retries.
    for (int i = 0; i < 50 && !committed.has_value(); ++i) committed = c.Committed(p);
    EXPECT_EQ(committed.value_or(-1), ends[p]) << "partition " << p;
  }
  auto extra = c.Poll(2000);
  EXPECT_FALSE(extra.has_value()) << "offset " << extra->offset << " was delivered again";
}

TEST(GroupTest, KcatBalancedConsumerResumesWhereItStopped) {
  BrokerProcess broker;  // default group.initial.rebalance.delay.ms (3 s)
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "kg", 2), "");
  ProduceN(broker.bootstrap(), "kg", 0, 50);
  std::string consume = absl::StrCat("timeout 60 kcat -b ", broker.bootstrap(),
                                     " -G kcat-group kg -e -q -f '%p %o %s\\n'",
                                     " -X auto.offset.reset=earliest 2>/dev/null");
  testing::ShellResult first = testing::Shell(consume);
  ASSERT_EQ(first.exit_code, 0) << broker.log();
  std::vector<std::string> lines = absl::StrSplit(first.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 50u) << first.out;

  ProduceN(broker.bootstrap(), "kg", 50, 7);
  testing::ShellResult second = testing::Shell(consume);
  ASSERT_EQ(second.exit_code, 0);
  lines = absl::StrSplit(second.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u) << second.out;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find("value-5"), std::string::npos) << line;  // value-50 .. value-56
  }
}

TEST(GroupTest, StaticMemberRejoinsWithoutARebalance) {
  BrokerProcess broker(FastGroups());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "static", 4), "");
  std::map<std::string, std::string> a_conf = {{"group.instance.id", "instance-a"},
                                               {"session.timeout.ms", "10000"}};
  std::map<std::string, std::string> b_conf = {{"group.instance.id", "instance-b"},
                                               {"session.timeout.ms", "10000"}};
  auto a = std::make_unique<GroupConsumer>(broker.bootstrap(), "statics",
                                           std::vector<std::string>{"static"}, a_conf);
  GroupConsumer b(broker.bootstrap(), "statics", {"static"}, b_conf);
  ASSERT_TRUE(PollUntil({a.get(), &b}, 30000, [&] {
    return Union({a.get(), &b}) == std::set<int32_t>{0, 1, 2, 3} && a->assignment().size() == 2 &&
           b.assignment().size() == 2;
  })) << broker.log();
  std::set<int32_t> a_parts = a->assignment();
  size_t b_changes = b.changes().size();

  // A restarts within its session timeout: a static member's close does not leave the group.
  a->Close();
  a = std::make_unique<GroupConsumer>(broker.bootstrap(), "statics",
                                      std::vector<std::string>{"static"}, a_conf);
  ASSERT_TRUE(PollUntil({a.get(), &b}, 20000, [&] { return a->assignment() == a_parts; }))
      << broker.log();
  PollUntil({a.get(), &b}, 1500, [] { return false; });
  EXPECT_EQ(b.changes().size(), b_changes) << "the other member saw a rebalance";
  EXPECT_EQ(a->assignment(), a_parts);
}

TEST(GroupTest, CooperativeStickyMovesOnlyWhatItMust) {
  BrokerProcess broker(FastGroups());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "coop", 6), "");
  ProduceN(broker.bootstrap(), "coop", 0, 120);
  std::map<std::string, std::string> conf = {
      {"partition.assignment.strategy", "cooperative-sticky"}};
  GroupConsumer a(broker.bootstrap(), "coop-group", {"coop"}, conf);
  ExactlyOnce counter;
  ASSERT_TRUE(counter.PumpUntil({&a}, 20000, [&] { return a.assignment() == kSix; }))
      << broker.log();
  EXPECT_EQ(a.protocol(), "COOPERATIVE");
  counter.Pump({&a}, 40, 20000);

  GroupConsumer b(broker.bootstrap(), "coop-group", {"coop"}, conf);
  GroupConsumer c(broker.bootstrap(), "coop-group", {"coop"}, conf);
  std::vector<GroupConsumer*> all = {&a, &b, &c};
  ASSERT_TRUE(counter.PumpUntil(all, 30000, [&] {
    return Union(all) == kSix && TotalAssigned(all) == 6 && a.assignment().size() == 2 &&
           b.assignment().size() == 2 && c.assignment().size() == 2;
  })) << broker.log();
  counter.Pump(all, 120, 30000);
  EXPECT_EQ(counter.distinct(), 120u);
  EXPECT_EQ(counter.duplicates(), 0);
  // Incremental: A only ever gave partitions away (librdkafka also reports empty changes), it
  // never lost its whole assignment at once.
  std::vector<GroupConsumer::Change> changes;
  for (const auto& change : a.changes()) {
    if (!change.partitions.empty()) changes.push_back(change);
  }
  ASSERT_GE(changes.size(), 2u);
  EXPECT_TRUE(changes[0].added);
  EXPECT_EQ(changes[0].partitions, kSix);
  for (size_t i = 1; i < changes.size(); ++i) {
    EXPECT_FALSE(changes[i].added);
    EXPECT_LT(changes[i].partitions.size(), 6u);
  }
}

}  // namespace
}  // namespace strata
