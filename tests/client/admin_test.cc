// Admin against a live broker: topics, partitions, configs, records, offsets.
#include "client/admin.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "tests/client/client_testing.h"

namespace strata::client {
namespace {

using protocol::ErrorCode;

class AdminTest : public testing::BrokerTest {};

const ConfigEntry* FindConfig(const std::vector<ConfigEntry>& entries, const std::string& name) {
  for (const ConfigEntry& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

TEST_F(AdminTest, CreateListDescribeDelete) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(admin
                  ->CreateTopic(
                      {.name = "adm-a", .partitions = 3, .configs = {{"retention.ms", "3600000"}}})
                  .ok());
  absl::Status again = admin->CreateTopic({.name = "adm-a", .partitions = 3});
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_NE(again.message().find("TOPIC_ALREADY_EXISTS"), std::string::npos);
  ASSERT_TRUE(
      admin->CreateTopic({.name = "adm-dry", .partitions = 2}, /*validate_only=*/true).ok());
  absl::Status bad = admin->CreateTopic(
      {.name = "adm-bad", .partitions = 1, .configs = {{"retention.ms", "soon"}}});
  EXPECT_EQ(KafkaErrorOf(bad), ErrorCode::kInvalidConfig) << bad;

  auto topics = admin->ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_NE(std::find(topics->begin(), topics->end(), "adm-a"), topics->end());
  EXPECT_EQ(std::find(topics->begin(), topics->end(), "adm-dry"), topics->end()) << "validate only";

  auto described = admin->DescribeTopic("adm-a");
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->partitions.size(), 3u);
  for (const PartitionMetadata& p : described->partitions) {
    EXPECT_EQ(p.leader, 0);
    EXPECT_EQ(p.replicas, std::vector<int32_t>{0});
  }

  auto results = admin->DeleteTopics({"adm-a", "adm-never"});
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE(results->at("adm-a").ok());
  EXPECT_TRUE(absl::IsNotFound(results->at("adm-never"))) << results->at("adm-never");
  auto gone = admin->DescribeTopic("adm-a");
  EXPECT_EQ(KafkaErrorOf(gone.status()), ErrorCode::kUnknownTopicOrPartition) << gone.status();
}

TEST_F(AdminTest, DescribeAndAlterConfigs) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(
      admin
          ->CreateTopic(
              {.name = "adm-cfg", .partitions = 1, .configs = {{"retention.ms", "3600000"}}})
          .ok());
  auto configs = admin->DescribeTopicConfigs("adm-cfg");
  ASSERT_TRUE(configs.ok()) << configs.status();
  const ConfigEntry* retention = FindConfig(*configs, "retention.ms");
  ASSERT_NE(retention, nullptr);
  EXPECT_EQ(retention->value, "3600000");
  EXPECT_FALSE(retention->is_default);
  EXPECT_EQ(retention->source, ConfigSource::kTopic);
  const ConfigEntry* segment = FindConfig(*configs, "segment.bytes");
  ASSERT_NE(segment, nullptr);
  EXPECT_TRUE(segment->is_default);

  ASSERT_TRUE(admin
                  ->AlterTopicConfigs("adm-cfg", {{"segment.bytes", ConfigOp::kSet, "1048576"},
                                                  {"retention.ms", ConfigOp::kDelete, {}}})
                  .ok());
  auto after = admin->DescribeTopicConfigs("adm-cfg", {"segment.bytes", "retention.ms"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), 2u);
  EXPECT_EQ(FindConfig(*after, "segment.bytes")->value, "1048576");
  EXPECT_FALSE(FindConfig(*after, "segment.bytes")->is_default);
  EXPECT_TRUE(FindConfig(*after, "retention.ms")->is_default);

  absl::Status bad = admin->AlterTopicConfigs("adm-cfg", {{"segment.bytes", ConfigOp::kSet, "x"}});
  EXPECT_EQ(KafkaErrorOf(bad), ErrorCode::kInvalidConfig) << bad;
  absl::Status missing =
      admin->AlterTopicConfigs("adm-nope", {{"segment.bytes", ConfigOp::kSet, "1"}});
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  auto broker = admin->DescribeBrokerConfigs(0);
  ASSERT_TRUE(broker.ok()) << broker.status();
  EXPECT_NE(FindConfig(*broker, "num.partitions"), nullptr);
}

TEST_F(AdminTest, CreatePartitions) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(admin->CreateTopic({.name = "adm-grow", .partitions = 1}).ok());
  ASSERT_TRUE(admin->CreatePartitions("adm-grow", 4, /*validate_only=*/true).ok());
  EXPECT_EQ(admin->DescribeTopic("adm-grow")->partitions.size(), 1u);
  ASSERT_TRUE(admin->CreatePartitions("adm-grow", 4).ok());
  EXPECT_EQ(admin->DescribeTopic("adm-grow")->partitions.size(), 4u);
  absl::Status shrink = admin->CreatePartitions("adm-grow", 2);
  EXPECT_EQ(KafkaErrorOf(shrink), ErrorCode::kInvalidPartitions) << shrink;
  // A producer sees the new partitions once its metadata is refreshed.
  auto producer = MakeProducer();
  DeliveryReport r = producer->Send("adm-grow", std::nullopt, "v", {}, 3).get();
  EXPECT_TRUE(r.error.ok()) << r.error;
}

TEST_F(AdminTest, DeleteRecordsAndListOffsets) {
  auto admin = MakeAdmin();
  ASSERT_TRUE(admin->CreateTopic({.name = "adm-records", .partitions = 2}).ok());
  auto producer = MakeProducer();
  for (int i = 0; i < 10; ++i) {
    producer->Send("adm-records", std::nullopt, "v", {}, 0, 1'000'000 + i * 10);
  }
  ASSERT_TRUE(producer->Flush().ok());
  TopicPartition tp{"adm-records", 0};
  EXPECT_EQ(admin->EarliestOffset(tp)->offset, 0);
  EXPECT_EQ(admin->LatestOffset(tp)->offset, 10);
  auto at = admin->OffsetForTimestamp(tp, 1'000'035);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->offset, 4);
  EXPECT_EQ(at->timestamp, 1'000'040);
  EXPECT_EQ(admin->OffsetForTimestamp(tp, 9'000'000)->offset, -1);
  EXPECT_EQ(admin->LatestOffset({"adm-records", 1})->offset, 0);

  auto deleted = admin->DeleteRecords("adm-records", {{0, 5}, {1, -1}, {7, 0}});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  ASSERT_TRUE(deleted->at(0).ok()) << deleted->at(0).status();
  EXPECT_EQ(*deleted->at(0), 5);
  EXPECT_EQ(*deleted->at(1), 0);
  EXPECT_TRUE(absl::IsNotFound(deleted->at(7).status())) << deleted->at(7).status();
  EXPECT_EQ(admin->EarliestOffset(tp)->offset, 5);
  auto beyond = admin->DeleteRecords("adm-records", {{0, 50}});
  EXPECT_EQ(KafkaErrorOf(beyond->at(0).status()), ErrorCode::kOffsetOutOfRange);

  auto missing = admin->LatestOffset({"adm-missing", 0});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
}

}  // namespace
}  // namespace strata::client
