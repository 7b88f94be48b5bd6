// Consumer positions: seek by offset, timestamp, beginning and end; offset reset policies;
// partial batches at small fetch sizes.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "tests/client/client_testing.h"

namespace strata::client {
namespace {

using testing::ConsumeN;

constexpr int64_t kBaseTimestamp = 1'700'000'000'000;

class ConsumerTest : public testing::BrokerTest {
 protected:
  // `count` records with values "0".."count-1" and timestamps kBaseTimestamp + 1000 * i.
  static void Fill(const std::string& topic, int count, size_t value_bytes = 0) {
    CreateTopic(topic, 1);
    auto producer = MakeProducer({.linger_ms = 5, .batch_bytes = 8192});
    std::vector<std::future<DeliveryReport>> reports;
    for (int i = 0; i < count; ++i) {
      std::string value = absl::StrCat(i);
      value.resize(std::max(value.size(), value_bytes), '.');
      reports.push_back(
          producer->Send(topic, std::nullopt, value, {}, 0, kBaseTimestamp + 1000 * i));
    }
    ASSERT_TRUE(producer->Flush().ok());
    for (auto& f : reports) ASSERT_TRUE(f.get().error.ok());
  }
};

TEST_F(ConsumerTest, SeeksByOffsetBeginningEndAndTimestamp) {
  Fill("seek", 100);
  auto c = MakeConsumer({.reset = OffsetReset::kLatest});
  TopicPartition tp{"seek", 0};
  c->Assign({tp});
  EXPECT_EQ(*c->Position(tp), 100) << "latest";
  auto none = c->Poll(100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  ASSERT_TRUE(c->SeekToBeginning().ok());
  EXPECT_EQ(*c->Position(tp), 0);
  auto got = ConsumeN(*c, 100);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[0].value, "0");
  EXPECT_EQ(got[99].offset, 99);
  EXPECT_EQ(got[99].timestamp, kBaseTimestamp + 99'000);
  EXPECT_EQ(c->HighWatermark(tp), 100);

  ASSERT_TRUE(c->Seek(tp, 42).ok());
  got = ConsumeN(*c, 1);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].offset, 42) << "records before the position in the batch are skipped";
  EXPECT_EQ(got[0].value, "42");

  ASSERT_TRUE(c->SeekToTimestamp(tp, kBaseTimestamp + 10'500).ok());
  EXPECT_EQ(*c->Position(tp), 11) << "first record at or after the timestamp";
  ASSERT_TRUE(c->SeekToTimestamp(tp, kBaseTimestamp + 1'000'000).ok());
  EXPECT_EQ(*c->Position(tp), 100) << "after every record: the end";

  ASSERT_TRUE(c->SeekToEnd().ok());
  auto producer = MakeProducer();
  ASSERT_TRUE(producer->Send("seek", std::nullopt, "new").get().error.ok());
  got = ConsumeN(*c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 100);
  EXPECT_EQ(got[0].value, "new");
  EXPECT_FALSE(c->Seek({"seek", 1}, 0).ok()) << "not assigned";
}

TEST_F(ConsumerTest, OffsetOutOfRangeFollowsTheResetPolicy) {
  Fill("reset", 10);
  TopicPartition tp{"reset", 0};
  auto earliest = MakeConsumer({.reset = OffsetReset::kEarliest});
  earliest->Assign({tp});
  ASSERT_TRUE(earliest->Seek(tp, 5000).ok());
  auto got = ConsumeN(*earliest, 10);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0].offset, 0);

  auto latest = MakeConsumer({.reset = OffsetReset::kLatest});
  latest->Assign({tp});
  ASSERT_TRUE(latest->Seek(tp, 5000).ok());
  ASSERT_TRUE(latest->Poll(200).ok());
  EXPECT_EQ(*latest->Position(tp), 10);

  auto none = MakeConsumer({.reset = OffsetReset::kNone});
  none->Assign({tp});
  auto unpositioned = none->Poll(100);
  EXPECT_TRUE(absl::IsFailedPrecondition(unpositioned.status())) << unpositioned.status();
  ASSERT_TRUE(none->Seek(tp, 5000).ok());
  auto out_of_range = none->Poll(1000);
  EXPECT_EQ(KafkaErrorOf(out_of_range.status()), protocol::ErrorCode::kOffsetOutOfRange)
      << out_of_range.status();
  EXPECT_NE(out_of_range.status().message().find("reset-0"), std::string::npos);
}

TEST_F(ConsumerTest, SmallFetchSizesStillReadEverything) {
  Fill("small-fetch", 300, 1000);
  auto c = MakeConsumer({.reset = OffsetReset::kEarliest,
                         .max_bytes = 3000,
                         .max_partition_bytes = 3000,
                         .max_poll_records = 7});
  c->Assign({{"small-fetch", 0}});
  auto got = ConsumeN(*c, 300, 20'000);
  ASSERT_EQ(got.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(got[i].offset, i);
}

TEST_F(ConsumerTest, PollOnAnEmptyPartitionWaitsForTheTimeout) {
  CreateTopic("empty", 2);
  auto c = MakeConsumer({.reset = OffsetReset::kEarliest});
  c->Assign({{"empty", 0}, {"empty", 1}});
  int64_t start = Clock::System()->MonotonicMs();
  auto got = c->Poll(300);
  int64_t took = Clock::System()->MonotonicMs() - start;
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->empty());
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 3000);
}

}  // namespace
}  // namespace strata::client
