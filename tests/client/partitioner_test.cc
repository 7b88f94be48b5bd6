// Kafka's murmur2 and default partitioner.
#include "client/partitioner.h"

#include <gtest/gtest.h>

#include <climits>
#include <set>
#include <string>

namespace strata::client {
namespace {

// Values computed independently from the definition of Kafka's Utils.murmur2 (a Python
// transcription, 32-bit wrap-around arithmetic). The first six are also the vectors in
// Kafka's own UtilsTest.testMurmur2.
TEST(Murmur2Test, MatchesKafkaVectors) {
  struct Case {
    std::string data;
    int32_t hash;
  };
  const Case cases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
      {"", 275646681},
      {"key-0", 29210041},
      {"key-1", 193331640},
      {"hello", 2132663229},
      {std::string("\xff\x80\x00\x7f\xfe", 5), 768357719},  // high bytes are unsigned
  };
  for (const Case& c : cases) EXPECT_EQ(Murmur2(c.data), c.hash) << "'" << c.data << "'";
}

TEST(Murmur2Test, KeyPartitionIsToPositiveModulo) {
  // Python: (murmur2(k) & 0x7fffffff) % n
  EXPECT_EQ(KeyPartition("a-little-bit-long-string", 3), 2);
  EXPECT_EQ(KeyPartition("foobar", 7), 0);
  EXPECT_EQ(KeyPartition("abc", 7), 4);
  EXPECT_EQ(KeyPartition("key-0", 3), 1);
  EXPECT_EQ(KeyPartition("key-1", 7), 5);
  EXPECT_EQ(KeyPartition("anything", 1), 0);
  EXPECT_EQ(ToPositive(INT_MIN), 0);  // not abs(): no overflow
  EXPECT_EQ(ToPositive(-1), INT_MAX);
}

TEST(StickyPartitionerTest, SticksUntilTheBatchCloses) {
  StickyPartitioner sticky(42);
  int32_t first = sticky.Partition(8);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sticky.Partition(8), first);
  EXPECT_EQ(sticky.current(), first);
  std::set<int32_t> seen = {first};
  int32_t previous = first;
  for (int i = 0; i < 200; ++i) {
    sticky.NextBatch();
    int32_t next = sticky.Partition(8);
    EXPECT_NE(next, previous) << "a new batch moves to another partition";
    EXPECT_GE(next, 0);
    EXPECT_LT(next, 8);
    seen.insert(next);
    previous = next;
  }
  EXPECT_EQ(seen.size(), 8u) << "every partition gets batches";
}

TEST(StickyPartitionerTest, OnePartitionAndShrinkingCounts) {
  StickyPartitioner sticky(7);
  EXPECT_EQ(sticky.Partition(1), 0);
  sticky.NextBatch();
  EXPECT_EQ(sticky.Partition(1), 0);
  sticky.NextBatch();
  int32_t p = sticky.Partition(4);
  EXPECT_LT(p, 4);
  EXPECT_LT(sticky.Partition(2), 2) << "a partition beyond the count is not reused";
}

}  // namespace
}  // namespace strata::client
