// `strata group list | describe | reset-offsets | delete` against a live group of real
// librdkafka consumers, run through a shell as an operator would: what describe shows of a
// Stable two-member group (hosts, assignments, committed offsets, log ends, lag), reset-offsets
// refused while members are active and then every way of moving offsets once they left, a new
// member resuming from the reset offsets, and deleting the group.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
using testing::ShellResult;
using SteadyClock = std::chrono::steady_clock;

constexpr char kTopic[] = "gt-orders";
constexpr char kGroup[] = "gt-app";
constexpr int kPartitions = 4;
// Partition p holds 10 + p records; record i of each partition has timestamp T0 + i seconds.
constexpr int64_t kT0Ms = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
int64_t LogEnd(int32_t p) { return 10 + p; }

const std::map<std::string, std::string> kShortSession = {{"session.timeout.ms", "2000"},
                                                          {"heartbeat.interval.ms", "200"}};

// The group's committed offset per partition once the members have consumed: 2, 4, 6, 8.
int64_t FirstCommit(int32_t p) { return 2 * p + 2; }

ShellResult Group(const std::string& command, const std::string& bootstrap,
                  const std::string& rest = "") {
  return testing::Shell(absl::StrCat(STRATA_BINARY, " group ", command, " --bootstrap ", bootstrap,
                                     " ", rest, " 2>&1"));
}

std::vector<std::string> Words(absl::string_view line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

// The rows of a table printed by the tool whose first cell is `first`, keyed by the second.
std::map<std::string, std::vector<std::string>> Rows(const std::string& out,
                                                     const std::string& first) {
  std::map<std::string, std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<std::string> w = Words(line);
    if (w.size() >= 2 && w[0] == first) rows[w[1]] = w;
  }
  return rows;
}

// describe's partition rows: partition -> {committed, log end, lag, member id}.
std::map<int32_t, std::vector<std::string>> PartitionRows(const std::string& out) {
  std::map<int32_t, std::vector<std::string>> rows;
  for (const auto& [partition, w] : Rows(out, kTopic)) {
    if (w.size() == 8) rows[std::stoi(partition)] = {w[2], w[3], w[4], w[5]};
  }
  return rows;
}

// The committed offsets describe shows, by partition ("-" for none).
std::map<int32_t, std::string> Committed(const std::string& bootstrap) {
  ShellResult r = Group("describe", bootstrap, kGroup);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::map<int32_t, std::string> out;
  for (const auto& [p, row] : PartitionRows(r.out)) out[p] = row[0];
  return out;
}

std::map<int32_t, std::string> Expect(std::vector<int64_t> offsets) {
  std::map<int32_t, std::string> out;
  for (size_t p = 0; p < offsets.size(); ++p)
    out[static_cast<int32_t>(p)] = absl::StrCat(offsets[p]);
  return out;
}

void Produce(const std::string& bootstrap) {
  testing::Producer producer({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}});
  ASSERT_TRUE(producer.ok()) << producer.error();
  for (int32_t p = 0; p < kPartitions; ++p) {
    for (int64_t i = 0; i < LogEnd(p); ++i) {
      std::string key = absl::StrCat("k", i);
      ASSERT_EQ(producer.Send(kTopic, &key, absl::StrCat("p", p, "-", i), p, kT0Ms + i * 1000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  ASSERT_EQ(producer.Flush(), 0);
}

// Consumes with both members, committing on each partition exactly the offset FirstCommit(p)
// (the message just before it), until every partition has been committed.
bool CommitFirstOffsets(const std::vector<GroupConsumer*>& members, int timeout_ms) {
  std::set<int32_t> committed;
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (committed.size() < kPartitions && SteadyClock::now() < deadline) {
    for (GroupConsumer* c : members) {
      std::optional<Message> m = c->Poll(20);
      if (!m.has_value() || committed.count(m->partition) > 0) continue;
      const int64_t target = FirstCommit(m->partition) - 1;
      // Polled past it (say, while waiting for the assignment): go back for it.
      if (m->offset > target) c->Seek(m->partition, target);
      if (m->offset != target) continue;
      if (c->Commit(*m) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        committed.insert(m->partition);
      } else {
        c->Seek(m->partition, m->offset);
      }
    }
  }
  return committed.size() == kPartitions;
}

std::string AssignmentText(const std::set<int32_t>& partitions) {
  return absl::StrCat(kTopic, ":", absl::StrJoin(partitions, ","));
}

TEST(GroupToolsTest, DescribeResetAndDeleteALiveGroup) {
  BrokerProcess broker(
      {"--set", "group.initial.rebalance.delay.ms=0", "--set", "group.min.session.timeout.ms=500"});
  ASSERT_TRUE(broker.ok()) << broker.log();
  const std::string b = broker.bootstrap();
  ASSERT_EQ(testing::CreateTopic(b, kTopic, kPartitions), "");
  ASSERT_NO_FATAL_FAILURE(Produce(b));

  // ---- a Stable group of two members, with commits ----
  auto c1 =
      std::make_unique<GroupConsumer>(b, kGroup, std::vector<std::string>{kTopic}, kShortSession);
  auto c2 =
      std::make_unique<GroupConsumer>(b, kGroup, std::vector<std::string>{kTopic}, kShortSession);
  ASSERT_TRUE(c1->ok() && c2->ok()) << c1->error() << c2->error();
  std::vector<GroupConsumer*> members = {c1.get(), c2.get()};
  ASSERT_TRUE(PollUntil(members, 30000, [&] {
    return c1->assignment().size() + c2->assignment().size() == kPartitions &&
           !c1->assignment().empty() && !c2->assignment().empty();
  })) << broker.log();
  ASSERT_TRUE(CommitFirstOffsets(members, 30000)) << broker.log();

  ShellResult list = Group("list", b);
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_EQ(Rows(list.out, kGroup)[std::string("Stable")],
            (std::vector<std::string>{kGroup, "Stable", "consumer"}))
      << list.out;

  ShellResult d;
  ASSERT_TRUE(PollUntil(members, 10000, [&] {
    d = Group("describe", b, kGroup);
    return d.out.find("State: Stable") != std::string::npos;
  })) << d.out;
  ASSERT_EQ(d.exit_code, 0) << d.out;
  EXPECT_NE(d.out.find("Protocol: consumer/range  Members: 2"), std::string::npos) << d.out;
  for (GroupConsumer* c : members) {
    // MEMBER-ID GROUP-INSTANCE-ID CLIENT-ID HOST ASSIGNMENT
    std::vector<std::string> row = Rows(d.out, c->member_id())["-"];
    EXPECT_EQ(row, (std::vector<std::string>{c->member_id(), "-", "rdkafka", "/127.0.0.1",
                                             AssignmentText(c->assignment())}))
        << d.out;
  }
  std::map<int32_t, std::vector<std::string>> rows = PartitionRows(d.out);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kPartitions)) << d.out;
  for (int32_t p = 0; p < kPartitions; ++p) {
    GroupConsumer* owner = c1->assignment().count(p) ? c1.get() : c2.get();
    EXPECT_EQ(rows[p], (std::vector<std::string>{
                           absl::StrCat(FirstCommit(p)), absl::StrCat(LogEnd(p)),
                           absl::StrCat(LogEnd(p) - FirstCommit(p)), owner->member_id()}))
        << "partition " << p << "\n"
        << d.out;
  }

  // ---- refused while the members are there ----
  ShellResult refused =
      Group("reset-offsets", b, absl::StrCat(kGroup, " --all-topics --to-earliest"));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("is Stable with 2 active member(s)"), std::string::npos)
      << refused.out;
  refused = Group("reset-offsets", b,
                  absl::StrCat(kGroup, " --topic ", kTopic, " --to-latest --dry-run"));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  refused = Group("delete", b, kGroup);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("NON_EMPTY_GROUP"), std::string::npos) << refused.out;
  EXPECT_EQ(Committed(b), Expect({2, 4, 6, 8}));

  c1->Close();
  c2->Close();
  d = Group("describe", b, kGroup);
  EXPECT_NE(d.out.find("State: Empty"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("No active members."), std::string::npos) << d.out;

  // ---- every kind of reset ----
  ShellResult r =
      Group("reset-offsets", b, absl::StrCat(kGroup, " --all-topics --to-earliest --dry-run"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Rows(r.out, kTopic)["3"], (std::vector<std::string>{kTopic, "3", "8", "0"})) << r.out;
  EXPECT_NE(r.out.find("Dry run: nothing committed"), std::string::npos) << r.out;
  EXPECT_EQ(Committed(b), Expect({2, 4, 6, 8})) << "a dry run commits nothing";

  r = Group("reset-offsets", b, absl::StrCat(kGroup, " --topic ", kTopic, ":0,1 --to-offset 5"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Rows(r.out, kTopic)["1"], (std::vector<std::string>{kTopic, "1", "4", "5"})) << r.out;
  EXPECT_NE(r.out.find("Committed new offsets of 2 partition(s) for group gt-app."),
            std::string::npos)
      << r.out;
  r = Group("reset-offsets", b, absl::StrCat(kGroup, " --topic ", kTopic, ":2 --to-offset 100"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Committed(b), Expect({5, 5, 12, 8})) << "clamped to the log end";

  r = Group("reset-offsets", b, absl::StrCat(kGroup, " --topic ", kTopic, ":0 --shift-by -2"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Group("reset-offsets", b, absl::StrCat(kGroup, " --topic ", kTopic, ":3 --shift-by -20"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Committed(b), Expect({3, 5, 12, 0})) << "clamped to the log start";

  // After every record's timestamp: the log end.
  r = Group("reset-offsets", b,
            absl::StrCat(kGroup, " --topic ", kTopic, ":1 --to-datetime 2023-11-15T00:00:00Z"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Committed(b), Expect({3, 11, 12, 0}));
  r = Group("reset-offsets", b, absl::StrCat(kGroup, " --all-topics --to-latest"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Committed(b), Expect({10, 11, 12, 13}));
  // T0 + 3.5 s, with a zone: the first record at or after it is offset 4 everywhere.
  r = Group(
      "reset-offsets", b,
      absl::StrCat(kGroup, " --topic ", kTopic, " --to-datetime 2023-11-15T00:13:23.500+02:00"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Rows(r.out, kTopic)["2"], (std::vector<std::string>{kTopic, "2", "12", "4"})) << r.out;
  d = Group("describe", b, kGroup);
  rows = PartitionRows(d.out);
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(rows[p], (std::vector<std::string>{"4", absl::StrCat(LogEnd(p)),
                                                 absl::StrCat(LogEnd(p) - 4), "-"}))
        << d.out;
  }

  // ---- a new member resumes from the reset offsets ----
  GroupConsumer resumed(b, kGroup, {kTopic}, kShortSession);
  ASSERT_TRUE(resumed.ok()) << resumed.error();
  for (int32_t p = 0; p < kPartitions; ++p) EXPECT_EQ(resumed.Committed(p), 4) << p;
  std::map<int32_t, std::vector<int64_t>> read;
  size_t want = 0;
  for (int32_t p = 0; p < kPartitions; ++p) want += LogEnd(p) - 4;
  size_t got = 0;
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (got < want && SteadyClock::now() < deadline) {
    if (std::optional<Message> m = resumed.Poll(100)) {
      read[m->partition].push_back(m->offset);
      ++got;
    }
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    ASSERT_FALSE(read[p].empty()) << p;
    EXPECT_EQ(read[p].front(), 4) << p;
    EXPECT_EQ(read[p].size(), static_cast<size_t>(LogEnd(p) - 4)) << p;
  }

  // ---- delete ----
  r = Group("delete", b, kGroup);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("has active members (NON_EMPTY_GROUP)"), std::string::npos) << r.out;
  resumed.Close();
  r = Group("delete", b, kGroup);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Deleted group gt-app"), std::string::npos) << r.out;
  list = Group("list", b);
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_EQ(list.out.find(kGroup), std::string::npos) << list.out;
  r = Group("delete", b, kGroup);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("does not exist (GROUP_ID_NOT_FOUND)"), std::string::npos) << r.out;
  r = Group("describe", b, kGroup);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("group 'gt-app' does not exist"), std::string::npos) << r.out;
}

TEST(GroupToolsTest, UsageErrors) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  const std::string b = broker.bootstrap();
  ASSERT_EQ(testing::CreateTopic(b, kTopic, 2), "");
  struct Case {
    const char* command;
    const char* rest;
    int exit_code;
    const char* says;
  } cases[] = {
      {"describe", "", 2, "expected one GROUP argument"},
      {"list", "extra", 2, "list takes no GROUP argument"},
      {"reset-offsets", "g --to-earliest", 2, "give --topic"},
      {"reset-offsets", "g --topic t --all-topics --to-earliest", 2, "give --topic"},
      {"reset-offsets", "g --topic t", 2, "give exactly one of"},
      {"reset-offsets", "g --topic t --to-earliest --to-offset 3", 2, "give exactly one of"},
      {"reset-offsets", "g --topic t:x --to-earliest", 2, "bad partition list"},
      {"reset-offsets", "g --topic t --to-datetime 2024-13-01T00:00:00", 2, "--to-datetime"},
      {"reset-offsets", "g --topic t --to-datetime yesterday", 2, "YYYY-MM-DDTHH:MM:SS"},
      {"reset-offsets", "g --all-topics --to-earliest", 1, "has no committed offsets"},
      {"reset-offsets", "g --topic gt-orders:5 --to-earliest", 1, "there is no partition 5"},
      {"reset-offsets", "g --topic gt-orders --shift-by 1", 1, "no committed offset to shift"},
      {"describe", "g --topic t", 2, "unknown flag --topic"},
      {"delete", "never-there", 1, "does not exist"},
  };
  for (const Case& c : cases) {
    ShellResult r = Group(c.command, b, c.rest);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.command << " " << c.rest << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.command << " " << c.rest << "\n" << r.out;
  }
  for (const char* command : {"list", "describe", "reset-offsets", "delete"}) {
    ShellResult r = testing::Shell(absl::StrCat(STRATA_BINARY, " group ", command, " --help"));
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find(absl::StrCat("usage: strata group ", command)), std::string::npos)
        << r.out;
  }
  ShellResult help = testing::Shell(absl::StrCat(STRATA_BINARY, " group reset-offsets --help"));
  EXPECT_NE(help.out.find("without a zone T is UTC"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace strata
