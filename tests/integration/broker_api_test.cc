// The broker's APIs through raw requests: long polling, acks=0, ListOffsets, DeleteRecords,
// admin APIs, OffsetForLeaderEpoch, auto-creation and graceful shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "log/batch_builder.h"
#include "protocol/create_partitions.h"
#include "protocol/create_topics.h"
#include "protocol/delete_records.h"
#include "protocol/delete_topics.h"
#include "protocol/describe_configs.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "protocol/incremental_alter_configs.h"
#include "protocol/list_offsets.h"
#include "protocol/metadata.h"
#include "protocol/offset_for_leader_epoch.h"
#include "protocol/produce.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/raw_client.h"

namespace strata {
namespace {

using protocol::ErrorCode;
using testing::RawClient;
using Clock_ = std::chrono::steady_clock;

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

std::string Batch(int count, int64_t ts = 1000, const std::string& prefix = "v") {
  RecordBatchBuilder b;
  for (int i = 0; i < count; ++i) b.Add("k", absl::StrCat(prefix, i), ts + i);
  return *b.Build();
}

protocol::FetchRequest Fetch(const std::string& topic, int64_t offset, int32_t max_wait,
                             int32_t min_bytes) {
  protocol::FetchRequest req;
  req.max_wait_ms = max_wait;
  req.min_bytes = min_bytes;
  req.max_bytes = 1 << 20;
  auto& t = req.topics.emplace_back();
  t.topic = topic;
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.fetch_offset = offset;
  p.partition_max_bytes = 1 << 20;
  return req;
}

class BrokerApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.ok()) << broker_.log(); }
  template <typename Req, typename Resp>
  Resp Call(const Req& req, int16_t version) {
    auto r = client_.Call<Req, Resp>(req, version);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Resp{};
  }
  int64_t ProduceOk(const std::string& topic, const std::string& batch) {
    auto r = Call<protocol::ProduceRequest, protocol::ProduceResponse>(
        testing::OneBatchProduce(topic, 0, batch), 7);
    EXPECT_EQ(r.responses.at(0).partition_responses.at(0).error_code, 0);
    return r.responses.at(0).partition_responses.at(0).base_offset;
  }
  testing::BrokerProcess broker_;
  RawClient client_{broker_.port()};
};

TEST_F(BrokerApiTest, LongPollWaitsForAnAppendOrTimesOut) {
  ProduceOk("poll", Batch(1));
  auto start = Clock_::now();
  auto idle = Call<protocol::FetchRequest, protocol::FetchResponse>(Fetch("poll", 1, 300, 1), 11);
  auto waited = Clock_::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(250)) << "parked until max_wait_ms";
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_TRUE(idle.responses[0].partitions[0].records.bytes.empty());
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    RawClient other(broker_.port());
    std::string b = Batch(2);
    (void)other.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
        testing::OneBatchProduce("poll", 0, b), 7);
  });
  start = Clock_::now();
  auto woken =
      Call<protocol::FetchRequest, protocol::FetchResponse>(Fetch("poll", 1, 10000, 1), 11);
  waited = Clock_::now() - start;
  producer.join();
  EXPECT_LT(waited, std::chrono::milliseconds(5000)) << "the append woke the fetch";
  EXPECT_FALSE(woken.responses[0].partitions[0].records.bytes.empty());
  EXPECT_EQ(woken.responses[0].partitions[0].high_watermark, 3);
}

TEST_F(BrokerApiTest, AcksZeroGetsNoResponse) {
  std::string b = Batch(1);
  auto frame = protocol::EncodeRequestFrame(protocol::RequestHeader{0, 7, 100, std::string("x")},
                                            testing::OneBatchProduce("acks0", 0, b, /*acks=*/0));
  client_.SendRaw(frame);
  auto md =
      Call<protocol::MetadataRequest, protocol::MetadataResponse>(protocol::MetadataRequest{}, 1);
  EXPECT_EQ(md.brokers.size(), 1u) << "the next response is the metadata's";
  auto f = Call<protocol::FetchRequest, protocol::FetchResponse>(Fetch("acks0", 0, 0, 1), 11);
  EXPECT_EQ(f.responses[0].partitions[0].high_watermark, 1) << "the acks=0 batch was written";
}

TEST_F(BrokerApiTest, ListOffsetsAndDeleteRecords) {
  for (int i = 0; i < 5; ++i) ProduceOk("lo", Batch(10, 1000 * (i + 1)));
  auto list = [&](int64_t ts) {
    protocol::ListOffsetsRequest req;
    req.replica_id = -1;
    auto& t = req.topics.emplace_back();
    t.name = "lo";
    t.partitions.push_back({0, -1, ts, 1});
    auto r = Call<protocol::ListOffsetsRequest, protocol::ListOffsetsResponse>(req, 7);
    return r.topics[0].partitions[0];
  };
  EXPECT_EQ(list(-2).offset, 0);
  EXPECT_EQ(list(-1).offset, 50);
  EXPECT_EQ(list(3005).offset, 25) << "first record at or after the timestamp";
  EXPECT_EQ(list(3005).timestamp, 3005);
  EXPECT_EQ(list(-3).offset, 49) << "max timestamp (KIP-734)";
  EXPECT_EQ(list(999999).offset, -1);
  protocol::DeleteRecordsRequest del;
  auto& t = del.topics.emplace_back();
  t.name = "lo";
  t.partitions.push_back({0, 30});
  auto d = Call<protocol::DeleteRecordsRequest, protocol::DeleteRecordsResponse>(del, 1);
  EXPECT_EQ(d.topics[0].partitions[0].low_watermark, 30);
  EXPECT_EQ(list(-2).offset, 30);
  auto below = Call<protocol::FetchRequest, protocol::FetchResponse>(Fetch("lo", 10, 0, 1), 11);
  EXPECT_EQ(below.responses[0].partitions[0].error_code, Code(ErrorCode::kOffsetOutOfRange));
  EXPECT_EQ(below.responses[0].partitions[0].log_start_offset, 30);
  del.topics[0].partitions[0].offset = 999;
  d = Call<protocol::DeleteRecordsRequest, protocol::DeleteRecordsResponse>(del, 1);
  EXPECT_EQ(d.topics[0].partitions[0].error_code, Code(ErrorCode::kOffsetOutOfRange));
}

TEST_F(BrokerApiTest, AdminApis) {
  protocol::CreateTopicsRequest create;
  auto& ct = create.topics.emplace_back();
  ct.name = "admin";
  ct.num_partitions = 2;
  ct.replication_factor = 1;
  ct.configs.push_back({"retention.ms", std::string("123456")});
  auto& bad = create.topics.emplace_back();
  bad.name = "badcfg";
  bad.num_partitions = 1;
  bad.replication_factor = 1;
  bad.configs.push_back({"cleanup.policy", std::string("shred")});
  auto& rf = create.topics.emplace_back();
  rf.name = "rf3";
  rf.num_partitions = 1;
  rf.replication_factor = 3;
  auto cr = Call<protocol::CreateTopicsRequest, protocol::CreateTopicsResponse>(create, 5);
  EXPECT_EQ(cr.topics[0].error_code, 0);
  EXPECT_EQ(cr.topics[0].num_partitions, 2);
  EXPECT_EQ(cr.topics[1].error_code, Code(ErrorCode::kInvalidConfig));
  EXPECT_EQ(cr.topics[2].error_code, Code(ErrorCode::kInvalidReplicationFactor));
  cr = Call<protocol::CreateTopicsRequest, protocol::CreateTopicsResponse>(create, 5);
  EXPECT_EQ(cr.topics[0].error_code, Code(ErrorCode::kTopicAlreadyExists));

  protocol::CreatePartitionsRequest grow;
  grow.topics.push_back({"admin", 4, std::nullopt});
  auto gr = Call<protocol::CreatePartitionsRequest, protocol::CreatePartitionsResponse>(grow, 1);
  EXPECT_EQ(gr.results[0].error_code, 0);
  grow.topics[0].count = 2;
  gr = Call<protocol::CreatePartitionsRequest, protocol::CreatePartitionsResponse>(grow, 1);
  EXPECT_EQ(gr.results[0].error_code, Code(ErrorCode::kInvalidPartitions));

  protocol::IncrementalAlterConfigsRequest alter;
  auto& res = alter.resources.emplace_back();
  res.resource_type = 2;
  res.resource_name = "admin";
  res.configs.push_back({"segment.bytes", 0, std::string("1048576")});
  res.configs.push_back({"retention.ms", 1, std::nullopt});
  auto ar =
      Call<protocol::IncrementalAlterConfigsRequest, protocol::IncrementalAlterConfigsResponse>(
          alter, 1);
  EXPECT_EQ(ar.responses[0].error_code, 0);

  protocol::DescribeConfigsRequest describe;
  describe.resources.push_back({2, "admin", std::nullopt});
  auto dr = Call<protocol::DescribeConfigsRequest, protocol::DescribeConfigsResponse>(describe, 1);
  std::map<std::string, std::pair<std::string, int8_t>> configs;
  for (const auto& c : dr.results[0].configs)
    configs[c.name] = {c.value.value_or(""), c.config_source};
  EXPECT_EQ(configs["segment.bytes"], std::make_pair(std::string("1048576"), int8_t{1}));
  EXPECT_EQ(configs["retention.ms"].second, 5) << "deleted override: back to the default";
  EXPECT_EQ(configs["cleanup.policy"].first, "delete");

  protocol::MetadataRequest md;
  md.topics.emplace();
  md.topics->push_back({{}, std::string("admin")});
  auto mr = Call<protocol::MetadataRequest, protocol::MetadataResponse>(md, 9);
  EXPECT_EQ(mr.topics[0].partitions.size(), 4u);

  protocol::DeleteTopicsRequest del;
  del.topic_names = {"admin", "never-was"};
  auto del_r = Call<protocol::DeleteTopicsRequest, protocol::DeleteTopicsResponse>(del, 3);
  EXPECT_EQ(del_r.responses[0].error_code, 0);
  EXPECT_EQ(del_r.responses[1].error_code, Code(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_FALSE(FileSystem::Default()->Exists(broker_.data_dir() + "/admin-0"));
}

TEST_F(BrokerApiTest, MetadataAutoCreationAndEpochs) {
  protocol::MetadataRequest md;
  md.topics.emplace();
  md.topics->push_back({{}, std::string("no-auto")});
  md.allow_auto_topic_creation = false;
  auto r = Call<protocol::MetadataRequest, protocol::MetadataResponse>(md, 4);
  EXPECT_EQ(r.topics[0].error_code, Code(ErrorCode::kUnknownTopicOrPartition));
  md.allow_auto_topic_creation = true;
  r = Call<protocol::MetadataRequest, protocol::MetadataResponse>(md, 4);
  EXPECT_EQ(r.topics[0].error_code, 0);
  EXPECT_EQ(r.controller_id, 0) << "a real controller id (kafkajs needs one)";
  ProduceOk("no-auto", Batch(3));
  protocol::OffsetForLeaderEpochRequest ofle;
  auto& t = ofle.topics.emplace_back();
  t.topic = "no-auto";
  t.partitions.push_back({0, 0, 0});
  auto e =
      Call<protocol::OffsetForLeaderEpochRequest, protocol::OffsetForLeaderEpochResponse>(ofle, 3);
  EXPECT_EQ(e.topics[0].partitions[0].leader_epoch, 0);
  EXPECT_EQ(e.topics[0].partitions[0].end_offset, 3);
}

TEST_F(BrokerApiTest, ShutdownAnswersParkedFetchesAndExitsCleanly) {
  ProduceOk("park", Batch(1));
  client_.SendRaw(protocol::EncodeRequestFrame(protocol::RequestHeader{1, 11, 9, std::string("x")},
                                               Fetch("park", 1, 60000, 1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = Clock_::now();
  EXPECT_EQ(broker_.Stop(), 0);
  EXPECT_LT(Clock_::now() - start, std::chrono::seconds(10)) << "did not wait for max_wait_ms";
  auto body = client_.ReadFrame();
  EXPECT_TRUE(body.ok()) << "the parked fetch was answered before the connection closed";
  EXPECT_TRUE(FileSystem::Default()->Exists(broker_.data_dir() + "/.kafka_cleanshutdown"));
}

}  // namespace
}  // namespace strata
