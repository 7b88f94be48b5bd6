#include "log/record_batch.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "log/batch_builder.h"
#include "tests/testing/batches.h"

namespace strata {
namespace {

using testing::MakeBatch;
using testing::Mutable;

std::string Str(std::span<const uint8_t> b) { return std::string(AsStringView(b)); }

// A record with its bytes copied out (the reader owns decompressed bytes and dies here).
struct OwnedRecord {
  Record r;
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::vector<OwnedRecord> ReadAll(const RecordBatchView& view, std::vector<std::string>* values) {
  auto reader = view.Records();
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<OwnedRecord> out;
  Record r;
  while (true) {
    auto more = reader->Next(&r);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    OwnedRecord o{r, std::nullopt, std::nullopt, {}};
    if (r.key) o.key = Str(*r.key);
    if (r.value) o.value = Str(*r.value);
    for (const auto& h : r.headers) {
      o.headers.emplace_back(Str(h.key), h.value ? std::optional<std::string>(Str(*h.value))
                                                 : std::nullopt);
    }
    o.r.key.reset();
    o.r.value.reset();
    o.r.headers.clear();
    out.push_back(std::move(o));
    values->push_back(r.value ? Str(*r.value) : "<null>");
  }
  return out;
}

// The exact bytes of a one-record batch, computed by hand from the v2 layout: pins the
// builder and the parser to the spec (docs/formats/record-batch.md shows the same example).
TEST(RecordBatchGoldenTest, OneRecordExactBytes) {
  RecordBatchBuilder b({.base_offset = Offset(5), .partition_leader_epoch = LeaderEpoch(2)});
  b.Add("k", "v", 1000);
  std::string batch = *b.Build();
  // Record: length 8 (zigzag 16 = 0x10), attributes 0, tsDelta 0, offsetDelta 0,
  // keyLen 1 (0x02) 'k', valueLen 1 (0x02) 'v', headers 0.
  const std::string record("\x10\x00\x00\x00\x02k\x02v\x00", 9);
  ASSERT_EQ(batch.size(), 61u + record.size());
  const uint8_t* p = reinterpret_cast<const uint8_t*>(batch.data());
  EXPECT_EQ(LoadBE64(p + 0), 5u);                        // baseOffset
  EXPECT_EQ(LoadBE32(p + 8), 49u + 9u);                  // batchLength
  EXPECT_EQ(LoadBE32(p + 12), 2u);                       // partitionLeaderEpoch
  EXPECT_EQ(p[16], 2);                                   // magic
  EXPECT_EQ(LoadBE16(p + 21), 0u);                       // attributes
  EXPECT_EQ(LoadBE32(p + 23), 0u);                       // lastOffsetDelta
  EXPECT_EQ(LoadBE64(p + 27), 1000u);                    // baseTimestamp
  EXPECT_EQ(LoadBE64(p + 35), 1000u);                    // maxTimestamp
  EXPECT_EQ(LoadBE64(p + 43), UINT64_MAX);               // producerId -1
  EXPECT_EQ(LoadBE16(p + 51), 0xffffu);                  // producerEpoch -1
  EXPECT_EQ(LoadBE32(p + 53), 0xffffffffu);              // baseSequence -1
  EXPECT_EQ(LoadBE32(p + 57), 1u);                       // records count
  EXPECT_EQ(batch.substr(61), record);
  EXPECT_EQ(LoadBE32(p + 17), crc32c::Value(p + 21, batch.size() - 21));
  EXPECT_EQ(LoadBE32(p + 17), 0x716A6189u) << "CRC computed independently (bitwise CRC-32C in Python)";
}

TEST(RecordBatchTest, RoundTripFieldsAndRecords) {
  RecordBatchBuilder b({.producer_id = 42, .producer_epoch = 3, .base_sequence = 7});
  b.Add("a", "1", 100, {{"h1", "x"}, {"h2", std::nullopt}});
  b.Add(std::nullopt, std::nullopt, 90);
  b.Add("c", "", 150);
  std::string bytes = *b.Build();
  auto view = RecordBatchView::Parse(AsBytes(bytes));
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->record_count(), 3);
  EXPECT_EQ(view->last_offset_delta(), 2);
  EXPECT_EQ(view->base_timestamp(), 100);
  EXPECT_EQ(view->max_timestamp(), 150);
  EXPECT_EQ(view->producer_id(), 42);
  EXPECT_EQ(view->producer_epoch(), 3);
  EXPECT_EQ(view->base_sequence(), 7);
  EXPECT_EQ(view->last_sequence(), 9);
  EXPECT_FALSE(view->is_control());
  std::vector<std::string> values;
  auto records = ReadAll(*view, &values);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(*records[0].key, "a");
  ASSERT_EQ(records[0].headers.size(), 2u);
  EXPECT_EQ(records[0].headers[0].first, "h1");
  EXPECT_EQ(*records[0].headers[0].second, "x");
  EXPECT_FALSE(records[0].headers[1].second.has_value());
  EXPECT_FALSE(records[1].key.has_value());
  EXPECT_EQ(values, (std::vector<std::string>{"1", "<null>", ""}));
  EXPECT_EQ(records[1].r.timestamp, 90) << "negative timestamp delta";
  EXPECT_EQ(records[2].r.offset, 2);
  EXPECT_TRUE(view->ValidateRecords(/*strict=*/true).ok());
}

class CodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CodecTest, CompressedBatchRoundTrip) {
  std::string bytes = MakeBatch(500, 1000, 200, GetParam());
  auto view = RecordBatchView::Parse(AsBytes(bytes));
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->compression(), GetParam());
  if (GetParam() != Compression::kNone) {
    EXPECT_LT(bytes.size(), 500u * 200u / 2) << "repetitive values compress";
  }
  std::vector<std::string> values;
  auto records = ReadAll(*view, &values);
  ASSERT_EQ(records.size(), 500u);
  EXPECT_EQ(*records[499].key, "key-499");
  EXPECT_TRUE(view->ValidateRecords(true).ok());
}

TEST_P(CodecTest, CorruptCompressedDataIsAnError) {
  if (GetParam() == Compression::kNone) GTEST_SKIP();
  std::string bytes = MakeBatch(50, 1000, 100, GetParam());
  // Damage the compressed stream, then fix the CRC so only the codec can notice.
  for (size_t i = 70; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  UpdateCrc(Mutable(bytes));
  auto view = RecordBatchView::Parse(AsBytes(bytes));
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->ValidateRecords(false).ok());
}

TEST_P(CodecTest, DecompressionIsBounded) {
  if (GetParam() == Compression::kNone) GTEST_SKIP();
  std::string big(1 << 20, 'z');
  auto packed = Compress(GetParam(), AsBytes(big));
  ASSERT_TRUE(packed.ok());
  EXPECT_TRUE(Decompress(GetParam(), AsBytes(*packed), 1 << 20).ok());
  auto limited = Decompress(GetParam(), AsBytes(*packed), 1000);
  EXPECT_FALSE(limited.ok());
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kSnappy, Compression::kLz4,
                                           Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(SnappyTest, AcceptsRawAndXerialFraming) {
  std::string data(100000, 'q');
  auto framed = Compress(Compression::kSnappy, AsBytes(data));
  ASSERT_TRUE(framed.ok());
  EXPECT_EQ(framed->substr(0, 8), std::string("\x82SNAPPY\0", 8));
  EXPECT_EQ(*Decompress(Compression::kSnappy, AsBytes(*framed), 1 << 20), data);
}

TEST(RecordBatchTest, MalformedInputsAreErrors) {
  std::string good = MakeBatch(3);
  auto parse = [](const std::string& s) { return RecordBatchView::Parse(AsBytes(s)).status(); };
  EXPECT_TRUE(parse(good).ok());
  for (size_t n : {0u, 5u, 11u, 12u, 40u, 60u}) {
    EXPECT_FALSE(parse(good.substr(0, n)).ok()) << "truncated to " << n;
  }
  EXPECT_TRUE(absl::IsOutOfRange(parse(good.substr(0, good.size() - 1))));

  std::string wrong_magic = good;
  wrong_magic[16] = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(parse(wrong_magic)));

  std::string flipped = good;
  flipped[good.size() - 3] ^= 0x10;
  EXPECT_TRUE(absl::IsDataLoss(parse(flipped))) << "CRC catches a flipped bit";

  std::string absurd = good;
  StoreBE32(reinterpret_cast<uint8_t*>(absurd.data()) + 8, 0x7fffffff);
  EXPECT_TRUE(absl::IsOutOfRange(parse(absurd)));
  StoreBE32(reinterpret_cast<uint8_t*>(absurd.data()) + 8, 10);
  EXPECT_TRUE(absl::IsInvalidArgument(parse(absurd)));

  std::string bad_codec = good;
  StoreBE16(reinterpret_cast<uint8_t*>(bad_codec.data()) + 21, 5);
  UpdateCrc(Mutable(bad_codec));
  EXPECT_TRUE(absl::IsInvalidArgument(parse(bad_codec)));

  std::string bad_bits = good;
  StoreBE16(reinterpret_cast<uint8_t*>(bad_bits.data()) + 21, 0x100);
  UpdateCrc(Mutable(bad_bits));
  EXPECT_TRUE(absl::IsInvalidArgument(parse(bad_bits)));

  std::string too_many = good;
  StoreBE32(reinterpret_cast<uint8_t*>(too_many.data()) + 57, 4);  // lastOffsetDelta is 2
  UpdateCrc(Mutable(too_many));
  EXPECT_TRUE(absl::IsInvalidArgument(parse(too_many)));
}

TEST(RecordBatchTest, CountMismatchFailsRecordValidation) {
  std::string s = MakeBatch(3);
  StoreBE32(reinterpret_cast<uint8_t*>(s.data()) + 57, 2);  // claims 2 records, holds 3
  UpdateCrc(Mutable(s));
  auto view = RecordBatchView::Parse(AsBytes(s));
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->ValidateRecords(false).ok());

  std::string gap = MakeBatch(3);
  StoreBE32(reinterpret_cast<uint8_t*>(gap.data()) + 23, 5);  // lastOffsetDelta 5 > 2
  UpdateCrc(Mutable(gap));
  auto gview = RecordBatchView::Parse(AsBytes(gap));
  ASSERT_TRUE(gview.ok());
  EXPECT_TRUE(gview->ValidateRecords(false).ok()) << "compacted batches may have gaps";
  EXPECT_FALSE(gview->ValidateRecords(true).ok()) << "producers may not";
}

TEST(RecordBatchTest, GarbageRecordsNeverCrash) {
  std::string s = MakeBatch(5);
  for (size_t i = 61; i < s.size(); ++i) {
    std::string t = s;
    t[i] = static_cast<char>(0xff);
    UpdateCrc(Mutable(t));
    auto view = RecordBatchView::Parse(AsBytes(t));
    if (!view.ok()) continue;
    (void)view->ValidateRecords(false);  // must not crash or over-read (ASan)
  }
}

TEST(RecordBatchTest, InPlaceHeaderUpdates) {
  std::string s = MakeBatch(2, 500);
  auto m = Mutable(s);
  uint32_t crc_before = LoadBE32(m.data() + 17);
  SetBaseOffset(m, Offset(1234));
  SetPartitionLeaderEpoch(m, LeaderEpoch(9));
  auto view = RecordBatchView::Parse(AsBytes(s));
  ASSERT_TRUE(view.ok()) << "base offset and epoch are outside the CRC";
  EXPECT_EQ(view->base_offset(), Offset(1234));
  EXPECT_EQ(view->last_offset(), Offset(1235));
  EXPECT_EQ(view->partition_leader_epoch(), LeaderEpoch(9));
  EXPECT_EQ(view->crc(), crc_before);
  SetLogAppendTime(m, 99999);
  view = RecordBatchView::Parse(AsBytes(s));
  ASSERT_TRUE(view.ok()) << "LogAppendTime recomputes the CRC";
  EXPECT_EQ(view->timestamp_type(), TimestampType::kLogAppendTime);
  std::vector<std::string> values;
  auto records = ReadAll(*view, &values);
  EXPECT_EQ(records[0].r.timestamp, 99999) << "every record takes the append time";
}

TEST(RecordBatchTest, ControlBatch) {
  std::string s = BuildControlBatch(ControlType::kCommit, 77, 1, 5, 1000);
  auto view = RecordBatchView::Parse(AsBytes(s));
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->is_control());
  EXPECT_TRUE(view->is_transactional());
  std::vector<std::string> values;
  auto records = ReadAll(*view, &values);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(ParseControlKey(AsBytes(*records[0].key)), ControlType::kCommit);
  EXPECT_EQ(records[0].value->size(), 6u);
}

}  // namespace
}  // namespace strata
