// Decoding fetched record bytes: offsets below the fetch position, partial trailing batches,
// control batches, CRC checks, compression, headers and null fields.
#include "client/records.h"

#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "log/batch_builder.h"
#include "log/batch_format.h"

namespace strata::client {
namespace {

// A batch of `count` records at `base`, values "v<offset>", keys "k<offset>".
std::string Batch(int64_t base, int count, Compression codec = Compression::kNone) {
  RecordBatchBuilder b({.compression = codec, .base_offset = Offset(base)});
  for (int i = 0; i < count; ++i) {
    std::string n = std::to_string(base + i);
    b.Add("k" + n, "v" + n, 1'700'000'000'000 + base + i);
  }
  auto built = b.Build();
  EXPECT_TRUE(built.ok()) << built.status();
  return *built;
}

std::span<const uint8_t> Bytes(const std::string& s) { return AsBytes(s); }

TEST(DecodeFetchedRecordsTest, DecodesEveryRecordOfWholeBatches) {
  std::string data = Batch(0, 3) + Batch(3, 2, Compression::kZstd) + Batch(5, 4, Compression::kLz4);
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 2, Bytes(data), 0, {}, &out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->next_offset, 9);
  EXPECT_EQ(r->batches, 3u);
  EXPECT_EQ(r->records, 9u);
  EXPECT_FALSE(r->partial_tail);
  ASSERT_EQ(out.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(out[i].topic, "t");
    EXPECT_EQ(out[i].partition, 2);
    EXPECT_EQ(out[i].offset, i);
    EXPECT_EQ(out[i].key, "k" + std::to_string(i));
    EXPECT_EQ(out[i].value, "v" + std::to_string(i));
    EXPECT_EQ(out[i].timestamp, 1'700'000'000'000 + i);
  }
}

TEST(DecodeFetchedRecordsTest, SkipsRecordsBelowTheFetchOffset) {
  std::string data = Batch(10, 5) + Batch(15, 5);
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(data), 13, {}, &out);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out.front().offset, 13);
  EXPECT_EQ(out.back().offset, 19);
  EXPECT_EQ(r->next_offset, 20);
  out.clear();
  r = DecodeFetchedRecords("t", 0, Bytes(data), 15, {}, &out);  // first batch wholly below
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(out.front().offset, 15);
}

TEST(DecodeFetchedRecordsTest, DropsATrailingPartialBatch) {
  std::string first = Batch(0, 4);
  std::string second = Batch(4, 4);
  for (size_t cut : {size_t{1}, size_t{30}, second.size() - 1}) {
    std::string data = first + second.substr(0, cut);
    std::vector<ConsumerRecord> out;
    auto r = DecodeFetchedRecords("t", 0, Bytes(data), 0, {}, &out);
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.status();
    EXPECT_TRUE(r->partial_tail) << cut;
    EXPECT_EQ(r->batches, 1u);
    EXPECT_EQ(out.size(), 4u);
    EXPECT_EQ(r->next_offset, 4) << "the partial batch is fetched again";
  }
}

TEST(DecodeFetchedRecordsTest, OnlyAPartialBatchMakesNoProgress) {
  std::string b = Batch(7, 3);
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(b).subspan(0, b.size() / 2), 7, {}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->partial_tail);
  EXPECT_EQ(r->next_offset, 7);
  EXPECT_TRUE(out.empty());
}

TEST(DecodeFetchedRecordsTest, EmptyInput) {
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, {}, 42, {}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->next_offset, 42);
  EXPECT_FALSE(r->partial_tail);
}

TEST(DecodeFetchedRecordsTest, SkipsControlBatchesButMovesPastThem) {
  std::string marker = BuildControlBatch(ControlType::kCommit, 1000, 0, 0, 1'700'000'000'000);
  SetBaseOffset(std::span<uint8_t>(reinterpret_cast<uint8_t*>(marker.data()), marker.size()),
                Offset(3));
  std::string data = Batch(0, 3) + marker + Batch(4, 2);
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(data), 0, {}, &out);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[3].offset, 4);
  EXPECT_EQ(r->next_offset, 6);
  out.clear();
  r = DecodeFetchedRecords("t", 0, Bytes(Batch(0, 3) + marker), 0, {}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->next_offset, 4) << "a trailing marker is passed, not fetched forever";
}

TEST(DecodeFetchedRecordsTest, ChecksCrcsUnlessTold) {
  std::string data = Batch(0, 3);
  data[batch_format::kRecordsOffset + 5] ^= 0x10;
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(data), 0, {}, &out);
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("t-0"), std::string::npos) << r.status();
  // The flipped bit is in a record's value bytes: without the check the batch still decodes.
  std::string unchecked = Batch(0, 3);
  unchecked[unchecked.size() - 2] ^= 0x01;  // the last value's last byte (then: 0 headers)
  r = DecodeFetchedRecords("t", 0, Bytes(unchecked), 0, {.check_crcs = false}, &out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].value, "v3");  // "v2" with its last bit flipped
}

TEST(DecodeFetchedRecordsTest, RefusesOldMagic) {
  std::string data = Batch(0, 1);
  data[batch_format::kMagicOffset] = 1;
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(data), 0, {}, &out);
  EXPECT_TRUE(absl::IsUnimplemented(r.status())) << r.status();
}

TEST(DecodeFetchedRecordsTest, MaxRecordsStopsAtTheFirstRecordNotTaken) {
  std::string data = Batch(0, 5) + Batch(5, 5);
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(data), 0, {.max_records = 7}, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(out.size(), 7u);
  EXPECT_EQ(r->next_offset, 7);
}

TEST(DecodeFetchedRecordsTest, NullKeysTombstonesAndHeaders) {
  RecordBatchBuilder b({.compression = Compression::kGzip, .base_offset = Offset(100)});
  b.Add(std::nullopt, "value", 5, {{"h1", std::string("x")}, {"h2", std::nullopt}});
  b.Add("key", std::nullopt, 6);
  auto built = b.Build();
  ASSERT_TRUE(built.ok());
  std::vector<ConsumerRecord> out;
  auto r = DecodeFetchedRecords("t", 0, Bytes(*built), 100, {}, &out);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].key.has_value());
  EXPECT_EQ(out[0].value, "value");
  ASSERT_EQ(out[0].headers.size(), 2u);
  EXPECT_EQ(out[0].headers[0], (RecordHeaderField{"h1", "x"}));
  EXPECT_EQ(out[0].headers[1], (RecordHeaderField{"h2", std::nullopt}));
  EXPECT_EQ(out[1].key, "key");
  EXPECT_FALSE(out[1].value.has_value());
}

}  // namespace
}  // namespace strata::client
