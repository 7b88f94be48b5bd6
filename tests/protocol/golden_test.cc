// Golden bytes computed by hand from the Kafka protocol spec
// (/work/shared/kafka-protocol/README.md's encoding table): each message encodes to exactly
// these bytes and decodes back from them. These pin the codec to the spec independently of the
// generator, whose round-trip tests alone could not catch a symmetric mistake.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "protocol/api_versions.h"
#include "protocol/frame.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "tests/protocol/hex.h"

namespace strata::protocol::test {
namespace {

template <typename M>
std::string Encode(const M& m, int16_t version) {
  std::string out;
  Writer w(&out);
  m.Encode(w, version);
  return out;
}

template <typename M>
M Decode(const std::string& bytes, int16_t version) {
  M m;
  Reader r(AsBytes(bytes));
  absl::Status s = m.Decode(r, version);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(r.remaining(), 0u);
  return m;
}

template <typename M>
void ExpectGolden(const M& m, int16_t version, const std::string& golden) {
  EXPECT_EQ(Encode(m, version), golden) << M::kName << " v" << version;
  EXPECT_TRUE(Decode<M>(golden, version) == m) << M::kName << " v" << version;
}

TEST(GoldenTest, ApiVersionsV0RequestFrame) {
  RequestHeader h{.api_key = 18, .api_version = 0, .correlation_id = 1, .client_id = "c"};
  // size 11 | api key 18 | version 0 | correlation id 1 | client id "c" (int16 length) | no body
  EXPECT_EQ(EncodeRequestFrame(h, ApiVersionsRequest{}),
            Hex("0000000b | 0012 | 0000 | 00000001 | 0001 63"));
}

TEST(GoldenTest, ApiVersionsV0Response) {
  ApiVersionsResponse m;
  m.api_keys = {{.api_key = 0, .min_version = 0, .max_version = 7},
                {.api_key = 18, .min_version = 0, .max_version = 3}};
  // error 0 | int32 count 2 | (0, 0, 7) | (18, 0, 3)
  const std::string body = Hex("0000 | 00000002 | 0000 0000 0007 | 0012 0000 0003");
  ExpectGolden(m, 0, body);
  // Response header v0: size 22, correlation id 1.
  EXPECT_EQ(EncodeResponseFrame(1, 0, m), Hex("00000016 | 00000001") + body);
}

TEST(GoldenTest, ApiVersionsV3ResponseWithTaggedFields) {
  ApiVersionsResponse m;
  m.api_keys = {{.api_key = 18, .min_version = 0, .max_version = 4}};
  m.finalized_features_epoch = 5;  // tag 1
  m.zk_migration_ready = true;     // tag 3
  const std::string body = Hex(
      "0000 | 02 | 0012 0000 0004 00 | 00000000 |"  // error, compact count 1+1, entry + tags, throttle
      "02 | 01 08 0000000000000005 | 03 01 01");    // 2 tags: (1, size 8, epoch), (3, size 1, true)
  ExpectGolden(m, 3, body);
  // ApiVersions keeps response header v0 even when flexible: no tagged byte after the id.
  EXPECT_EQ(EncodeResponseFrame(7, 3, m), Hex("00000020 | 00000007") + body);
}

TEST(GoldenTest, MetadataV0RequestAndNullTopics) {
  MetadataRequest m;
  m.topics.emplace();
  m.topics->push_back({.name = "a"});
  m.topics->push_back({.name = "bc"});
  ExpectGolden(m, 0, Hex("00000002 | 0001 61 | 0002 6263"));

  MetadataRequest all;  // null topics = every topic (v1+); allow_auto_topic_creation (v4+)
  all.topics.reset();
  ExpectGolden(all, 4, Hex("ffffffff | 01"));
  // v0 cannot express null: the codec writes an empty array rather than failing.
  EXPECT_EQ(Encode(all, 0), Hex("00000000"));
}

TEST(GoldenTest, ProduceV10ResponseWithTaggedStructs) {
  ProduceResponse m;
  auto& partition = m.responses.emplace_back(ProduceResponse::TopicProduceResponse{.name = "t"})
                        .partition_responses.emplace_back();
  partition.error_code = 6;  // NOT_LEADER_OR_FOLLOWER
  partition.base_offset = -1;
  partition.current_leader = {.leader_id = 2, .leader_epoch = 7};  // tag 0 of the partition
  m.node_endpoints.push_back({.node_id = 2, .host = "h", .port = 9092});  // tag 0 of the body
  const std::string body = Hex(
      "02 | 02 74 | 02 |"                       // 1 topic, name "t", 1 partition
      "00000000 | 0006 | ffffffffffffffff |"    // index 0, error 6, base offset -1
      "ffffffffffffffff | ffffffffffffffff |"   // log append time -1, log start offset -1
      "01 | 00 |"                               // no record errors, null error message
      "01 00 09 00000002 00000007 00 |"         // 1 tag: 0, size 9, leader 2, epoch 7, no tags
      "00 |"                                    // topic: no tags
      "00000000 |"                              // throttle time 0
      "01 00 0d | 02 00000002 02 68 00002384 00 00");  // tag 0, size 13: 1 endpoint, rack null
  ExpectGolden(m, 10, body);
  // In v9 neither tagged field exists: their sections are empty.
  EXPECT_EQ(Encode(m, 9), Hex("02 | 02 74 | 02 | 00000000 | 0006 | ffffffffffffffff |"
                              "ffffffffffffffff | ffffffffffffffff | 01 | 00 | 00 | 00 |"
                              "00000000 | 00"));
}

TEST(GoldenTest, FlexibleRequestHeaderKeepsInt16ClientId) {
  // InitProducerId v4 is flexible: header v2 = v1 + an empty tagged section.
  RequestHeader h{.api_key = 22, .api_version = 4, .correlation_id = 2, .client_id = "rdk"};
  std::string out;
  Writer w(&out);
  EncodeRequestHeader(w, h);
  EXPECT_EQ(out, Hex("0016 | 0004 | 00000002 | 0003 72646b | 00"));
  Reader r(AsBytes(out));
  auto decoded = RequestHeader::Decode(r);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, h);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(GoldenTest, UnknownTagsAreSkippedAndNotPreserved) {
  // ApiVersions v3 response body with an unknown tag 9 (3 bytes) and the known tag 3.
  const std::string body = Hex("0000 | 01 | 00000000 | 02 | 03 01 01 | 09 03 aabbcc");
  ApiVersionsResponse m = Decode<ApiVersionsResponse>(body, 3);
  EXPECT_TRUE(m.zk_migration_ready);
  EXPECT_EQ(Encode(m, 3), Hex("0000 | 01 | 00000000 | 01 | 03 01 01"));
}

TEST(GoldenTest, TaggedFieldSizeMustMatchItsValue) {
  // Tag 1 (an int64) declared with 9 bytes: one byte would be left over.
  const std::string body = Hex("0000 | 01 | 00000000 | 01 | 01 09 000000000000000500");
  ApiVersionsResponse m;
  Reader r(AsBytes(body));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Decode(r, 3)));
}

}  // namespace
}  // namespace strata::protocol::test
