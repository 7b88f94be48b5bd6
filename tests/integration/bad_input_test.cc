// Malformed and hostile input against a live broker: it must answer with the right error where
// a response is due, close only the offending connection otherwise, and keep serving.
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "log/batch_builder.h"
#include "log/record_batch.h"
#include "protocol/api_versions.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "protocol/init_producer_id.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/raw_client.h"
#include "tests/testing/rdkafka.h"

namespace strata {
namespace {

using protocol::ErrorCode;
using testing::RawClient;

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ok()) << broker_.log();
    ASSERT_EQ(testing::CreateTopic(broker_.bootstrap(), "t", 1, {{"max.message.bytes", "100000"}}),
              "");
  }
  void TearDown() override {
    // Whatever the test did, the broker still serves a normal client.
    testing::Producer p({{"bootstrap.servers", broker_.bootstrap()}});
    ASSERT_EQ(p.Send("after", nullptr, "still alive", 0), 0);
    EXPECT_EQ(p.Flush(), 0) << broker_.log();
    auto msgs = testing::Consume(broker_.bootstrap(), "after", {0}, 0, 1);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].value, "still alive");
  }
  testing::BrokerProcess broker_;
};

TEST_F(BadInputTest, GarbageBytesCloseTheConnection) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    RawClient c(broker_.port());
    std::string junk(200 + rng() % 2000, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    c.SendRaw(junk);
    EXPECT_TRUE(c.ClosedByPeer()) << "round " << round;
  }
}

TEST_F(BadInputTest, HugeLengthPrefixClosesTheConnection) {
  RawClient c(broker_.port());
  c.SendRaw(std::string("\x7f\xff\xff\xff", 4));  // a 2 GiB frame
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(BadInputTest, TruncatedFrameThenDisconnect) {
  RawClient c(broker_.port());
  protocol::RequestHeader h{3, 1, 1, std::string("x")};
  std::string frame = protocol::EncodeRequestFrame(h, protocol::MetadataRequest{});
  c.SendRaw(frame.substr(0, frame.size() / 2));
  c.Close();
  // A frame whose declared length is longer than its body: the body ends inside the header.
  RawClient d(broker_.port());
  d.SendRaw(std::string("\x00\x00\x00\x08\x00\x03", 6));
  d.Close();
}

TEST_F(BadInputTest, UnknownApiAndUnsupportedVersionClose) {
  RawClient unknown(broker_.port());
  std::string frame = protocol::EncodeRequestFrame(
      protocol::RequestHeader{3, 0, 1, std::string("x")}, protocol::MetadataRequest{});
  StoreBE16(reinterpret_cast<uint8_t*>(frame.data()) + 4, 999);  // patch the api key to 999
  unknown.SendRaw(frame);
  EXPECT_TRUE(unknown.ClosedByPeer());
  RawClient old(broker_.port());
  std::string body = protocol::EncodeRequestFrame(
      protocol::RequestHeader{3, 1, 1, std::string("x")}, protocol::MetadataRequest{});
  StoreBE16(reinterpret_cast<uint8_t*>(body.data()) + 6, 99);  // patch the version to 99
  old.SendRaw(body);
  EXPECT_TRUE(old.ClosedByPeer());
}

TEST_F(BadInputTest, UnsupportedApiVersionsVersionGetsError35) {
  RawClient c(broker_.port());
  std::string frame = protocol::EncodeRequestFrame(
      protocol::RequestHeader{18, 3, 77, std::string("x")}, protocol::ApiVersionsRequest{});
  StoreBE16(reinterpret_cast<uint8_t*>(frame.data()) + 6, 42);  // ApiVersions v42
  c.SendRaw(frame);
  auto body = c.ReadFrame();
  ASSERT_TRUE(body.ok());
  protocol::Reader r(AsBytes(*body));
  ASSERT_EQ(*protocol::DecodeResponseHeader(r, 0), 77);
  protocol::ApiVersionsResponse resp;
  ASSERT_TRUE(resp.Decode(r, 0).ok());
  EXPECT_EQ(resp.error_code, Code(ErrorCode::kUnsupportedVersion));
  ASSERT_EQ(resp.api_keys.size(), 1u);
  EXPECT_EQ(resp.api_keys[0].api_key, 18);
  EXPECT_EQ(resp.api_keys[0].max_version, 3);
}

TEST_F(BadInputTest, BadBatchesGetPerPartitionErrors) {
  RawClient c(broker_.port());
  RecordBatchBuilder b;
  b.Add("k", "v", 1);
  std::string good = *b.Build();
  std::string bad_crc = good;
  bad_crc[good.size() - 2] ^= 0x01;
  auto r1 = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, bad_crc), 7);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->responses[0].partition_responses[0].error_code, Code(ErrorCode::kCorruptMessage));
  std::string magic1 = good;
  magic1[16] = 1;
  auto r2 = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, magic1), 7);
  EXPECT_EQ(r2->responses[0].partition_responses[0].error_code,
            Code(ErrorCode::kUnsupportedForMessageFormat));
  RecordBatchBuilder big;
  big.Add("k", std::string(200000, 'x'), 1);
  auto r3 = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, *big.Build()), 7);
  EXPECT_EQ(r3->responses[0].partition_responses[0].error_code, Code(ErrorCode::kMessageTooLarge));
  auto r4 = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, good + good), 7);
  EXPECT_EQ(r4->responses[0].partition_responses[0].error_code, Code(ErrorCode::kInvalidRecord))
      << "exactly one batch per partition";
  auto r5 = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, good), 2);
  EXPECT_EQ(r5->responses[0].partition_responses[0].error_code,
            Code(ErrorCode::kUnsupportedForMessageFormat))
      << "Produce v0-2 is advertised (for librdkafka) but refused";
  auto ok = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, good), 7);
  EXPECT_EQ(ok->responses[0].partition_responses[0].error_code, 0);
  EXPECT_EQ(ok->responses[0].partition_responses[0].base_offset, 0) << "nothing bad was appended";
}

TEST_F(BadInputTest, ResentIdempotentBatchGetsOriginalOffsets) {
  RawClient c(broker_.port());
  auto init = c.Call<protocol::InitProducerIdRequest, protocol::InitProducerIdResponse>(
      protocol::InitProducerIdRequest{std::nullopt, 60000, -1, -1}, 1);
  ASSERT_TRUE(init.ok()) << init.status();
  ASSERT_EQ(init->error_code, 0);
  auto batch = [&](int32_t seq) {
    RecordBatchBuilder b({.producer_id = init->producer_id,
                          .producer_epoch = init->producer_epoch,
                          .base_sequence = seq});
    b.Add("k", absl::StrCat("v", seq), 1);
    b.Add("k", absl::StrCat("w", seq), 1);
    return *b.Build();
  };
  std::string first = batch(0), second = batch(2);
  auto a = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, first), 7);
  auto b = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, second), 7);
  std::string resend = batch(0);
  auto again = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, resend), 7);
  ASSERT_TRUE(a.ok() && b.ok() && again.ok());
  EXPECT_EQ(a->responses[0].partition_responses[0].base_offset, 0);
  EXPECT_EQ(b->responses[0].partition_responses[0].base_offset, 2);
  EXPECT_EQ(again->responses[0].partition_responses[0].error_code, 0);
  EXPECT_EQ(again->responses[0].partition_responses[0].base_offset, 0) << "the original offsets";
  std::string gap = batch(10);
  auto g = c.Call<protocol::ProduceRequest, protocol::ProduceResponse>(
      testing::OneBatchProduce("t", 0, gap), 7);
  EXPECT_EQ(g->responses[0].partition_responses[0].error_code,
            Code(ErrorCode::kOutOfOrderSequenceNumber));
  auto msgs = testing::Consume(broker_.bootstrap(), "t", {0}, 0, 4);
  EXPECT_EQ(msgs.size(), 4u);
}

TEST_F(BadInputTest, ClientsVanishingMidRequestAndMidResponse) {
  testing::Producer p({{"bootstrap.servers", broker_.bootstrap()}, {"linger.ms", "20"}});
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(p.Send("big", nullptr, std::string(2000, 'z'), 0), 0);
  ASSERT_EQ(p.Flush(), 0);
  for (int i = 0; i < 5; ++i) {
    RawClient c(broker_.port());
    protocol::FetchRequest req;
    req.max_wait_ms = 0;
    req.max_bytes = 50 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = "big";
    auto& part = t.partitions.emplace_back();
    part.partition = 0;
    part.fetch_offset = 0;
    part.partition_max_bytes = 50 << 20;
    c.SendRaw(
        protocol::EncodeRequestFrame(protocol::RequestHeader{1, 11, 1, std::string("x")}, req));
    c.Close();  // a 6 MB response is on its way
  }
  RawClient half(broker_.port());
  std::string frame = protocol::EncodeRequestFrame(
      protocol::RequestHeader{3, 1, 1, std::string("x")}, protocol::MetadataRequest{});
  half.SendRaw(frame.substr(0, 9));
  half.Close();
}

}  // namespace
}  // namespace strata
