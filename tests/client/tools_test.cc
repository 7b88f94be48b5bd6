// The client commands of the strata binary, end to end against a live broker, the way an
// operator runs them: topic, produce, consume, bench.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/partitioner.h"
#include "tests/testing/broker_process.h"

namespace strata {
namespace {

struct Result {
  int exit_code;
  std::string out;
};

// Runs `strata <args>` through the shell with `stdin_text` (printf %b escapes) on its stdin;
// stdout and stderr merged.
Result Strata(const std::string& args, const std::string& stdin_text = "") {
  std::string cmd = stdin_text.empty() ? absl::StrCat(STRATA_BINARY, " ", args, " 2>&1")
                                       : absl::StrCat("printf '%b' '", stdin_text, "' | ",
                                                      STRATA_BINARY, " ", args, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class ClientToolsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = new testing::BrokerProcess(); }
  static void TearDownTestSuite() { delete broker_; }
  void SetUp() override { ASSERT_TRUE(broker_->ok()) << broker_->log(); }

  // "<command> --bootstrap HOST:PORT <rest>"
  static std::string Cmd(const std::string& command, const std::string& rest) {
    return absl::StrCat(command, " --bootstrap ", broker_->bootstrap(), " ", rest);
  }
  static testing::BrokerProcess* broker_;
};

testing::BrokerProcess* ClientToolsTest::broker_ = nullptr;

TEST_F(ClientToolsTest, TopicLifecycle) {
  Result r =
      Strata(Cmd("topic create", "--topic life --partitions 3 --config retention.ms=3600000"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Created topic life"), std::string::npos) << r.out;
  r = Strata(Cmd("topic create", "--topic life --partitions 3"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("TOPIC_ALREADY_EXISTS"), std::string::npos) << r.out;
  r = Strata(Cmd("topic list", ""));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("life\n"), std::string::npos) << r.out;

  r = Strata(Cmd("topic describe", "--topic life"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("PartitionCount: 3\tReplicationFactor: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Configs: retention.ms=3600000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Partition: 2\tLeader: 0\tReplicas: 0\tIsr: 0\tEarliestOffset: 0\t"
                       "LatestOffset: 0"),
            std::string::npos)
      << r.out;

  r = Strata(
      Cmd("topic alter-config", "--topic life --set segment.bytes=1048576 --delete retention.ms"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata(Cmd("topic describe", "--topic life"));
  EXPECT_NE(r.out.find("Configs: segment.bytes=1048576\n"), std::string::npos) << r.out;
  r = Strata(Cmd("topic alter-config", "--topic life --set segment.bytes=lots"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("INVALID_CONFIG"), std::string::npos) << r.out;

  r = Strata(Cmd("topic add-partitions", "--topic life --partitions 5"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(Strata(Cmd("topic describe", "--topic life")).out.find("PartitionCount: 5"),
            std::string::npos);

  r = Strata(Cmd("topic delete", "--topic life"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = Strata(Cmd("topic describe", "--topic life"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("UNKNOWN_TOPIC_OR_PARTITION"), std::string::npos) << r.out;
}

TEST_F(ClientToolsTest, ProduceStdinThenConsumeCount) {
  ASSERT_EQ(Strata(Cmd("topic create", "--topic lines --partitions 3")).exit_code, 0);
  std::string input;
  for (int i = 0; i < 30; ++i) absl::StrAppend(&input, "key", i, ":value ", i, "\\n");
  Result r = Strata(Cmd("produce",
                        "--topic lines --key-separator : --header origin=cli --acks all"
                        " --compression zstd --linger-ms 1"),
                    input);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Produced 30 of 30 records to lines"), std::string::npos) << r.out;

  r = Strata(Cmd("consume", "--topic lines --from-beginning --count 30 --format json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 30u) << r.out;
  for (int i = 0; i < 30; ++i) {
    std::string key = absl::StrCat("key", i);
    std::string expected = absl::StrCat("\"partition\":", client::KeyPartition(key, 3), ",");
    auto line = std::find_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(absl::StrCat("\"key\":\"", key, "\",")) != std::string::npos;
    });
    ASSERT_NE(line, lines.end()) << key;
    EXPECT_NE(line->find(expected), std::string::npos) << "murmur2 partition: " << *line;
    EXPECT_NE(line->find(absl::StrCat("\"value\":\"value ", i, "\"")), std::string::npos);
    EXPECT_NE(line->find("\"headers\":{\"origin\":\"cli\"}"), std::string::npos) << *line;
  }
  r = Strata(Cmd("consume",
                 "--topic lines --partition 0 --from-beginning --format kv"
                 " --key-separator = --idle-exit-ms 300"));
  EXPECT_EQ(r.exit_code, 0);
  for (const std::string& l : Lines(r.out)) {
    EXPECT_EQ(client::KeyPartition(l.substr(0, l.find('=')), 3), 0) << l;
  }
}

TEST_F(ClientToolsTest, ConsumeStartPositionsAndIdleExit) {
  ASSERT_EQ(Strata(Cmd("topic create", "--topic positions --partitions 1")).exit_code, 0);
  Result r = Strata(Cmd("produce", "--topic positions --generate 50 --record-bytes 12 --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "") << "--quiet";

  r = Strata(Cmd("consume", "--topic positions --offset 45 --idle-exit-ms 300 --format full"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_NE(lines[0].find("\tOffset:45\t"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("Key:null"), std::string::npos) << lines[0];

  r = Strata(Cmd("consume", "--topic positions --from-beginning --count 50"));
  ASSERT_EQ(r.exit_code, 0);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 50u);
  for (const std::string& l : lines) EXPECT_EQ(l.size(), 12u) << l;

  r = Strata(Cmd("consume", "--topic positions --timestamp 0 --count 1"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(Lines(r.out).size(), 1u);

  r = Strata(Cmd("consume", "--topic positions --count 1 --idle-exit-ms 300"));  // from the end
  EXPECT_EQ(r.exit_code, 1) << "the count did not come: " << r.out;
  EXPECT_NE(r.out.find("got 0 of 1 records"), std::string::npos) << r.out;
  r = Strata(Cmd("consume", "--topic positions --idle-exit-ms 300"));
  EXPECT_EQ(r.exit_code, 0) << "idle exit without --count is normal";
  EXPECT_EQ(r.out, "");
}

TEST_F(ClientToolsTest, BenchSmallRun) {
  Result r = Strata(Cmd("bench produce",
                        "--topic bench --records 3000 --record-bytes 50"
                        " --batch-bytes 16KiB --linger-ms 2 --partitions 2"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("produce: 3000 records, 0.1 MB in "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" MB/s, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" records/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("latency ms: p50 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" p99 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" p999 "), std::string::npos) << r.out;
  r = Strata(Cmd("bench consume", "--topic bench --records 3000"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("consume: 3000 records"), std::string::npos) << r.out;
}

TEST_F(ClientToolsTest, UsageAndFailures) {
  EXPECT_EQ(Strata("topic").exit_code, 2);
  EXPECT_EQ(Strata("topic frobnicate --bootstrap 127.0.0.1:1").exit_code, 2);
  EXPECT_EQ(Strata("topic create --topic x").exit_code, 2) << "no --bootstrap";
  EXPECT_EQ(Strata(Cmd("topic create", "")).exit_code, 2) << "no --topic";
  EXPECT_EQ(Strata(Cmd("topic create", "--topic x --config novalue")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("produce", "")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("produce", "--topic x --acks 2")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("produce", "--topic x --compression brotli")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("consume", "--topic x --from-beginning --offset 3")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("consume", "--topic x --format xml")).exit_code, 2);
  EXPECT_EQ(Strata(Cmd("bench", "")).exit_code, 2);
  EXPECT_EQ(Strata("consume --bootstrap nocolon --topic x").exit_code, 2);
  for (const char* help : {"topic --help", "produce --help", "consume --help", "bench --help"}) {
    Result r = Strata(help);
    EXPECT_EQ(r.exit_code, 0) << help;
    EXPECT_NE(r.out.find("usage: strata"), std::string::npos) << help;
  }
  Result r = Strata("topic list --bootstrap 127.0.0.1:1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("no bootstrap server answered"), std::string::npos) << r.out;
  r = Strata(Cmd("consume", "--topic never-created --idle-exit-ms 200"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("UNKNOWN_TOPIC_OR_PARTITION"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace strata
