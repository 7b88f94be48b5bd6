// The compaction core: offset map, cleanable range, passes, tombstone horizons, batch fields,
// and a seeded property test. Crash safety of the swap is in cleaner_crash_test.cc.
#include "log/cleaner.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "log/batch_builder.h"
#include "log/offset_map.h"
#include "tests/log/cleaner_testing.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::KeyedRecord;
using testing::ReadKeyed;

TEST(OffsetMapTest, PutGetReplaceAndFull) {
  OffsetMap map(1000 * OffsetMap::kSlotBytes, 0.5);
  map.Reset(Offset(100), 1'000'000);  // the hint exceeds the budget: all 1000 slots
  EXPECT_EQ(map.slots(), 1000u);
  EXPECT_EQ(map.capacity(), 500u);
  EXPECT_TRUE(map.Put(AsBytes("a"), Offset(100)));
  EXPECT_TRUE(map.Put(AsBytes("a"), Offset(105)));
  EXPECT_EQ(map.Get(AsBytes("a")), Offset(105));
  EXPECT_EQ(map.Get(AsBytes("b")), std::nullopt);
  EXPECT_EQ(map.size(), 1u);
  for (int i = 0; i < 499; ++i)
    ASSERT_TRUE(map.Put(AsBytes(absl::StrCat("k", i)), Offset(200 + i)));
  EXPECT_FALSE(map.Put(AsBytes("new"), Offset(900))) << "full";
  EXPECT_TRUE(map.Put(AsBytes("k7"), Offset(901))) << "an existing key still updates";
  for (int i = 0; i < 499; ++i) {
    ASSERT_EQ(map.Get(AsBytes(absl::StrCat("k", i))), Offset(i == 7 ? 901 : 200 + i));
  }
  map.Reset(Offset(0), 10);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.slots(), 1000u) << "at least 1024 slots wanted, capped by the budget";
  EXPECT_EQ(map.Get(AsBytes("a")), std::nullopt);
}

TEST(OffsetMapTest, BytesPerKeyAtTheDefaultLoadFactor) {
  OffsetMap map(20 << 20, 0.9);
  map.Reset(Offset(0));
  uint64_t n = 0;
  while (map.Put(AsBytes(absl::StrCat("key-", n)), Offset(static_cast<int64_t>(n)))) ++n;
  EXPECT_EQ(n, map.capacity());
  double per_key = static_cast<double>(map.memory_bytes()) / static_cast<double>(n);
  EXPECT_LE(per_key, 22.3);
  EXPECT_GT(per_key, 20.0);
  // Of the whole budget, counting what growth in place could not use.
  double per_budget_key = (20 << 20) / static_cast<double>(n);
  EXPECT_LE(per_budget_key, 24.0);
  for (uint64_t i = 0; i < n; i += 997) {
    ASSERT_EQ(map.Get(AsBytes(absl::StrCat("key-", i))), Offset(static_cast<int64_t>(i)));
  }
}

// docs/formats/compaction.md: the worked example of a batch with a delete horizon.
TEST(DeleteHorizonTest, DeleteHorizonGoldenBytes) {
  RecordBatchBuilder b({.delete_horizon_ms = 1'700'000'001'000});
  b.Add("a", std::nullopt, 1'700'000'000'000);
  std::string batch = *b.Build();
  auto hex = [&](size_t pos, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      absl::StrAppend(&out, absl::Hex(static_cast<uint8_t>(batch[pos + i]), absl::kZeroPad2));
    }
    return out;
  };
  EXPECT_EQ(hex(21, 2), "0040");
  EXPECT_EQ(hex(27, 8), "0000018bcfe56be8");
  EXPECT_EQ(hex(35, 8), "0000018bcfe56800");
  EXPECT_EQ(hex(61, 9), "1000cf0f0002610100");
  auto view = RecordBatchView::Parse(AsBytes(batch));
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->has_delete_horizon());
  auto reader = view->Records();
  Record r;
  ASSERT_TRUE(*reader->Next(&r));
  EXPECT_EQ(r.timestamp, 1'700'000'000'000) << "record timestamps are unchanged";
  EXPECT_FALSE(r.value.has_value());
}

class CleanerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.segment_bytes = 2048;
    config_.cleanup_compact = true;
    config_.cleanup_delete = false;
    config_.delete_retention_ms = 1000;
    Reopen();
  }
  void Reopen() {
    log_.reset();
    auto log = Log::Open(FileSystem::Default(), dir_.Sub("t-0"), config_, &clock_, {});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }
  // Appends one batch of (key, value) pairs (nullopt value = tombstone); returns its offsets.
  std::vector<int64_t> Put(
      const std::vector<std::pair<std::string, std::optional<std::string>>>& kvs,
      BatchOptions options = {}) {
    RecordBatchBuilder b(options);
    for (const auto& [k, v] : kvs) {
      if (v.has_value()) {
        b.Add(k, *v, clock_.NowMs());
      } else {
        b.Add(k, std::nullopt, clock_.NowMs());
      }
    }
    std::string bytes = *b.Build();
    auto info = log_->Append({reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()}, {});
    EXPECT_TRUE(info.ok()) << info.status();
    std::vector<int64_t> offsets;
    for (int64_t o = info->first_offset.value(); o <= info->last_offset.value(); ++o) {
      offsets.push_back(o);
    }
    return offsets;
  }
  CleanStats CleanAll(CleanerOptions options = {}) {
    EXPECT_TRUE(log_->Roll().ok());
    auto range = CleanableRangeOf(*log_, Offset(0), clock_.NowMs());
    EXPECT_TRUE(range.ok());
    Cleaner cleaner(&clock_, options);
    auto stats = cleaner.Clean(*log_, *range);
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : CleanStats{};
  }

  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
  std::unique_ptr<Log> log_;
};

TEST_F(CleanerTest, KeepsTheLatestValueOfEveryKeyAtItsOffset) {
  std::map<std::string, std::pair<int64_t, std::string>> latest;
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 10; ++k) {
      std::string key = absl::StrCat("key-", k), value = absl::StrCat("v", round, "-", k);
      latest[key] = {Put({{key, value}})[0], value};
    }
  }
  uint64_t size_before = log_->size_bytes();
  CleanStats stats = CleanAll();
  EXPECT_GE(stats.segments_before, 2);
  EXPECT_EQ(stats.records_kept, 10);
  EXPECT_EQ(stats.keys, 10u);
  EXPECT_LT(log_->size_bytes(), size_before);
  // Groups are sized by what the segments held before cleaning (as Kafka does): the next clean
  // merges the now small segments into one.
  CleanStats again_stats = CleanAll();
  EXPECT_EQ(again_stats.segments_before, stats.segments_after);
  EXPECT_EQ(again_stats.segments_after, 1);
  auto records = ReadKeyed(*log_);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 10u);
  int64_t prev = -1;
  for (const KeyedRecord& r : *records) {
    EXPECT_GT(r.offset, prev);
    prev = r.offset;
    EXPECT_EQ(latest[r.key].first, r.offset);
    EXPECT_EQ(latest[r.key].second, r.value.value_or("<null>"));
  }
  EXPECT_EQ(log_->log_end_offset(), Offset(200)) << "the log end never moves";
  Reopen();  // what was swapped in survives a restart
  auto again = ReadKeyed(*log_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size(), 10u);
  EXPECT_EQ(log_->log_end_offset(), Offset(200));
}

TEST_F(CleanerTest, TombstonesStayUntilTheirHorizonThenGo) {
  Put({{"a", "1"}, {"b", "1"}});
  Put({{"a", std::nullopt}});
  CleanAll();
  auto records = ReadKeyed(*log_);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].key, "b");
  EXPECT_EQ((*records)[1].key, "a");
  EXPECT_FALSE((*records)[1].value.has_value()) << "the tombstone is kept";
  EXPECT_EQ((*records)[1].delete_horizon, clock_.NowMs() + 1000);
  EXPECT_EQ((*records)[1].timestamp, (*records)[0].timestamp) << "timestamps survive";

  clock_.AdvanceMs(500);
  Put({{"c", "1"}});
  CleanAll();
  EXPECT_EQ(ReadKeyed(*log_)->size(), 3u) << "before the horizon";
  clock_.AdvanceMs(600);
  Put({{"d", "1"}});
  CleanStats stats = CleanAll();
  EXPECT_EQ(stats.tombstones_dropped, 1);
  records = ReadKeyed(*log_);
  ASSERT_TRUE(records.ok());
  for (const auto& r : *records) EXPECT_NE(r.key, "a");
  EXPECT_EQ(records->size(), 3u);
}

TEST_F(CleanerTest, DueTombstonesGoWithoutNewWrites) {
  Put({{"a", "1"}, {"b", "1"}});
  Put({{"a", std::nullopt}});
  CleanStats first = CleanAll();
  EXPECT_EQ(first.next_horizon_ms, clock_.NowMs() + 1000);
  clock_.AdvanceMs(1000);
  auto range = CleanableRangeOf(*log_, first.next_dirty, clock_.NowMs());
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->dirty_bytes, 0u) << "nothing was written since";
  Cleaner cleaner(&clock_, {});
  auto idle = cleaner.Clean(*log_, *range);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->nothing_to_do) << "not told about the horizon";
  range->tombstones_due = true;
  auto due = cleaner.Clean(*log_, *range);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(due->tombstones_dropped, 1);
  EXPECT_EQ(due->next_horizon_ms, INT64_MAX);
  EXPECT_EQ(due->next_dirty, first.next_dirty);
  auto records = ReadKeyed(*log_);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, "b");
}

TEST_F(CleanerTest, RewrittenBatchesKeepTheirFieldsAndCodec) {
  for (Compression codec :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    BatchOptions o{.compression = codec,
                   .producer_id = 42,
                   .producer_epoch = 3,
                   .base_sequence = (static_cast<int32_t>(codec) - 1) * 3};
    Put({{"x", "old"}, {absl::StrCat("keep-", static_cast<int>(codec)), "v"}, {"y", "old"}}, o);
  }
  Put({{"x", "new"}, {"y", "new"}}, {.producer_id = 42, .producer_epoch = 3, .base_sequence = 12});
  CleanAll();
  auto batches = testing::ReadBatches(*log_);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 5u);
  for (int i = 0; i < 4; ++i) {
    const auto& b = (*batches)[i];
    EXPECT_EQ(b.base_offset, 3 * i) << "base offset kept";
    EXPECT_EQ(b.last_offset, 3 * i + 2) << "lastOffsetDelta kept";
    EXPECT_EQ(b.record_count, 1);
    EXPECT_EQ(b.compression, static_cast<Compression>(i + 1)) << "re-compressed with its codec";
    EXPECT_EQ(b.producer_id, 42);
    EXPECT_EQ(b.producer_epoch, 3);
    EXPECT_EQ(b.base_sequence, i * 3);
  }
  EXPECT_EQ((*batches)[4].record_count, 2) << "the producer's latest batch is kept whole";
}

TEST_F(CleanerTest, SeveralPassesWhenTheMapIsSmall) {
  std::map<std::string, std::string> latest;
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 600; k += 3) {
      std::vector<std::pair<std::string, std::optional<std::string>>> kvs;
      for (int j = k; j < k + 3; ++j) {
        std::string key = absl::StrCat("k", j), value = absl::StrCat("r", round);
        kvs.push_back({key, value});
        latest[key] = value;
      }
      Put(kvs);
    }
  }
  // 1024 slots at 0.5: about 512 keys per pass, fewer than the 600 keys of the dirty section.
  CleanStats stats =
      CleanAll({.dedupe_buffer_bytes = 1024 * OffsetMap::kSlotBytes, .dedupe_load_factor = 0.5});
  EXPECT_GE(stats.passes, 2);
  EXPECT_EQ(stats.next_dirty, log_->segments()->back()->base_offset());
  auto records = ReadKeyed(*log_);
  ASSERT_TRUE(records.ok());
  std::map<std::string, std::string> seen;
  for (const auto& r : *records) seen[r.key] = *r.value;
  EXPECT_EQ(seen, latest);
  EXPECT_LT(records->size(), 1200u) << "most superseded records are gone";
}

TEST_F(CleanerTest, TheMinimumLagAndTheActiveSegmentAreNotCleaned) {
  config_.min_compaction_lag_ms = 10'000;
  log_->UpdateConfig(config_);
  for (int i = 0; i < 50; ++i) Put({{"k", absl::StrCat(i)}});
  auto range = CleanableRangeOf(*log_, Offset(0), clock_.NowMs());
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->dirty_bytes, 0u) << "every record is younger than the lag";
  clock_.AdvanceMs(20'000);
  Put({{"k", "last"}});
  range = CleanableRangeOf(*log_, Offset(0), clock_.NowMs());
  EXPECT_GT(range->dirty_bytes, 0u);
  EXPECT_LE(range->end, log_->segments()->back()->base_offset());
  EXPECT_DOUBLE_EQ(range->dirty_ratio(), 1.0);
  Cleaner cleaner(&clock_, {});
  ASSERT_TRUE(cleaner.Clean(*log_, *range).ok());
  auto records = ReadKeyed(*log_);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->back().value, "last") << "the active segment is untouched";
  range = CleanableRangeOf(*log_, cleaner.io_bytes() > 0 ? range->end : Offset(0), clock_.NowMs());
  EXPECT_DOUBLE_EQ(range->dirty_ratio(), 0.0);
}

TEST_F(CleanerTest, AReaderHoldingOldSegmentsKeepsAValidView) {
  for (int i = 0; i < 100; ++i) Put({{absl::StrCat("k", i % 5), absl::StrCat(i)}});
  auto before = log_->Read(Offset(0), 1 << 20, log_->high_watermark());
  ASSERT_TRUE(before.ok());
  auto held = log_->segments();
  CleanAll();
  auto bytes = ReadSliceBytes(before->slice);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto view = RecordBatchView::Parse(AsBytes(*bytes));
  ASSERT_TRUE(view.ok()) << "the old file is still readable: " << view.status();
  EXPECT_EQ(view->base_offset(), Offset(0));
  EXPECT_NE(log_->segments()->front(), held->front());
}

TEST_F(CleanerTest, DryRunChangesNothing) {
  for (int i = 0; i < 100; ++i) Put({{absl::StrCat("k", i % 5), absl::StrCat(i)}});
  ASSERT_TRUE(log_->Roll().ok());
  auto files = FileSystem::Default()->ListDir(log_->dir());
  uint64_t size = log_->size_bytes();
  auto range = CleanableRangeOf(*log_, Offset(0), clock_.NowMs());
  Cleaner cleaner(&clock_, {.dry_run = true});
  auto stats = cleaner.Clean(*log_, *range);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->records_kept, 5);
  EXPECT_LT(stats->bytes_after, stats->bytes_before);
  EXPECT_EQ(log_->size_bytes(), size);
  EXPECT_EQ(*FileSystem::Default()->ListDir(log_->dir()), *files);
}

TEST_F(CleanerTest, ACorruptBatchFailsTheCleanAndChangesNothing) {
  for (int i = 0; i < 40; ++i) Put({{absl::StrCat("k", i % 5), absl::StrCat(i)}});
  ASSERT_TRUE(log_->Roll().ok());
  ASSERT_TRUE(log_->FlushAll().ok());
  std::string first = log_->segments()->front()->log_path();
  {
    auto f = FileSystem::Default()->Open(first, OpenMode::kReadWrite);
    ASSERT_TRUE(f.ok());
    uint8_t junk = 0x5a;
    ASSERT_TRUE((*f)->WriteAt(70, {&junk, 1}).ok());  // inside the first batch's records
  }
  auto range = CleanableRangeOf(*log_, Offset(0), clock_.NowMs());
  Cleaner cleaner(&clock_, {});
  auto stats = cleaner.Clean(*log_, *range);
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  auto names = FileSystem::Default()->ListDir(log_->dir());
  ASSERT_TRUE(names.ok());
  for (const auto& name : *names) {
    EXPECT_FALSE(absl::StrContains(name, ".cleaned") || absl::StrContains(name, ".swap")) << name;
  }
}

// Random puts and deletes on random keys, cleaned at random moments: every clean leaves the
// latest value of every key at its original offset; deleted keys go once past their horizon.
TEST_F(CleanerTest, SeededPropertyRandomPutsDeletesAndCleans) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    testing::TempDir dir;
    log_.reset();
    config_.segment_bytes = 600 + seed * 150;
    auto opened = Log::Open(FileSystem::Default(), dir.Sub("p-0"), config_, &clock_, {});
    ASSERT_TRUE(opened.ok());
    log_ = std::move(*opened);
    std::mt19937_64 rng(seed);
    testing::ModelLog model;
    Offset first_dirty(0);
    Cleaner cleaner(&clock_, {.dedupe_buffer_bytes = (30 + rng() % 50) * OffsetMap::kSlotBytes,
                              .dedupe_load_factor = 0.9});
    for (int step = 0; step < 400; ++step) {
      clock_.AdvanceMs(static_cast<int64_t>(rng() % 40));
      std::string key = absl::StrCat("key-", rng() % 60);
      std::optional<std::string> value;
      if (rng() % 5 != 0) value = absl::StrCat("v", step, std::string(rng() % 40, 'x'));
      int64_t offset = Put({{key, value}})[0];
      model.Write(key, value, offset, clock_.NowMs());
      if (rng() % 40 == 0) {
        auto range = CleanableRangeOf(*log_, first_dirty, clock_.NowMs());
        ASSERT_TRUE(range.ok());
        auto stats = cleaner.Clean(*log_, *range);
        ASSERT_TRUE(stats.ok()) << stats.status();
        first_dirty = stats->next_dirty;
        model.Cleaned(first_dirty, clock_.NowMs(), config_.delete_retention_ms);
        ASSERT_NO_FATAL_FAILURE(model.Check(*log_));
      }
    }
    clock_.AdvanceMs(config_.delete_retention_ms + 1);
    for (int i = 0; i < 3; ++i) {                 // horizons set, then passed
      int64_t offset = Put({{"final", "x"}})[0];  // dirty data, so there is a clean to run
      model.Write("final", "x", offset, clock_.NowMs());
      ASSERT_TRUE(log_->Roll().ok());
      auto range = CleanableRangeOf(*log_, first_dirty, clock_.NowMs());
      auto stats = cleaner.Clean(*log_, *range);
      ASSERT_TRUE(stats.ok()) << stats.status();
      first_dirty = stats->next_dirty;
      model.Cleaned(first_dirty, clock_.NowMs(), config_.delete_retention_ms);
      clock_.AdvanceMs(config_.delete_retention_ms + 1);
    }
    ASSERT_NO_FATAL_FAILURE(model.Check(*log_));
    ASSERT_NO_FATAL_FAILURE(model.CheckFinal(*log_));
  }
}

}  // namespace
}  // namespace strata
