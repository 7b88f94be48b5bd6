// __consumer_offsets records byte for byte as Kafka writes them, and Kafka's choice of the
// coordinator partition (Java's String.hashCode).
#include "server/group_records.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace strata::server {
namespace {

std::string Hex(const std::string& s) { return absl::BytesToHexString(s); }

TEST(GroupRecordsTest, KeysUseKafkasSchemas) {
  // version 1, "g" (int16 length), "t", partition 7
  EXPECT_EQ(Hex(EncodeKey(OffsetKey{"g", "t", 7})),
            "0001"
            "000167"
            "000174"
            "00000007");
  // version 2, "grp"
  EXPECT_EQ(Hex(EncodeKey(GroupKey{"grp"})),
            "0002"
            "0003677270");
  auto key = DecodeKey(EncodeKey(OffsetKey{"group", "topic", 3}));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(std::get<OffsetKey>(*key), (OffsetKey{"group", "topic", 3}));
  // Kafka 0.9's offset key v0 has the same layout.
  std::string v0 = absl::HexStringToBytes(
      "0000"
      "000167"
      "000174"
      "00000001");
  key = DecodeKey(v0);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(std::get<OffsetKey>(*key), (OffsetKey{"g", "t", 1}));
  EXPECT_FALSE(DecodeKey(absl::HexStringToBytes("0009"
                                                "000167"))
                   .ok())
      << "unknown version";
  EXPECT_FALSE(DecodeKey(absl::HexStringToBytes("0001"
                                                "0005"))
                   .ok())
      << "truncated";
}

TEST(GroupRecordsTest, OffsetValueV3AndV1) {
  OffsetValue v{42, 5, "meta", 1700000000000, -1};
  // v3: offset int64, leader epoch int32, metadata, commit timestamp int64
  EXPECT_EQ(Hex(EncodeOffsetValue(v)),
            "0003"
            "000000000000002a"
            "00000005"
            "00046d657461"
            "0000018bcfe56800");
  auto back = DecodeOffsetValue(EncodeOffsetValue(v));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
  // v1 (an explicit expire timestamp): offset, metadata, commit timestamp, expire timestamp.
  v.expire_timestamp = 1700000001000;
  v.leader_epoch = -1;
  EXPECT_EQ(Hex(EncodeOffsetValue(v)),
            "0001"
            "000000000000002a"
            "00046d657461"
            "0000018bcfe56800"
            "0000018bcfe56be8");
  back = DecodeOffsetValue(EncodeOffsetValue(v));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
}

TEST(GroupRecordsTest, GroupValueRoundTrips) {
  GroupValue g{"consumer",
               3,
               "range",
               "m-1",
               1234,
               {{"m-1", "static-1", "client", "/127.0.0.1", 30000, 10000, "sub", "assign"},
                {"m-2", std::nullopt, "client", "/127.0.0.1", 30000, 10000, "", ""}}};
  std::string bytes = EncodeGroupValue(g);
  EXPECT_EQ(Hex(bytes.substr(0, 2)), "0003");
  auto back = DecodeGroupValue(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, g);
  // An empty group: no protocol, no leader.
  GroupValue empty{"consumer", 4, std::nullopt, std::nullopt, 99, {}};
  back = DecodeGroupValue(EncodeGroupValue(empty));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, empty);
  EXPECT_FALSE(DecodeGroupValue(bytes.substr(0, bytes.size() - 3)).ok()) << "truncated";
}

TEST(GroupRecordsTest, CoordinatorPartitionMatchesKafka) {
  EXPECT_EQ(JavaStringHashCode("hello"), 99162322);
  EXPECT_EQ(JavaStringHashCode("my-group"), -1906497762);
  EXPECT_EQ(JavaStringHashCode("gr\xc3\xbc\xc3\x9f"
                               "e"),
            98768023);                                         // "grüße"
  EXPECT_EQ(JavaStringHashCode("\xf0\x9f\x98\x80"), 1772899);  // U+1F600, a surrogate pair
  EXPECT_EQ(JavaStringHashCode("polygenelubricants"), INT32_MIN);
  EXPECT_EQ(CoordinatorPartition("hello", 50), 22);
  EXPECT_EQ(CoordinatorPartition("my-group", 50), 12);
  EXPECT_EQ(CoordinatorPartition("polygenelubricants", 50), 0) << "abs(MIN_VALUE) is 0 in Kafka";
}

}  // namespace
}  // namespace strata::server
