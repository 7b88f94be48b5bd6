// Idempotent producer: producer ids and sequence numbers on the wire, retries that the broker
// deduplicates (responses dropped by a proxy after the broker appended), and a broker kill.
#include <gtest/gtest.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "log/record_batch.h"
#include "protocol/fetch.h"
#include "tests/client/client_testing.h"
#include "tests/client/cutting_proxy.h"

namespace strata::client {
namespace {

class IdempotenceTest : public testing::BrokerTest {};

// Reads the batches of a partition with a raw Fetch to look at their producer fields.
std::vector<std::tuple<int64_t, int16_t, int32_t, int32_t>> ProducerFields(
    const std::string& bootstrap, const std::string& topic) {
  std::vector<std::tuple<int64_t, int16_t, int32_t, int32_t>> out;
  auto conn = Connection::Connect(*ParseHostPort(bootstrap));
  EXPECT_TRUE(conn.ok());
  protocol::FetchRequest req;
  req.topics.push_back({.topic = topic, .topic_id = {}, .partitions = {}});
  req.topics[0].partitions.push_back(
      {.partition = 0, .fetch_offset = 0, .partition_max_bytes = 8 << 20});
  auto frame = (*conn)->Send(req, 11).get();
  EXPECT_TRUE(frame.ok()) << frame.status();
  protocol::FetchResponse resp;
  protocol::Reader r(frame->body());
  EXPECT_TRUE(resp.Decode(r, 11).ok());
  std::span<const uint8_t> bytes = resp.responses[0].partitions[0].records.bytes;
  while (!bytes.empty()) {
    auto batch = RecordBatchView::Parse(bytes);
    if (!batch.ok()) break;
    out.emplace_back(batch->producer_id(), batch->producer_epoch(), batch->base_sequence(),
                     batch->record_count());
    bytes = bytes.subspan(batch->size_bytes());
  }
  return out;
}

TEST_F(IdempotenceTest, ProducerNumbersBatchesPerPartition) {
  CreateTopic("idempotent", 1);
  auto producer = MakeProducer({.linger_ms = 0, .idempotence = true});
  ASSERT_GE(producer->producer_id(), 0);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::future<DeliveryReport>> reports;
    for (int i = 0; i < round + 1; ++i) reports.push_back(producer->Send("idempotent", "k", "v"));
    ASSERT_TRUE(producer->Flush().ok());
    for (auto& f : reports) ASSERT_TRUE(f.get().error.ok());
  }
  auto fields = ProducerFields(broker_->bootstrap(), "idempotent");
  ASSERT_FALSE(fields.empty());
  int32_t expected_sequence = 0;
  for (const auto& [pid, epoch, sequence, count] : fields) {
    EXPECT_EQ(pid, producer->producer_id());
    EXPECT_EQ(epoch, 0);
    EXPECT_EQ(sequence, expected_sequence) << "each batch continues the partition's sequence";
    expected_sequence += count;
  }
  EXPECT_EQ(expected_sequence, 15);
}

// The broker is killed (SIGKILL) and restarted while records are in flight: the producer
// retries them with their sequence numbers, so every record lands once and in order.
TEST(IdempotenceKillTest, RecordsSurviveABrokerKillInOrder) {
  strata::testing::BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  auto bootstrap = *ParseHostPort(broker.bootstrap());
  auto producer = Producer::Create({.bootstrap = {bootstrap},
                                    .linger_ms = 1,
                                    .batch_bytes = 2048,
                                    .idempotence = true,
                                    .connect_timeout_ms = 1000,
                                    .request_timeout_ms = 3000,
                                    .max_retries = 100,
                                    .retry_backoff_ms = 50});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const int kRecords = 3000;
  std::atomic<int> acked{0};
  std::vector<std::future<DeliveryReport>> reports;
  std::thread killer([&] {
    while (acked.load() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    broker.Kill();
    broker.Start();  // same port and data directory
  });
  for (int i = 0; i < kRecords; ++i) {
    auto promise = std::make_shared<std::promise<DeliveryReport>>();
    reports.push_back(promise->get_future());
    (*producer)
        ->Send({.topic = "kill", .value = absl::StrCat(i), .partition = 0},
               [&, promise](const DeliveryReport& r) {
                 ++acked;
                 promise->set_value(r);
               })
        .IgnoreError();
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  killer.join();
  ASSERT_TRUE(broker.ok()) << broker.log();
  ASSERT_TRUE((*producer)->Flush(30'000).ok());
  EXPECT_GT((*producer)->retries(), 0u) << "the kill should have interrupted some requests";
  for (auto& f : reports) {
    DeliveryReport r = f.get();
    ASSERT_TRUE(r.error.ok()) << r.error;
  }
  auto consumer = Consumer::Create(
      {.bootstrap = {bootstrap}, .reset = OffsetReset::kEarliest, .max_wait_ms = 100});
  ASSERT_TRUE(consumer.ok());
  (*consumer)->Assign({{"kill", 0}});
  auto got = testing::ConsumeN(**consumer, kRecords);
  ASSERT_EQ(got.size(), static_cast<size_t>(kRecords)) << "no record lost";
  auto extra = (*consumer)->Poll(200);
  ASSERT_TRUE(extra.ok());
  EXPECT_TRUE(extra->empty()) << "no record duplicated";
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_EQ(got[i].value, absl::StrCat(i)) << "offset " << got[i].offset;
  }
}

// A batch the broker refuses for good leaves its sequence numbers in doubt: the producer bumps
// its epoch (KIP-360) and starts the partition's sequences again at 0.
TEST_F(IdempotenceTest, AFatalBatchErrorBumpsTheEpoch) {
  CreateTopic("bump", 1, {{"max.message.bytes", "2000"}});
  auto producer = MakeProducer({.linger_ms = 0, .batch_bytes = 100'000, .idempotence = true});
  ASSERT_TRUE(producer->Send("bump", "k", "small").get().error.ok());
  DeliveryReport big = producer->Send("bump", "k", std::string(5000, 'x')).get();
  EXPECT_EQ(KafkaErrorOf(big.error), protocol::ErrorCode::kMessageTooLarge) << big.error;
  DeliveryReport after = producer->Send("bump", "k", "small again").get();
  ASSERT_TRUE(after.error.ok()) << after.error;
  EXPECT_EQ(after.offset, 1);
  auto fields = ProducerFields(broker_->bootstrap(), "bump");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(std::get<1>(fields[0]), 0);  // epoch
  EXPECT_EQ(std::get<2>(fields[0]), 0);  // sequence
  EXPECT_EQ(std::get<0>(fields[1]), producer->producer_id()) << "same producer id";
  EXPECT_EQ(std::get<1>(fields[1]), 1) << "next epoch";
  EXPECT_EQ(std::get<2>(fields[1]), 0) << "sequences restart";
}

// Sends `count` records "0".."count-1" to partition 0 of `topic`, asking the proxy to drop
// `drops` Produce responses once a fifth of them are acknowledged; returns the reports.
std::vector<DeliveryReport> ProduceThroughDrops(Producer& producer, testing::CuttingProxy& proxy,
                                                const std::string& topic, int count, int drops) {
  std::atomic<int> acked{0};
  std::vector<std::future<DeliveryReport>> futures;
  for (int i = 0; i < count; ++i) {
    if (i == count / 5) {
      while (acked.load() < count / 10) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      proxy.DropProduceResponses(drops);
    }
    auto promise = std::make_shared<std::promise<DeliveryReport>>();
    futures.push_back(promise->get_future());
    producer
        .Send({.topic = topic, .value = absl::StrCat(i), .partition = 0},
              [&acked, promise](const DeliveryReport& r) {
                ++acked;
                promise->set_value(r);
              })
        .IgnoreError();
  }
  EXPECT_TRUE(producer.Flush(30'000).ok());
  std::vector<DeliveryReport> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

// Values of every record in partition 0 of `topic`, in offset order.
std::vector<std::string> ReadValues(const std::vector<HostPort>& bootstrap,
                                    const std::string& topic, size_t at_least) {
  auto consumer = Consumer::Create(
      {.bootstrap = bootstrap, .reset = OffsetReset::kEarliest, .max_wait_ms = 100});
  EXPECT_TRUE(consumer.ok());
  (*consumer)->Assign({{topic, 0}});
  std::vector<std::string> out;
  for (const ConsumerRecord& r : testing::ConsumeN(**consumer, at_least)) out.push_back(*r.value);
  while (true) {
    auto more = (*consumer)->Poll(200);
    if (!more.ok() || more->empty()) break;
    for (const ConsumerRecord& r : *more) out.push_back(*r.value);
  }
  return out;
}

class DroppedResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<strata::testing::BrokerProcess>(
        std::vector<std::string>{"--advertised", proxy_.address()});
    ASSERT_TRUE(broker_->ok()) << broker_->log();
    proxy_.Start(broker_->port());
  }
  std::vector<HostPort> Bootstrap() { return {*ParseHostPort(proxy_.address())}; }
  std::unique_ptr<Producer> MakeProducer(bool idempotence) {
    auto p = Producer::Create({.bootstrap = Bootstrap(),
                               .linger_ms = 1,
                               .batch_bytes = 1024,
                               .idempotence = idempotence,
                               .max_retries = 50,
                               .retry_backoff_ms = 20,
                               .max_in_flight = 5});
    EXPECT_TRUE(p.ok()) << p.status();
    return std::move(*p);
  }

  testing::CuttingProxy proxy_;
  std::unique_ptr<strata::testing::BrokerProcess> broker_;
};

TEST_F(DroppedResponseTest, IdempotentRetriesAreDeduplicated) {
  auto producer = MakeProducer(/*idempotence=*/true);
  const int kRecords = 3000;
  std::vector<DeliveryReport> reports =
      ProduceThroughDrops(*producer, proxy_, "dedup", kRecords, 3);
  EXPECT_EQ(proxy_.dropped(), 3);
  EXPECT_GE(producer->retries(), 3u);
  for (const DeliveryReport& r : reports) ASSERT_TRUE(r.error.ok()) << r.error;
  std::vector<std::string> values = ReadValues(Bootstrap(), "dedup", kRecords);
  ASSERT_EQ(values.size(), static_cast<size_t>(kRecords)) << "every record exactly once";
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(values[i], absl::StrCat(i)) << "in order";
}

// Kafka's documented behaviour without idempotence, shown so the test above means something:
// the same drops make the retries write duplicates.
TEST_F(DroppedResponseTest, WithoutIdempotenceRetriesDuplicate) {
  auto producer = MakeProducer(/*idempotence=*/false);
  const int kRecords = 3000;
  std::vector<DeliveryReport> reports = ProduceThroughDrops(*producer, proxy_, "dups", kRecords, 3);
  EXPECT_EQ(proxy_.dropped(), 3);
  for (const DeliveryReport& r : reports) ASSERT_TRUE(r.error.ok()) << r.error;
  std::vector<std::string> values = ReadValues(Bootstrap(), "dups", kRecords);
  EXPECT_GT(values.size(), static_cast<size_t>(kRecords));
}

}  // namespace
}  // namespace strata::client
