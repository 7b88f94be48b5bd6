// Producer → broker → Consumer round trips: every codec, keys and the partitioner, headers,
// acks=0, idempotence (sequence numbers on the wire, retries across a broker restart).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "client/partitioner.h"
#include "tests/client/client_testing.h"

namespace strata::client {
namespace {

class ProducerConsumerTest : public testing::BrokerTest {
 protected:
  // Every record of a topic's partitions, read from the beginning.
  std::vector<ConsumerRecord> ReadAll(const std::string& topic, int32_t partitions,
                                      size_t expected) {
    auto consumer = MakeConsumer({.reset = OffsetReset::kEarliest});
    std::vector<TopicPartition> tps;
    for (int32_t p = 0; p < partitions; ++p) tps.push_back({topic, p});
    consumer->Assign(tps);
    return testing::ConsumeN(*consumer, expected);
  }
};

TEST_F(ProducerConsumerTest, RoundTripWithEveryCodecAndKeys) {
  for (Compression codec : {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                            Compression::kLz4, Compression::kZstd}) {
    std::string topic = absl::StrCat("codec-", CompressionName(codec));
    SCOPED_TRACE(topic);
    CreateTopic(topic, 3);
    auto producer = MakeProducer({.linger_ms = 20, .batch_bytes = 4096, .compression = codec});
    ASSERT_NE(producer, nullptr);
    std::vector<std::future<DeliveryReport>> reports;
    const int kRecords = 300;
    for (int i = 0; i < kRecords; ++i) {
      std::string key = absl::StrCat("key-", i % 17);
      reports.push_back(producer->Send(topic, key,
                                       absl::StrCat("value-", i, "-", std::string(i % 50, 'x')),
                                       {{"n", absl::StrCat(i)}, {"empty", std::nullopt}}));
    }
    ASSERT_TRUE(producer->Flush(10'000).ok());
    std::map<std::pair<int32_t, int64_t>, int> placed;  // (partition, offset) -> record index
    for (int i = 0; i < kRecords; ++i) {
      DeliveryReport r = reports[i].get();
      ASSERT_TRUE(r.error.ok()) << r.error;
      EXPECT_EQ(r.partition, KeyPartition(absl::StrCat("key-", i % 17), 3))
          << "murmur2 partitioner";
      EXPECT_GE(r.offset, 0);
      EXPECT_TRUE(placed.emplace(std::make_pair(r.partition, r.offset), i).second);
    }
    std::vector<ConsumerRecord> got = ReadAll(topic, 3, kRecords);
    ASSERT_EQ(got.size(), static_cast<size_t>(kRecords));
    for (const ConsumerRecord& rec : got) {
      auto it = placed.find({rec.partition, rec.offset});
      ASSERT_NE(it, placed.end()) << rec.partition << "/" << rec.offset;
      int i = it->second;
      EXPECT_EQ(rec.key, absl::StrCat("key-", i % 17));
      EXPECT_EQ(rec.value, absl::StrCat("value-", i, "-", std::string(i % 50, 'x')));
      ASSERT_EQ(rec.headers.size(), 2u);
      EXPECT_EQ(rec.headers[0].key, "n");
      EXPECT_EQ(rec.headers[0].value, absl::StrCat(i));
      EXPECT_FALSE(rec.headers[1].value.has_value());
    }
    // Per partition, offsets come back in order.
    std::map<int32_t, int64_t> last;
    for (const ConsumerRecord& rec : got) {
      if (last.count(rec.partition)) {
        EXPECT_GT(rec.offset, last[rec.partition]);
      }
      last[rec.partition] = rec.offset;
    }
  }
}

TEST_F(ProducerConsumerTest, NullKeysStickToAPartitionPerBatchAndExplicitPartitionsWin) {
  CreateTopic("sticky", 4);
  auto producer = MakeProducer({.linger_ms = 1000, .batch_bytes = 1 << 20});
  std::vector<std::future<DeliveryReport>> reports;
  for (int i = 0; i < 20; ++i) reports.push_back(producer->Send("sticky", std::nullopt, "v"));
  auto explicit_report = producer->Send("sticky", "k", "v", {}, /*partition=*/3);
  ASSERT_TRUE(producer->Flush().ok());
  std::set<int32_t> partitions;
  for (auto& f : reports) partitions.insert(f.get().partition);
  EXPECT_EQ(partitions.size(), 1u) << "one open batch takes every unkeyed record";
  EXPECT_EQ(explicit_report.get().partition, 3);
  DeliveryReport bad = producer->Send("sticky", "k", "v", {}, /*partition=*/9).get();
  EXPECT_TRUE(absl::IsNotFound(bad.error)) << bad.error;
}

TEST_F(ProducerConsumerTest, LingerAndBatchSizeBoundBatches) {
  CreateTopic("batching", 1);
  auto producer = MakeProducer({.linger_ms = 10'000, .batch_bytes = 1024});
  std::vector<std::future<DeliveryReport>> reports;
  for (int i = 0; i < 40; ++i)
    reports.push_back(producer->Send("batching", std::nullopt, std::string(100, 'a')));
  // Full batches go without waiting for the 10 s linger.
  ASSERT_EQ(reports[0].wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(reports[0].get().error.ok());
  ASSERT_TRUE(producer->Flush(5000).ok()) << "Flush does not wait for linger either";
  for (size_t i = 1; i < reports.size(); ++i)
    EXPECT_EQ(reports[i].get().offset, static_cast<int64_t>(i));
}

TEST_F(ProducerConsumerTest, AcksZeroDeliversWithoutOffsets) {
  CreateTopic("acks0", 1);
  auto producer = MakeProducer({.acks = 0});
  std::vector<std::future<DeliveryReport>> reports;
  for (int i = 0; i < 50; ++i)
    reports.push_back(producer->Send("acks0", std::nullopt, absl::StrCat(i)));
  ASSERT_TRUE(producer->Flush().ok());
  for (auto& f : reports) {
    DeliveryReport r = f.get();
    EXPECT_TRUE(r.error.ok()) << r.error;
    EXPECT_EQ(r.offset, -1);
  }
  EXPECT_EQ(ReadAll("acks0", 1, 50).size(), 50u);
}

TEST_F(ProducerConsumerTest, SendToAMissingTopicFailsWithItsName) {
  auto producer = MakeProducer();
  // "bad name!" is not a valid topic name, so the broker cannot auto-create it.
  DeliveryReport r = producer->Send("bad name!", "k", "v").get();
  EXPECT_FALSE(r.error.ok());
  EXPECT_NE(r.error.message().find("INVALID_TOPIC_EXCEPTION"), std::string::npos) << r.error;
}

TEST_F(ProducerConsumerTest, CloseDeliversWhatWasQueued) {
  CreateTopic("close", 1);
  std::atomic<int> delivered{0};
  {
    auto producer = MakeProducer({.linger_ms = 5000});
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(producer
                      ->Send({.topic = "close", .value = "v"},
                             [&](const DeliveryReport& r) {
                               if (r.error.ok()) ++delivered;
                             })
                      .ok());
    }
    ASSERT_TRUE(producer->Close().ok());
    EXPECT_EQ(delivered.load(), 10);
    DeliveryReport late = producer->Send("close", std::nullopt, "v").get();
    EXPECT_TRUE(absl::IsFailedPrecondition(late.error)) << late.error;
  }
}

}  // namespace
}  // namespace strata::client
