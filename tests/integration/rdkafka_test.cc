// librdkafka (Debian's librdkafka-dev) against a real `strata serve` process.
#include "tests/testing/rdkafka.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/shell.h"

namespace strata {
namespace {

using testing::BrokerProcess;
using testing::Consume;
using testing::Producer;

std::string RunStrata(const std::string& args) {
  return testing::Shell(absl::StrCat(STRATA_BINARY, " ", args, " 2>&1")).out;
}

class RdkafkaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.ok()) << broker_.log(); }
  std::map<std::string, std::string> ProducerConf(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> conf = {{"bootstrap.servers", broker_.bootstrap()},
                                               {"linger.ms", "5"}};
    for (auto& [k, v] : extra) conf[k] = v;
    return conf;
  }
  BrokerProcess broker_;
};

TEST_F(RdkafkaTest, MetadataAndAdminTopicCreation) {
  EXPECT_EQ(testing::CreateTopic(broker_.bootstrap(), "admin-made", 3, {{"retention.ms", "60000"}}),
            "");
  EXPECT_NE(testing::CreateTopic(broker_.bootstrap(), "admin-made", 3), "") << "exists";
  EXPECT_NE(testing::CreateTopic(broker_.bootstrap(), "bad/name", 1), "");
  std::string error;
  rd_kafka_t* rk =
      testing::NewClient(RD_KAFKA_PRODUCER, {{"bootstrap.servers", broker_.bootstrap()}}, &error);
  ASSERT_NE(rk, nullptr) << error;
  const rd_kafka_metadata_t* md = nullptr;
  ASSERT_EQ(rd_kafka_metadata(rk, 1, nullptr, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(md->broker_cnt, 1);
  EXPECT_EQ(md->brokers[0].port, broker_.port());
  bool found = false;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (std::string(md->topics[i].topic) != "admin-made") continue;
    found = true;
    EXPECT_EQ(md->topics[i].partition_cnt, 3);
    EXPECT_EQ(md->topics[i].partitions[2].leader, 0);
  }
  EXPECT_TRUE(found);
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
}

TEST_F(RdkafkaTest, EveryCodecRoundTrips) {
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    std::string topic = absl::StrCat("codec-", codec);
    Producer p(ProducerConf({{"compression.codec", codec}}));
    ASSERT_TRUE(p.ok()) << p.error();
    for (int i = 0; i < 2000; ++i) {
      std::string key = absl::StrCat("k", i % 17);
      ASSERT_EQ(p.Send(topic, &key, absl::StrCat(codec, "-", i, std::string(i % 300, 'x')), 0), 0);
    }
    ASSERT_EQ(p.Flush(), 0) << codec;
    auto msgs = Consume(broker_.bootstrap(), topic, {0}, 0, 2000);
    ASSERT_EQ(msgs.size(), 2000u) << codec;
    for (int i = 0; i < 2000; ++i) {
      EXPECT_EQ(msgs[i].offset, i);
      EXPECT_EQ(msgs[i].value, absl::StrCat(codec, "-", i, std::string(i % 300, 'x')));
      EXPECT_EQ(msgs[i].key, absl::StrCat("k", i % 17));
    }
    std::string dump = RunStrata(absl::StrCat("log dump ", broker_.data_dir(), "/", topic, "-0"));
    EXPECT_NE(dump.find(absl::StrCat("compresscodec: ", codec)), std::string::npos)
        << "stored as the producer compressed it: " << dump.substr(0, 600);
  }
}

TEST_F(RdkafkaTest, AssignSeekAndOffsetsForTimes) {
  Producer p(ProducerConf());
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.Send("times", nullptr, absl::StrCat("v", i), 0, 1'000'000 + 1000 * i), 0);
  ASSERT_EQ(p.Flush(), 0);
  auto from42 = Consume(broker_.bootstrap(), "times", {0}, 42, 10);
  ASSERT_FALSE(from42.empty());
  EXPECT_EQ(from42[0].offset, 42);
  EXPECT_EQ(from42[0].value, "v42");
  EXPECT_EQ(from42[0].timestamp, 1'042'000);
  auto from_end = Consume(broker_.bootstrap(), "times", {0}, RD_KAFKA_OFFSET_END, 1, 1500);
  EXPECT_TRUE(from_end.empty());
  std::string error;
  rd_kafka_t* rk = testing::NewClient(
      RD_KAFKA_CONSUMER, {{"bootstrap.servers", broker_.bootstrap()}, {"group.id", "t"}}, &error);
  ASSERT_NE(rk, nullptr);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "times", 0)->offset = 1'050'500;  // a timestamp
  ASSERT_EQ(rd_kafka_offsets_for_times(rk, list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(list->elems[0].offset, 51) << "first record at or after the timestamp";
  list->elems[0].offset = 5'000'000;
  ASSERT_EQ(rd_kafka_offsets_for_times(rk, list, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(list->elems[0].offset, -1) << "none that late";
  int64_t low = -1, high = -1;
  ASSERT_EQ(rd_kafka_query_watermark_offsets(rk, "times", 0, &low, &high, 10000), 0);
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 100);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
}

TEST_F(RdkafkaTest, LargeMessage) {
  Producer p(ProducerConf());
  std::string big(900 * 1024, 'B');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ASSERT_EQ(p.Send("large", nullptr, big, 0), 0);
  ASSERT_EQ(p.Flush(), 0);
  auto msgs = Consume(broker_.bootstrap(), "large", {0}, 0, 1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].value, big);
}

TEST_F(RdkafkaTest, RestartKeepsDataAndOffsetsContinue) {
  {
    Producer p(ProducerConf());
    for (int i = 0; i < 500; ++i) ASSERT_EQ(p.Send("durable", nullptr, absl::StrCat("a", i), 0), 0);
    ASSERT_EQ(p.Flush(), 0);
  }
  EXPECT_EQ(broker_.Stop(), 0) << "a clean shutdown exits 0";
  broker_.Start();
  ASSERT_TRUE(broker_.ok()) << broker_.log();
  {
    Producer p(ProducerConf());
    for (int i = 0; i < 10; ++i) ASSERT_EQ(p.Send("durable", nullptr, absl::StrCat("b", i), 0), 0);
    ASSERT_EQ(p.Flush(), 0);
    EXPECT_EQ(p.delivered()[0], 500) << "offsets continue after a restart";
  }
  auto msgs = Consume(broker_.bootstrap(), "durable", {0}, 0, 510);
  ASSERT_EQ(msgs.size(), 510u);
  EXPECT_EQ(msgs[499].value, "a499");
  EXPECT_EQ(msgs[500].value, "b0");
}

void InstallProxy(rd_kafka_conf_t* conf) { testing::ConnectionProxy::Install(conf); }

TEST_F(RdkafkaTest, IdempotentProducerSurvivesCutConnections) {
  testing::ConnectionProxy::Reset(/*cut_after_bytes=*/256 * 1024, /*max_cuts=*/4);
  constexpr int kCount = 20000;
  {
    Producer p(ProducerConf({{"enable.idempotence", "true"},
                             {"linger.ms", "2"},
                             {"batch.num.messages", "200"},
                             {"retry.backoff.ms", "10"}}),
               InstallProxy);
    ASSERT_TRUE(p.ok()) << p.error();
    for (int i = 0; i < kCount; ++i) {
      ASSERT_EQ(p.Send("exactly-once", nullptr, absl::StrCat("m", i, std::string(100, '.')), 0), 0);
    }
    EXPECT_EQ(p.Flush(60000), 0);
  }
  testing::ConnectionProxy::JoinAll();
  EXPECT_GT(testing::ConnectionProxy::cuts(), 0) << "the proxy cut connections mid-stream";
  auto msgs = Consume(broker_.bootstrap(), "exactly-once", {0}, 0, kCount, 30000);
  auto extra = Consume(broker_.bootstrap(), "exactly-once", {0}, kCount, 1, 1500);
  EXPECT_TRUE(extra.empty()) << "nothing beyond the produced messages";
  std::set<std::string> seen;
  for (const auto& m : msgs)
    EXPECT_TRUE(seen.insert(m.value).second) << "duplicate " << m.value.substr(0, 10);
  EXPECT_EQ(msgs.size(), static_cast<size_t>(kCount)) << "every message exactly once";
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].value.rfind(absl::StrCat("m", i, "."), 0) != 0) {
      ADD_FAILURE() << "order broken at " << i;
      break;
    }
  }
}

}  // namespace
}  // namespace strata
