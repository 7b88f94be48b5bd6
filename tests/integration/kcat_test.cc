// kcat (Debian's kcat, librdkafka 2.0.2) produces 100k keyed messages and consumes them back.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crc32c.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

std::string Shell(const std::string& cmd, int* exit_code) {
  testing::ShellResult r = testing::Shell(cmd);
  *exit_code = r.exit_code;
  return r.out;
}

std::string Payload(int i) {
  std::string body = absl::StrCat("value-", i, "-", std::string(i % 97, 'p'));
  return absl::StrCat(body, "-", crc32c::Value(body.data(), body.size()));
}

TEST(KcatTest, HundredThousandKeyedMessagesRoundTrip) {
  testing::BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_EQ(testing::CreateTopic(broker.bootstrap(), "kcat", 3), "");
  testing::TempDir dir;
  constexpr int kCount = 100000;
  {
    std::ofstream in(dir.Sub("in.txt"));
    for (int i = 0; i < kCount; ++i) in << "key-" << i % 1000 << ":" << Payload(i) << "\n";
  }
  int code = 0;
  std::string out = Shell(absl::StrCat("kcat -b ", broker.bootstrap(),
                                       " -t kcat -P -K : -z lz4 -l ", dir.Sub("in.txt"), " 2>&1"),
                          &code);
  ASSERT_EQ(code, 0) << out;
  out = Shell(absl::StrCat("kcat -b ", broker.bootstrap(),
                           " -t kcat -C -e -o beginning -q -f '%p %o %k %s\\n' 2>/dev/null"),
              &code);
  ASSERT_EQ(code, 0);
  std::map<int, std::vector<std::pair<int64_t, int>>> by_partition;  // offset, message index
  std::map<std::string, int> key_partition;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    ASSERT_EQ(f.size(), 4u) << line;
    int partition = std::stoi(f[0]);
    int64_t offset = std::stoll(f[1]);
    std::vector<std::string> v = absl::StrSplit(f[3], '-');
    ASSERT_GE(v.size(), 3u) << line;
    int i = std::stoi(v[1]);
    ASSERT_EQ(f[3], Payload(i)) << "payload checksum";
    ASSERT_EQ(f[2], absl::StrCat("key-", i % 1000));
    auto [it, inserted] = key_partition.emplace(f[2], partition);
    ASSERT_EQ(it->second, partition) << "a key always lands in one partition";
    by_partition[partition].push_back({offset, i});
    ++lines;
  }
  EXPECT_EQ(lines, kCount);
  EXPECT_EQ(by_partition.size(), 3u);
  std::vector<bool> seen(kCount, false);
  for (auto& [p, msgs] : by_partition) {
    for (size_t j = 0; j < msgs.size(); ++j) {
      ASSERT_EQ(msgs[j].first, static_cast<int64_t>(j)) << "contiguous offsets in partition " << p;
      if (j > 0) {
        ASSERT_LT(msgs[j - 1].second, msgs[j].second) << "produce order kept";
      }
      ASSERT_FALSE(seen[msgs[j].second]) << "duplicate";
      seen[msgs[j].second] = true;
    }
  }
}

}  // namespace
}  // namespace strata
