#include "common/bytes.h"

#include <gtest/gtest.h>

#include "common/varint.h"

namespace strata {
namespace {

TEST(BytesTest, BigEndianRoundTrip) {
  std::string out;
  ByteWriter w(&out);
  w.WriteInt8(-2);
  w.WriteInt16(0x1234);
  w.WriteInt32(-559038737);  // 0xDEADBEEF
  w.WriteInt64(0x0102030405060708);
  ASSERT_EQ(out.size(), 15u);
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x12);
  EXPECT_EQ(static_cast<uint8_t>(out[3]), 0xDE);
  EXPECT_EQ(static_cast<uint8_t>(out[14]), 0x08);

  ByteReader r(AsBytes(out));
  EXPECT_EQ(*r.ReadInt8(), -2);
  EXPECT_EQ(*r.ReadInt16(), 0x1234);
  EXPECT_EQ(*r.ReadInt32(), -559038737);
  EXPECT_EQ(*r.ReadInt64(), 0x0102030405060708);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.ReadInt8().ok());
}

TEST(BytesTest, ReaderNeverOverreads) {
  const uint8_t data[3] = {1, 2, 3};
  ByteReader r({data, 3});
  EXPECT_FALSE(r.ReadInt32().ok());
  EXPECT_EQ(r.position(), 0u) << "a failed read must not consume";
  EXPECT_FALSE(r.ReadBytes(4).ok());
  EXPECT_TRUE(r.ReadBytes(3).ok());
  EXPECT_FALSE(r.Skip(1).ok());
}

// Values and encodings from the Kafka protocol guide / Protobuf zigzag definition.
TEST(VarintTest, ZigZagKnownValues) {
  EXPECT_EQ(ZigZagEncode32(0), 0u);
  EXPECT_EQ(ZigZagEncode32(-1), 1u);
  EXPECT_EQ(ZigZagEncode32(1), 2u);
  EXPECT_EQ(ZigZagEncode32(-2), 3u);
  EXPECT_EQ(ZigZagEncode32(2147483647), 4294967294u);
  EXPECT_EQ(ZigZagEncode32(-2147483648), 4294967295u);
  EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(INT64_MIN)), INT64_MIN);
  EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(INT64_MAX)), INT64_MAX);
}

TEST(VarintTest, EncodingBytes) {
  std::string out;
  ByteWriter w(&out);
  w.WriteVarint(300);  // zigzag 600 = 0b1001011000 -> d8 04
  EXPECT_EQ(out, std::string("\xd8\x04", 2));
  out.clear();
  w.WriteVarint(-1);
  EXPECT_EQ(out, std::string("\x01", 1));
  out.clear();
  w.WriteUnsignedVarint(300);  // ac 02
  EXPECT_EQ(out, std::string("\xac\x02", 2));
}

TEST(VarintTest, RoundTripManyValues) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{63}, int64_t{-64}, int64_t{64},
                    int64_t{1} << 35, -(int64_t{1} << 40), INT64_MAX, INT64_MIN}) {
    std::string out;
    ByteWriter(&out).WriteVarlong(v);
    EXPECT_EQ(out.size(), VarintSize64(v));
    ByteReader r(AsBytes(out));
    EXPECT_EQ(*r.ReadVarlong(), v);
  }
}

TEST(VarintTest, RejectsTruncatedAndOverlong) {
  const uint8_t truncated[] = {0x80, 0x80};
  ByteReader r1({truncated, 2});
  EXPECT_FALSE(r1.ReadVarint().ok());
  const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};  // 6 bytes for a 32-bit varint
  ByteReader r2({overlong, 6});
  EXPECT_FALSE(r2.ReadVarint().ok());
  const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0x7f};  // > UINT32_MAX
  ByteReader r3({too_big, 5});
  EXPECT_FALSE(r3.ReadUnsignedVarint().ok());
}

}  // namespace
}  // namespace strata
