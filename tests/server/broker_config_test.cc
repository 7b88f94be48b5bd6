#include "server/broker_config.h"

#include <gtest/gtest.h>

#include "common/file.h"
#include "server/producer_ids.h"
#include "server/topic_store.h"
#include "tests/testing/temp_dir.h"

namespace strata::server {
namespace {

TEST(BrokerConfigTest, LoadsKafkaPropertiesAndTopicDefaults) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(FileSystem::Default(), dir.Sub("server.properties"),
                                  "# comment\n"
                                  "broker.id=3\n"
                                  "listeners=PLAINTEXT://0.0.0.0:9093\n"
                                  "advertised.listeners=PLAINTEXT://broker3.example:9093\n"
                                  "log.dirs=/var/lib/strata,/ignored\n"
                                  "num.partitions = 6\n"
                                  "log.retention.hours=2\n"
                                  "log.segment.bytes=1048576\n"
                                  "log.flush.interval.messages=1\n"
                                  "some.unknown.thing=1\n")
                  .ok());
  auto config = BrokerConfig::Load(dir.Sub("server.properties"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->broker_id, 3);
  EXPECT_EQ(config->listen.host, "0.0.0.0");
  EXPECT_EQ(config->listen.port, 9093);
  EXPECT_EQ(config->advertised_or_listen().host, "broker3.example");
  EXPECT_EQ(config->data_dir, "/var/lib/strata");
  EXPECT_EQ(config->num_partitions, 6);
  EXPECT_EQ(config->unknown_properties(), std::vector<std::string>{"some.unknown.thing"});
  auto topic = config->TopicConfig({{"segment.bytes", "2048"}});
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(topic->retention_ms, 2 * 3600000);
  EXPECT_EQ(topic->flush_messages, 1);
  EXPECT_EQ(topic->segment_bytes, 2048u) << "topic overrides win over broker defaults";
  EXPECT_TRUE(config->IsBrokerOverride("retention.ms"));
  EXPECT_FALSE(config->IsBrokerOverride("retention.bytes"));
}

TEST(BrokerConfigTest, RejectsBadValues) {
  BrokerConfig c;
  EXPECT_FALSE(c.Set("num.partitions", "zero").ok());
  EXPECT_FALSE(c.Set("log.segment.bytes", "-5").ok());
  EXPECT_FALSE(c.Set("listeners", "nohostport").ok());
  EXPECT_FALSE(c.Set("auto.create.topics.enable", "maybe").ok());
  EXPECT_FALSE(c.TopicConfig({{"cleanup.policy", "shred"}}).ok());
  EXPECT_FALSE(c.TopicConfig({{"no.such.config", "1"}}).ok());
  auto hp = ParseHostPort("[::1]:9092");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->ToString(), "[::1]:9092");
}

TEST(BrokerConfigTest, GroupCoordinatorSettings) {
  BrokerConfig c;
  EXPECT_EQ(c.group.num_partitions, 50);
  EXPECT_EQ(c.group.initial_rebalance_delay_ms, 3000);
  ASSERT_TRUE(c.Set("group.initial.rebalance.delay.ms", "0").ok());
  ASSERT_TRUE(c.Set("group.min.session.timeout.ms", "500").ok());
  ASSERT_TRUE(c.Set("group.max.size", "10").ok());
  ASSERT_TRUE(c.Set("offsets.retention.minutes", "60").ok());
  ASSERT_TRUE(c.Set("offsets.topic.num.partitions", "4").ok());
  ASSERT_TRUE(c.Set("offset.metadata.max.bytes", "100").ok());
  EXPECT_EQ(c.group.initial_rebalance_delay_ms, 0);
  EXPECT_EQ(c.group.min_session_timeout_ms, 500);
  EXPECT_EQ(c.group.max_size, 10);
  EXPECT_EQ(c.group.offsets_retention_ms, 3600000);
  EXPECT_EQ(c.group.num_partitions, 4);
  EXPECT_EQ(c.group.offset_metadata_max_bytes, 100);
  EXPECT_TRUE(c.unknown_properties().empty());
  EXPECT_FALSE(c.Set("offsets.topic.num.partitions", "0").ok());
  EXPECT_FALSE(c.Set("group.max.size", "many").ok());
  EXPECT_FALSE(c.Set("offsets.retention.minutes", "-1").ok());
}

TEST(TopicStoreTest, PersistsTopicsAndValidatesNames) {
  testing::TempDir dir;
  TopicId id = TopicStore::NewId();
  {
    auto store = TopicStore::Open(FileSystem::Default(), dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put({"orders", id, 3, {{"retention.ms", "1000"}}}).ok());
    ASSERT_TRUE((*store)->Put({"gone", TopicStore::NewId(), 1, {}}).ok());
    ASSERT_TRUE((*store)->Remove("gone").ok());
    EXPECT_FALSE((*store)->Put({"bad name", id, 1, {}}).ok());
  }
  auto store = TopicStore::Open(FileSystem::Default(), dir.path());
  ASSERT_TRUE(store.ok());
  auto t = (*store)->Get("orders");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->partitions, 3);
  EXPECT_EQ(t->configs.at("retention.ms"), "1000");
  EXPECT_FALSE((*store)->Get("gone").has_value());
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", "with space", std::string(250, 'x')}) {
    EXPECT_FALSE(ValidateTopicName(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateTopicName("my-topic_1.v2").ok());
}

TEST(ProducerIdsTest, UniqueAcrossRestarts) {
  testing::TempDir dir;
  std::vector<int64_t> first;
  {
    auto ids = ProducerIds::Open(FileSystem::Default(), dir.path());
    ASSERT_TRUE(ids.ok());
    for (int i = 0; i < 3; ++i) first.push_back(*(*ids)->Next());
  }
  auto ids = ProducerIds::Open(FileSystem::Default(), dir.path());
  int64_t next = *(*ids)->Next();
  EXPECT_EQ(first, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_GE(next, ProducerIds::kBlockSize) << "a restart never reuses an id";
}

TEST(BrokerConfigTest, CleanerSettings) {
  BrokerConfig c;
  EXPECT_TRUE(c.cleaner_enable);
  EXPECT_EQ(c.cleaner_threads, 1);
  EXPECT_EQ(c.cleaner_dedupe_buffer_bytes, 134217728);
  EXPECT_EQ(c.cleaner_io_max_bytes_per_second, 0);
  EXPECT_EQ(c.cleaner_backoff_ms, 15000);
  ASSERT_TRUE(c.Set("log.cleaner.enable", "false").ok());
  ASSERT_TRUE(c.Set("log.cleaner.threads", "2").ok());
  ASSERT_TRUE(c.Set("log.cleaner.dedupe.buffer.size", "16777216").ok());
  ASSERT_TRUE(c.Set("log.cleaner.io.max.bytes.per.second", "1048576.5").ok());
  ASSERT_TRUE(c.Set("log.cleaner.backoff.ms", "100").ok());
  ASSERT_TRUE(c.Set("log.cleaner.min.cleanable.ratio", "0.25").ok());
  ASSERT_TRUE(c.Set("log.cleaner.delete.retention.ms", "1000").ok());
  ASSERT_TRUE(c.Set("log.cleaner.min.compaction.lag.ms", "5").ok());
  ASSERT_TRUE(c.Set("log.cleaner.max.compaction.lag.ms", "600000").ok());
  ASSERT_TRUE(c.Set("offsets.topic.segment.bytes", "16384").ok());
  EXPECT_TRUE(c.unknown_properties().empty());
  EXPECT_FALSE(c.cleaner_enable);
  EXPECT_EQ(c.cleaner_threads, 2);
  EXPECT_EQ(c.cleaner_dedupe_buffer_bytes, 16777216);
  EXPECT_EQ(c.cleaner_io_max_bytes_per_second, 1048576.5);
  EXPECT_EQ(c.cleaner_backoff_ms, 100);
  EXPECT_EQ(c.group.segment_bytes, 16384);
  auto topic = c.TopicConfig({{"min.cleanable.dirty.ratio", "0.75"}});
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->min_cleanable_dirty_ratio, 0.75) << "the topic override wins";
  EXPECT_EQ(topic->delete_retention_ms, 1000);
  EXPECT_EQ(topic->min_compaction_lag_ms, 5);
  EXPECT_EQ(topic->max_compaction_lag_ms, 600000);
  topic = c.TopicConfig({});
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(topic->min_cleanable_dirty_ratio, 0.25);
  // Kafka's default for the throttle is Double.MAX_VALUE: unlimited.
  ASSERT_TRUE(c.Set("log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308").ok());
  EXPECT_EQ(c.cleaner_io_max_bytes_per_second, 0);
  EXPECT_FALSE(c.Set("log.cleaner.threads", "0").ok());
  EXPECT_FALSE(c.Set("log.cleaner.enable", "yes").ok());
  EXPECT_FALSE(c.Set("log.cleaner.dedupe.buffer.size", "1000").ok());
  EXPECT_FALSE(c.Set("log.cleaner.io.max.bytes.per.second", "-1").ok());
  EXPECT_FALSE(c.Set("log.cleaner.min.cleanable.ratio", "2").ok());
}

}  // namespace
}  // namespace strata::server
