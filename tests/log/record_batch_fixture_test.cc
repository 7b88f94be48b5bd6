// Decodes a batch captured from librdkafka (tests/fixtures/README.md says how it was made).
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/file.h"
#include "log/record_batch.h"

#ifndef STRATA_FIXTURE_DIR
#error "STRATA_FIXTURE_DIR must be defined"
#endif

namespace strata {
namespace {

TEST(RecordBatchFixtureTest, LibrdkafkaZstdBatch) {
  auto bytes = ReadFileToString(FileSystem::Default(),
                                std::string(STRATA_FIXTURE_DIR) + "/librdkafka-zstd.batch");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto view = RecordBatchView::Parse(AsBytes(*bytes));
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->size_bytes(), bytes->size());
  EXPECT_EQ(view->compression(), Compression::kZstd);
  EXPECT_EQ(view->record_count(), 200);
  EXPECT_EQ(view->last_offset_delta(), 199);
  EXPECT_EQ(view->producer_id(), -1);
  EXPECT_EQ(view->base_offset(), Offset(0));
  EXPECT_EQ(view->crc(), 0x01B7BF28u);
  EXPECT_EQ(view->max_timestamp(), view->base_timestamp()) << "librdkafka stamps once per batch";
  ASSERT_TRUE(view->ValidateRecords(/*strict=*/true).ok());
  auto reader = view->Records();
  ASSERT_TRUE(reader.ok());
  Record r;
  int i = 0;
  while (*reader->Next(&r)) {
    EXPECT_EQ(AsStringView(*r.key), absl::StrCat("key-", i));
    EXPECT_EQ(AsStringView(*r.value), absl::StrCat("value-", i, "-", std::string(50, 'v')));
    EXPECT_EQ(r.offset, i);
    EXPECT_TRUE(r.headers.empty());
    ++i;
  }
  EXPECT_EQ(i, 200);
}

}  // namespace
}  // namespace strata
