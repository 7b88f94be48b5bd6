// Decodes the frames captured from librdkafka and checked in under tests/fixtures/protocol/
// (README there says how they were made), so the codec stays pinned to bytes a real client and
// broker exchanged even where the live capture test (label interop) is not run.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/file.h"
#include "log/record_batch.h"
#include "protocol/api.h"
#include "protocol/consumer_protocol_assignment.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/fetch.h"
#include "protocol/init_producer_id.h"
#include "protocol/join_group.h"
#include "protocol/produce.h"
#include "protocol/sync_group.h"
#include "tests/protocol/capture_check.h"

#ifndef STRATA_FIXTURE_DIR
#error "STRATA_FIXTURE_DIR must be defined"
#endif

namespace strata::protocol::test {
namespace {

class CaptureFixtureTest : public ::testing::Test {
 protected:
  // Loads librdkafka-<scenario>.exchanges, checks every frame and indexes them by api.
  void Load(const std::string& scenario) {
    auto file = ReadFileToString(
        FileSystem::Default(),
        absl::StrCat(STRATA_FIXTURE_DIR, "/protocol/librdkafka-", scenario, ".exchanges"));
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
    for (const Exchange& e : CheckExchangeFile(AsBytes(file_))) {
      ExpectTruncationsFail(e);
      exchanges_[static_cast<ApiKey>(e.header.api_key)] = e;
      labels_.insert(ApiLabel(e.header.api_key, e.header.api_version));
    }
  }

  template <typename M>
  M DecodeBody(std::span<const uint8_t> frame, bool is_request) {
    const Exchange& e = exchanges_.at(static_cast<ApiKey>(M::kApiKey));
    Reader r(frame);
    if (is_request) {
      EXPECT_TRUE(RequestHeader::Decode(r).ok());
    } else {
      EXPECT_TRUE(DecodeResponseHeader(r, ResponseHeaderVersion(M::kApiKey,
                                                                e.header.api_version)).ok());
    }
    M m;
    absl::Status s = m.Decode(r, e.header.api_version);
    EXPECT_TRUE(s.ok()) << s;
    return m;
  }
  template <typename M>
  M Request() {
    return DecodeBody<M>(exchanges_.at(static_cast<ApiKey>(M::kApiKey)).request, true);
  }
  template <typename M>
  M Response() {
    return DecodeBody<M>(exchanges_.at(static_cast<ApiKey>(M::kApiKey)).response, false);
  }

  std::string file_;
  std::map<ApiKey, Exchange> exchanges_;
  std::set<std::string> labels_;
};

// Keys of every record in `records` (concatenated batches, CRC-checked).
std::vector<std::string> RecordKeys(std::span<const uint8_t> records, int64_t* producer_id) {
  std::vector<std::string> keys;
  while (!records.empty()) {
    auto batch = RecordBatchView::Parse(records);
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) break;
    *producer_id = batch->producer_id();
    auto reader = batch->Records();
    Record r;
    while (reader.ok() && *reader->Next(&r)) keys.emplace_back(AsStringView(*r.key));
    records = records.subspan(batch->size_bytes());
  }
  return keys;
}

std::vector<std::string> ExpectedKeys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(absl::StrCat("key-", i));
  return keys;
}

TEST_F(CaptureFixtureTest, IdempotentProducer) {
  ASSERT_NO_FATAL_FAILURE(Load("producer"));
  EXPECT_EQ(labels_, (std::set<std::string>{"ApiVersions v3", "ApiVersions v0", "Metadata v2",
                                            "InitProducerId v4", "Produce v7"}));
  auto pid = Response<InitProducerIdResponse>();
  EXPECT_GE(pid.producer_id, 0);
  auto produce = Request<ProduceRequest>();
  EXPECT_EQ(produce.acks, -1) << "idempotence implies acks=all";
  ASSERT_EQ(produce.topic_data.size(), 1u);
  EXPECT_EQ(produce.topic_data[0].name, "capture-idempotent");
  int64_t producer_id = -1;
  EXPECT_EQ(RecordKeys(produce.topic_data[0].partition_data.at(0).records.bytes, &producer_id),
            ExpectedKeys());
  EXPECT_EQ(producer_id, pid.producer_id);
}

TEST_F(CaptureFixtureTest, ConsumerGroup) {
  ASSERT_NO_FATAL_FAILURE(Load("consumer"));
  for (const char* api : {"FindCoordinator v2", "JoinGroup v5", "SyncGroup v3", "Heartbeat v3",
                          "OffsetFetch v5", "OffsetCommit v7", "Fetch v11", "ListOffsets v2",
                          "LeaveGroup v1"}) {
    EXPECT_TRUE(labels_.count(api)) << api;
  }
  // The opaque group protocol bytes follow the ConsumerProtocol schemas: int16 version + body.
  auto join = Request<JoinGroupRequest>();
  EXPECT_EQ(join.protocol_type, "consumer");
  ASSERT_FALSE(join.protocols.empty());
  Reader sub_reader(AsBytes(join.protocols[0].metadata));
  int16_t sub_version = *sub_reader.Read<int16_t>();
  ConsumerProtocolSubscription subscription;
  ASSERT_TRUE(subscription.Decode(sub_reader, sub_version).ok());
  EXPECT_EQ(subscription.topics, std::vector<std::string>{"capture-group"});

  auto sync = Response<SyncGroupResponse>();
  Reader assignment_reader(AsBytes(sync.assignment));
  int16_t assignment_version = *assignment_reader.Read<int16_t>();
  ConsumerProtocolAssignment assignment;
  ASSERT_TRUE(assignment.Decode(assignment_reader, assignment_version).ok());
  ASSERT_EQ(assignment.assigned_partitions.size(), 1u);
  EXPECT_EQ(assignment.assigned_partitions[0].topic, "capture-group");

  // The topic has 4 partitions (the mock's default); the records went to partition 0.
  auto fetch = Response<FetchResponse>();
  ASSERT_EQ(fetch.responses.size(), 1u);
  std::vector<std::string> keys;
  for (const auto& p : fetch.responses[0].partitions) {
    int64_t producer_id = 0;
    std::vector<std::string> k = RecordKeys(p.records.bytes, &producer_id);
    if (!k.empty()) {
      EXPECT_EQ(p.partition_index, 0);
    }
    keys.insert(keys.end(), k.begin(), k.end());
  }
  EXPECT_EQ(keys, ExpectedKeys());
}

}  // namespace
}  // namespace strata::protocol::test
