// Log compaction in a live broker: kcat produces overwrites and tombstones (-Z: empty values are
// NULL) to a cleanup.policy=compact topic and a kcat consumer reading from the beginning rebuilds
// exactly the final key/value state; __consumer_offsets stays small under many commits and reads
// back after a restart; records without a key are refused on compacted topics.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/admin.h"
#include "common/file.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

using State = std::map<std::string, std::string>;  // key -> latest value (tombstones erase)
using Clock = std::chrono::steady_clock;

// The broker settings every test here uses: a quick cleaner.
std::vector<std::string> BrokerArgs(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--set", "log.cleaner.backoff.ms=50"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

const std::map<std::string, std::string> kCompactTopic = {{"cleanup.policy", "compact"},
                                                          {"segment.bytes", "4096"},
                                                          {"min.cleanable.dirty.ratio", "0.01"},
                                                          {"delete.retention.ms", "0"}};

// Produces "key:value" lines (an empty value is a tombstone) with small batches, so that
// segments roll often. Applies them to `model`.
void Produce(const testing::BrokerProcess& broker, const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& records, State* model,
             const std::string& codec = "lz4") {
  testing::TempDir dir;
  {
    std::ofstream in(dir.Sub("in.txt"));
    for (const auto& [k, v] : records) {
      in << k << ":" << v << "\n";
      if (v.empty()) {
        model->erase(k);
      } else {
        (*model)[k] = v;
      }
    }
  }
  auto r = testing::Shell(
      absl::StrCat("kcat -b ", broker.bootstrap(), " -t ", topic, " -P -K : -Z -z ", codec,
                   " -X batch.num.messages=20 -X linger.ms=1 -l ", dir.Sub("in.txt"), " 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
}

struct Consumed {
  State state;
  std::map<std::string, int> records_per_key;  // tombstones included
  int64_t records = 0;
  bool offsets_increase = true;
};

// A kcat consumer from the beginning; the state is rebuilt by applying records in order.
Consumed ConsumeAll(const testing::BrokerProcess& broker, const std::string& topic) {
  auto r = testing::Shell(absl::StrCat("kcat -b ", broker.bootstrap(), " -t ", topic,
                                       " -C -e -o beginning -q -f '%o %k %S %s\\n' 2>/dev/null"));
  EXPECT_EQ(r.exit_code, 0);
  Consumed c;
  int64_t last = -1;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (f.size() < 3) {
      ADD_FAILURE() << "bad line: " << line;
      continue;
    }
    int64_t offset = std::stoll(f[0]);
    c.offsets_increase = c.offsets_increase && offset > last;
    last = offset;
    ++c.records;
    ++c.records_per_key[f[1]];
    if (f[2] == "-1") {
      c.state.erase(f[1]);
    } else {
      c.state[f[1]] = f.size() == 4 ? f[3] : "";
    }
  }
  return c;
}

// How many cleanings of `partition` with at least one pass the broker logged.
int Cleanings(const testing::BrokerProcess& broker, const std::string& partition) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(broker.log(), '\n')) {
    if (line.find(absl::StrCat("log.cleaned dir=", broker.data_dir(), "/", partition, " ")) !=
            absl::string_view::npos &&
        line.find(" passes=0 ") == absl::string_view::npos) {
      ++n;
    }
  }
  return n;
}

uint64_t LogBytes(const std::string& dir) {
  uint64_t total = 0;
  auto names = FileSystem::Default()->ListDir(dir);
  for (const auto& n : names.ok() ? *names : std::vector<std::string>{}) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log") {
      auto size = FileSystem::Default()->FileSize(JoinPath(dir, n));
      if (size.ok()) total += *size;
    }
  }
  return total;
}

std::vector<std::pair<std::string, std::string>> Records(int count, int keys, int key_base,
                                                         const std::string& tag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < count; ++i) {
    out.push_back({absl::StrCat("k", key_base + i % keys), absl::StrCat(tag, "-", i, "-xxxxxxxx")});
  }
  return out;
}

TEST(CompactionTest, KcatConsumerRebuildsTheFinalKeyValueState) {
  testing::BrokerProcess broker(BrokerArgs());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "kv", 1, kCompactTopic), "");
  State model;
  int64_t produced = 0;
  // 100 keys overwritten 20 times, then k0..k19 deleted, then other keys so that the
  // tombstones leave the active segment.
  auto first = Records(2000, 100, 0, "a");
  for (int k = 0; k < 20; ++k) first.push_back({absl::StrCat("k", k), ""});
  auto filler = Records(400, 50, 100, "b");
  first.insert(first.end(), filler.begin(), filler.end());
  Produce(broker, "kv", first, &model);
  produced += static_cast<int64_t>(first.size());
  auto deadline = Clock::now() + std::chrono::seconds(90);
  Consumed c;
  for (int round = 0; Clock::now() < deadline; ++round) {
    c = ConsumeAll(broker, "kv");
    bool deleted_gone = true;
    for (int k = 0; k < 20; ++k)
      deleted_gone = deleted_gone && !c.records_per_key.count(absl::StrCat("k", k));
    if (deleted_gone && Cleanings(broker, "kv-0") >= 2) break;
    // A tombstone goes in a clean after the one that set its horizon (delete.retention.ms=0):
    // new dirty segments make the cleaner run again.
    auto more = Records(200, 50, 100, absl::StrCat("c", round));
    Produce(broker, "kv", more, &model);
    produced += static_cast<int64_t>(more.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  c = ConsumeAll(broker, "kv");
  EXPECT_GE(Cleanings(broker, "kv-0"), 2) << broker.log();
  EXPECT_EQ(c.state, model);
  EXPECT_TRUE(c.offsets_increase);
  EXPECT_LT(c.records, produced / 3) << "compaction dropped superseded records";
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(c.records_per_key.count(absl::StrCat("k", k)), 0u) << "deleted key k" << k;
  }
  for (int k = 20; k < 100; ++k) {
    EXPECT_EQ(c.records_per_key[absl::StrCat("k", k)], 1) << "one record per live old key k" << k;
  }
  // After a restart the compacted log reads back the same, and the checkpoint was kept.
  broker.Restart();
  ASSERT_TRUE(broker.ok()) << broker.log();
  EXPECT_EQ(ConsumeAll(broker, "kv").state, model);
  auto checkpoint = ReadFileToString(FileSystem::Default(),
                                     JoinPath(broker.data_dir(), "cleaner-offset-checkpoint"));
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_NE(checkpoint->find("kv 0 "), std::string::npos) << *checkpoint;
}

TEST(CompactionTest, RecordsWithoutAKeyAreRefusedByCompactedTopics) {
  testing::BrokerProcess broker(BrokerArgs());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "kv", 1, kCompactTopic), "");
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "plain", 1), "");
  auto produce = [&](const std::string& topic, const std::string& flags) {
    return testing::Shell(absl::StrCat("printf 'k1:v1\\n' | kcat -b ", broker.bootstrap(), " -t ",
                                       topic, " -P ", flags, " 2>&1"));
  };
  auto r = produce("kv", "");  // no -K: the line "k1:v1" is a value without a key
  // INVALID_RECORD, as librdkafka words it.
  EXPECT_NE(r.out.find("Broker failed to validate record"), std::string::npos) << r.out;
  r = produce("kv", "-K :");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  r = produce("plain", "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  Consumed c = ConsumeAll(broker, "kv");
  EXPECT_EQ(c.records, 1);
  EXPECT_EQ(c.state, (State{{"k1", "v1"}}));
}

TEST(CompactionTest, ChangingCleanupPolicyToCompactTakesEffect) {
  testing::BrokerProcess broker(BrokerArgs());
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(
      testing::CreateTopic(broker.bootstrap(), "later", 1,
                           {{"segment.bytes", "4096"}, {"min.cleanable.dirty.ratio", "0.01"}}),
      "");
  State model;
  auto records = Records(2000, 50, 0, "a");
  Produce(broker, "later", records, &model, "none");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ConsumeAll(broker, "later").records, 2000) << "cleanup.policy=delete: no cleaning";
  auto r = testing::Shell(
      absl::StrCat(STRATA_BINARY, " topic alter-config --bootstrap ", broker.bootstrap(),
                   " --topic later --set cleanup.policy=compact --set min.compaction.lag.ms=0"
                   " --set max.compaction.lag.ms=604800000"
                   " --set delete.retention.ms=1000 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Cleanings(broker, "later-0") == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Consumed c = ConsumeAll(broker, "later");
  EXPECT_EQ(c.state, model);
  EXPECT_LT(c.records, 1000);
  auto described = testing::Shell(absl::StrCat(STRATA_BINARY, " topic describe --bootstrap ",
                                               broker.bootstrap(), " --topic later 2>&1"));
  EXPECT_NE(described.out.find("max.compaction.lag.ms=604800000"), std::string::npos)
      << described.out;
}

TEST(CompactionTest, ConsumerOffsetsStaysSmallAndReadsBackAfterRestart) {
  testing::BrokerProcess broker(BrokerArgs({"--set", "offsets.topic.segment.bytes=8192", "--set",
                                            "offsets.topic.num.partitions=1", "--set",
                                            "log.cleaner.min.cleanable.ratio=0.01"}));
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "orders", 4), "");
  auto admin = client::Admin::Create({.bootstrap = {{"127.0.0.1", broker.port()}}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  constexpr int kCommits = 1500;
  std::map<client::TopicPartition, int64_t> last;
  for (int i = 1; i <= kCommits; ++i) {
    std::map<client::TopicPartition, int64_t> offsets;
    for (int p = 0; p < 4; ++p) offsets[{"orders", p}] = i * 10 + p;
    auto r = (*admin)->CommitGroupOffsets("billing", offsets);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& [tp, s] : *r) ASSERT_TRUE(s.ok()) << tp.ToString() << ": " << s;
    last = offsets;
  }
  std::string dir = JoinPath(broker.data_dir(), "__consumer_offsets-0");
  auto deadline = Clock::now() + std::chrono::seconds(60);
  // 1500 batches were written: their 61-byte headers alone make 88 KiB, the records ~400 KiB.
  // Compacted, 4 keys in a few segments remain.
  while (LogBytes(dir) > 64 * 1024 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(LogBytes(dir), 64u * 1024) << broker.log();
  EXPECT_GE(Cleanings(broker, "__consumer_offsets-0"), 1);
  auto check = [&](client::Admin& a) {
    auto fetched = a.FetchGroupOffsets("billing");
    ASSERT_TRUE(fetched.ok()) << fetched.status();
    ASSERT_EQ(fetched->size(), 4u);
    for (const auto& [tp, offset] : last)
      EXPECT_EQ(fetched->at(tp).offset, offset) << tp.ToString();
  };
  check(**admin);
  admin->reset();
  broker.Restart();  // the coordinator replays the compacted partition
  ASSERT_TRUE(broker.ok()) << broker.log();
  auto again = client::Admin::Create({.bootstrap = {{"127.0.0.1", broker.port()}}});
  ASSERT_TRUE(again.ok()) << again.status();
  check(**again);
}

}  // namespace
}  // namespace strata
