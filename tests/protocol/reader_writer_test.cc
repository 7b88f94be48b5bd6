// Reader and Writer primitives, frames and splices, and malformed input: every length and count
// from the wire is checked before it is trusted.
#include <gtest/gtest.h>

#include <limits>

#include "common/bytes.h"
#include "protocol/fetch.h"
#include "protocol/frame.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "tests/protocol/hex.h"

namespace strata::protocol::test {
namespace {

TEST(WriterTest, FixedWidthAndVarints) {
  std::string out;
  Writer w(&out);
  w.Write(int8_t{-1});
  w.Write(int16_t{0x1234});
  w.Write(int32_t{-2});
  w.Write(int64_t{1});
  w.Write(uint16_t{0xbeef});
  w.Write(true);
  w.Write(1.5);
  w.WriteUnsignedVarint(300);
  w.WriteVarint(-1);
  EXPECT_EQ(out, Hex("ff | 1234 | fffffffe | 0000000000000001 | beef | 01 |"
                     "3ff8000000000000 | ac02 | 01"));
  Reader r(AsBytes(out));
  EXPECT_EQ(*r.Read<int8_t>(), -1);
  EXPECT_EQ(*r.Read<int16_t>(), 0x1234);
  EXPECT_EQ(*r.Read<int32_t>(), -2);
  EXPECT_EQ(*r.Read<int64_t>(), 1);
  EXPECT_EQ(*r.Read<uint16_t>(), 0xbeef);
  EXPECT_TRUE(*r.Read<bool>());
  EXPECT_EQ(*r.Read<double>(), 1.5);
  uint32_t u;
  ASSERT_TRUE(r.ReadUnsignedVarint(&u).ok());
  EXPECT_EQ(u, 300u);
  int32_t v;
  ASSERT_TRUE(r.ReadVarint(&v).ok());
  EXPECT_EQ(v, -1);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(absl::IsInvalidArgument(r.Read<int8_t>().status()));
}

TEST(WriterTest, StringsClassicAndCompact) {
  std::string out;
  Writer w(&out);
  w.WriteString(false, "ab");
  w.WriteNullableString(false, std::nullopt);
  w.WriteString(true, "ab");
  w.WriteNullableString(true, std::nullopt);
  w.WriteBytes(false, "x");
  w.WriteNullableBytes(true, std::nullopt);
  EXPECT_EQ(out, Hex("0002 6162 | ffff | 03 6162 | 00 | 00000001 78 | 00"));
  Reader r(AsBytes(out));
  std::string s;
  std::optional<std::string> o;
  ASSERT_TRUE(r.ReadString(false, &s).ok());
  EXPECT_EQ(s, "ab");
  EXPECT_TRUE(r.ReadNullableString(false, true, &o).ok());
  EXPECT_FALSE(o.has_value());
  ASSERT_TRUE(r.ReadString(true, &s).ok());
  EXPECT_EQ(s, "ab");
  // A null where the field is not nullable is an error.
  EXPECT_TRUE(absl::IsInvalidArgument(r.ReadNullableString(true, false, &o)));
}

TEST(ReaderTest, RecordsAreViewsIntoTheFrame) {
  const std::string frame = Hex("00000003 | 616263 | 00000000 | ffffffff");
  Reader r(AsBytes(frame));
  Records records;
  ASSERT_TRUE(r.ReadRecords(false, true, &records).ok());
  EXPECT_EQ(records.bytes.data(), reinterpret_cast<const uint8_t*>(frame.data()) + 4);
  EXPECT_EQ(AsStringView(records.bytes), "abc");
  ASSERT_TRUE(r.ReadRecords(false, true, &records).ok());
  EXPECT_TRUE(records.bytes.empty());
  EXPECT_FALSE(records.is_null);
  ASSERT_TRUE(r.ReadRecords(false, true, &records).ok());
  EXPECT_TRUE(records.is_null);
}

TEST(ReaderTest, AbsurdLengthsAndCountsFailBeforeAllocating) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      {"int32 array count 2^31-1", Hex("7fffffff 00")},
      {"array count -2", Hex("fffffffe")},
      {"compact array count 2^32-2", Hex("ffffffff0f 00")},
      {"string length 32767 with 1 byte", Hex("7fff 61")},
      {"string length -2", Hex("fffe")},
      {"bytes length 2^31-1", Hex("7fffffff 61")},
      {"unsigned varint longer than 5 bytes", Hex("ffffffffff01")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Reader r(AsBytes(c.bytes));
    std::vector<std::string> topics;
    absl::Status s;
    if (absl::string_view(c.what).find("string") == 0) {
      std::string out;
      s = r.ReadString(false, &out);
    } else if (absl::string_view(c.what).find("bytes") == 0) {
      std::string out;
      s = r.ReadBytes(false, &out);
    } else {
      bool compact = absl::string_view(c.what).find("compact") == 0 ||
                     absl::string_view(c.what).find("unsigned") == 0;
      s = r.ReadArray(compact, &topics, [](Reader& er, std::string& e) {
        return er.ReadString(false, &e);
      });
    }
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_LT(topics.capacity(), 1024u);
  }
}

TEST(ReaderTest, AbsurdCountsInsideMessages) {
  // Produce v3: null transactional id, acks, timeout, then 2^31-1 topics in 4 bytes.
  const std::string body = Hex("ffff | 0001 | 00001388 | 7fffffff | 00000000");
  ProduceRequest req;
  Reader r(AsBytes(body));
  EXPECT_TRUE(absl::IsInvalidArgument(req.Decode(r, 3)));
  // Metadata v9 (flexible): a compact array claiming 2^32-2 topics.
  MetadataRequest meta;
  const std::string flexible = Hex("ffffffff0f | 00 00 00 00");
  Reader r2(AsBytes(flexible));
  EXPECT_TRUE(absl::IsInvalidArgument(meta.Decode(r2, 9)));
}

TEST(ReaderTest, UnsupportedVersionsAreUnimplemented) {
  ProduceRequest req;
  const std::string zeros(64, '\0');
  Reader r(AsBytes(zeros));
  EXPECT_TRUE(absl::IsUnimplemented(req.Decode(r, 12)));
  EXPECT_TRUE(absl::IsUnimplemented(req.Decode(r, -1)));
  EXPECT_EQ(r.position(), 0u);
}

// A Fetch v11 response whose one partition's records are a 1000-byte splice.
FetchResponse SplicedFetchResponse(int32_t splice_id) {
  FetchResponse resp;
  auto& topic = resp.responses.emplace_back();
  topic.topic = "t";
  auto& p = topic.partitions.emplace_back();
  p.records = Records{.spliced_length = 1000, .splice_id = splice_id};
  return resp;
}

TEST(WriterTest, SplicedRecordsLeaveAHoleAndCountInTheFrameSize) {
  std::string out = "prefix";  // offsets count from the string's start
  Writer w(&out);
  AppendResponseFrame(w, /*correlation_id=*/5, /*api_version=*/11, SplicedFetchResponse(3));
  const size_t frame_end_first = out.size();
  AppendResponseFrame(w, /*correlation_id=*/6, /*api_version=*/11, SplicedFetchResponse(4));
  ASSERT_EQ(w.splices().size(), 2u);
  const Splice& first = w.splices()[0];
  EXPECT_EQ(first.splice_id, 3);
  EXPECT_EQ(first.length, 1000u);
  // The records field is the last thing in a v11 response: the hole ends the first frame, and
  // its int32 length prefix sits right before it.
  EXPECT_EQ(first.offset, frame_end_first);
  EXPECT_EQ(LoadBE32(reinterpret_cast<const uint8_t*>(out.data()) + first.offset - 4), 1000u);
  // Frame size = bytes written after the size field + spliced bytes.
  EXPECT_EQ(LoadBE32(reinterpret_cast<const uint8_t*>(out.data()) + 6),
            frame_end_first - 6 - 4 + 1000);
  EXPECT_EQ(LoadBE32(reinterpret_cast<const uint8_t*>(out.data()) + frame_end_first),
            out.size() - frame_end_first - 4 + 1000);

  // Filling the hole gives a frame the decoder accepts, with the spliced bytes as records.
  std::string wire = out.substr(6, frame_end_first - 6) + std::string(1000, 'r');
  Reader r(AsBytes(wire).subspan(4));
  ASSERT_TRUE(DecodeResponseHeader(r, 0).ok());
  FetchResponse decoded;
  ASSERT_TRUE(decoded.Decode(r, 11).ok());
  EXPECT_EQ(AsStringView(decoded.responses[0].partitions[0].records.bytes),
            std::string(1000, 'r'));
}

TEST(FrameTest, SplitFramesKeepsTheIncompleteTail) {
  const std::string stream = Hex("00000002 abcd | 00000000 | 00000005 01");
  size_t consumed = 0;
  auto frames = SplitFrames(AsBytes(stream), 100, &consumed);
  ASSERT_TRUE(frames.ok());
  ASSERT_EQ(frames->size(), 2u);
  EXPECT_EQ(AsStringView((*frames)[0]), Hex("abcd"));
  EXPECT_TRUE((*frames)[1].empty());
  EXPECT_EQ(consumed, 10u);
  EXPECT_FALSE(SplitFrames(AsBytes(Hex("ffffffff")), 100, &consumed).ok());
  EXPECT_FALSE(SplitFrames(AsBytes(Hex("00000065")), 100, &consumed).ok());
}

TEST(ReaderTest, TaggedSectionsAreBoundsChecked) {
  const std::string short_tag = Hex("01 | 05 10 | 0000");  // a tag claiming 16 bytes, 2 present
  Reader r(AsBytes(short_tag));
  EXPECT_TRUE(absl::IsInvalidArgument(r.SkipTaggedFields()));
  const std::string many_tags = Hex("ffffffff0f");  // 2^32-1 tags, no bytes
  Reader many(AsBytes(many_tags));
  EXPECT_TRUE(absl::IsInvalidArgument(many.SkipTaggedFields()));
}

}  // namespace
}  // namespace strata::protocol::test
