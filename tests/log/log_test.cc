#include "log/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/fault_fs.h"
#include "tests/testing/batches.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::MakeBatch;
using testing::Mutable;
using testing::ReadAllRecords;

class LogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> Open(LogOpenOptions options = {}) {
    auto log = Log::Open(FileSystem::Default(), dir_.Sub("topic-0"), config_, &clock_, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  AppendInfo Append(Log& log, int count, int first = 0, size_t value_bytes = 16,
                    LeaderEpoch epoch = LeaderEpoch(0)) {
    std::string batch = MakeBatch(count, clock_.NowMs(), value_bytes, Compression::kNone, first);
    auto info = log.Append(Mutable(batch), {.leader_epoch = epoch});
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : AppendInfo{};
  }
  std::vector<std::string> Keys(const Log& log) {
    auto records = ReadAllRecords(log);
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<std::string> keys;
    for (const auto& r : *records) keys.push_back(r.key);
    return keys;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(LogTest, AssignsOffsetsAndReadsBack) {
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), Offset(0));
  AppendInfo a = Append(*log, 3);
  EXPECT_EQ(a.first_offset, Offset(0));
  EXPECT_EQ(a.last_offset, Offset(2));
  EXPECT_EQ(a.record_count, 3);
  AppendInfo b = Append(*log, 2, 3);
  EXPECT_EQ(b.first_offset, Offset(3));
  EXPECT_EQ(log->log_end_offset(), Offset(5));
  EXPECT_EQ(log->high_watermark(), Offset(5));
  EXPECT_EQ(Keys(*log), (std::vector<std::string>{"key-0", "key-1", "key-2", "key-3", "key-4"}));
  // Reading from the middle of a batch starts at that batch.
  auto r = log->Read(Offset(1), 1 << 20, log->high_watermark());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->slice.position, 0u);
  auto at_end = log->Read(Offset(5), 1 << 20, log->high_watermark());
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->slice.length, 0u);
  EXPECT_TRUE(absl::IsOutOfRange(log->Read(Offset(6), 100, Offset(6)).status()));
}

TEST_F(LogTest, ReadsEndOnBatchBoundariesAndHonourLimits) {
  config_.index_interval_bytes = 256;
  auto log = Open();
  std::vector<uint64_t> sizes;
  for (int i = 0; i < 40; ++i) {
    std::string batch = MakeBatch(2, 1000, 100, Compression::kNone, 2 * i);
    sizes.push_back(batch.size());
    ASSERT_TRUE(log->Append(Mutable(batch), {}).ok());
  }
  // The expected read: the longest run of whole batches within max (at least one).
  auto expect_from = [&](size_t first, uint64_t max, size_t end_batch) {
    uint64_t total = 0;
    for (size_t i = first; i < end_batch; ++i) {
      if (total + sizes[i] > max && i > first) break;
      total += sizes[i];
      if (total > max) break;
    }
    return total;
  };
  uint64_t batch = sizes[0];
  for (uint64_t max : {batch - 1, batch, batch + 1, 3 * batch + 7, 10 * batch, 100 * batch}) {
    auto r = log->Read(Offset(0), max, log->high_watermark());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->slice.length, expect_from(0, max, 40)) << "max=" << max;
    auto mid = log->Read(Offset(13), max, log->high_watermark());
    EXPECT_EQ(mid->slice.length, expect_from(6, max, 40)) << "max=" << max;
  }
  auto strict = log->Read(Offset(0), batch - 1, log->high_watermark(), /*min_one_batch=*/false);
  EXPECT_EQ(strict->slice.length, 0u);
  // The max offset (high watermark) bounds reads at a batch boundary.
  auto bounded = log->Read(Offset(10), 1 << 20, Offset(20));
  EXPECT_EQ(bounded->slice.length, expect_from(5, 1 << 20, 10));
  auto below = log->Read(Offset(20), 1 << 20, Offset(20));
  EXPECT_EQ(below->slice.length, 0u);
}

TEST_F(LogTest, RollsBySizeAndTimeAndKeepsOffsets) {
  config_.segment_bytes = 2000;
  auto log = Open();
  for (int i = 0; i < 30; ++i) Append(*log, 2, 2 * i, 100);
  auto segments = log->segments();
  EXPECT_GE(segments->size(), 5u);
  for (size_t i = 1; i < segments->size(); ++i) {
    EXPECT_EQ((*segments)[i]->base_offset(), (*segments)[i - 1]->next_offset());
    EXPECT_LE((*segments)[i - 1]->size_bytes(), 2000u);
  }
  EXPECT_EQ(Keys(*log).size(), 60u);
  size_t before = log->segments()->size();
  config_.segment_bytes = 1 << 30;
  config_.segment_ms = 1000;
  log->UpdateConfig(config_);
  Append(*log, 1, 60);
  clock_.AdvanceMs(2000);
  Append(*log, 1, 61);
  EXPECT_EQ(log->segments()->size(), before + 1) << "segment.ms rolled";
}

TEST_F(LogTest, ReopenAfterCleanCloseKeepsEverything) {
  config_.segment_bytes = 3000;
  {
    auto log = Open();
    for (int i = 0; i < 20; ++i) Append(*log, 3, 3 * i, 50, LeaderEpoch(i / 10));
    ASSERT_TRUE(log->Close().ok());
    std::string late = MakeBatch(1);
    EXPECT_FALSE(log->Append(Mutable(late), {}).ok()) << "closed";
  }
  auto log = Open({.recovery_point = Offset(60), .clean_shutdown = true});
  EXPECT_EQ(log->log_end_offset(), Offset(60));
  EXPECT_EQ(log->recovery_point(), Offset(60));
  EXPECT_EQ(Keys(*log).size(), 60u);
  EXPECT_EQ(log->leader_epochs().Entries(),
            (std::vector<EpochEntry>{{LeaderEpoch(0), Offset(0)}, {LeaderEpoch(1), Offset(30)}}));
  AppendInfo next = Append(*log, 1, 60);
  EXPECT_EQ(next.first_offset, Offset(60));
  EXPECT_TRUE(log->problems().empty());
}

TEST_F(LogTest, RetentionByBytesAndTime) {
  config_.segment_bytes = 1500;
  config_.retention_bytes = 4000;
  auto log = Open();
  for (int i = 0; i < 30; ++i) Append(*log, 2, 2 * i, 100);
  uint64_t before = log->size_bytes();
  auto deleted = log->ApplyRetention();
  ASSERT_TRUE(deleted.ok());
  EXPECT_GT(*deleted, 0);
  EXPECT_LT(log->size_bytes(), before);
  EXPECT_GE(log->size_bytes() + (*log->segments())[0]->size_bytes(), 4000u);
  Offset start = log->log_start_offset();
  EXPECT_EQ(start, (*log->segments())[0]->base_offset());
  EXPECT_TRUE(absl::IsOutOfRange(log->Read(Offset(0), 100, log->high_watermark()).status()));
  EXPECT_EQ(Keys(*log).front(), absl::StrCat("key-", start.value()));
  auto names = FileSystem::Default()->ListDir(dir_.Sub("topic-0"));
  ASSERT_TRUE(names.ok());
  for (const auto& name : *names) {
    EXPECT_EQ(name.find(".deleted"), std::string::npos);
  }
  // Time: every closed segment is older than retention.ms after the clock moves.
  config_.retention_bytes = -1;
  config_.retention_ms = 60'000;
  log->UpdateConfig(config_);
  clock_.AdvanceMs(61'000);
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_EQ(log->segments()->size(), 1u) << "only the active segment remains";
}

TEST_F(LogTest, DeleteRecordsMovesLogStart) {
  config_.segment_bytes = 1000;
  auto log = Open();
  for (int i = 0; i < 20; ++i) Append(*log, 2, 2 * i, 100);
  EXPECT_TRUE(absl::IsOutOfRange(log->DeleteRecordsBefore(Offset(41)).status()));
  auto start = log->DeleteRecordsBefore(Offset(15));
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(*start, Offset(15));
  EXPECT_EQ(log->log_start_offset(), Offset(15));
  EXPECT_LE((*log->segments())[0]->base_offset(), Offset(15));
  auto keys = Keys(*log);
  EXPECT_EQ(keys.front(), "key-15");
  EXPECT_EQ(*log->DeleteRecordsBefore(Offset(3)), Offset(15)) << "never moves back";
}

TEST_F(LogTest, TruncateToForFollowers) {
  config_.segment_bytes = 1000;
  auto log = Open();
  for (int i = 0; i < 20; ++i) Append(*log, 2, 2 * i, 100, LeaderEpoch(i < 10 ? 1 : 2));
  auto end = log->TruncateTo(Offset(13));
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, Offset(12)) << "cut at the start of the batch holding 13";
  EXPECT_EQ(log->log_end_offset(), Offset(12));
  EXPECT_EQ(Keys(*log).size(), 12u);
  EXPECT_EQ(log->leader_epochs().Latest()->epoch, LeaderEpoch(1));
  AppendInfo next = Append(*log, 1, 100);
  EXPECT_EQ(next.first_offset, Offset(12));
  // Follower appends keep the leader's offsets.
  std::string batch = MakeBatch(2);
  SetBaseOffset(Mutable(batch), Offset(13));
  auto f = log->Append(Mutable(batch), {.assign_offsets = false});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->first_offset, Offset(13));
  SetBaseOffset(Mutable(batch), Offset(5));
  EXPECT_FALSE(log->Append(Mutable(batch), {.assign_offsets = false}).ok()) << "below log end";
  ASSERT_TRUE(log->TruncateFullyAndStartAt(Offset(500)).ok());
  EXPECT_EQ(log->log_start_offset(), Offset(500));
  EXPECT_EQ(Append(*log, 1).first_offset, Offset(500));
}

TEST_F(LogTest, FindByTimestampAndMax) {
  config_.segment_bytes = 800;
  config_.index_interval_bytes = 100;
  auto log = Open();
  for (int i = 0; i < 30; ++i) {
    RecordBatchBuilder b;
    b.Add("k", "v", 1000 + 10 * i);
    b.Add("k", "v", 1000 + 10 * i + 5);
    std::string batch = *b.Build();
    ASSERT_TRUE(log->Append(Mutable(batch), {}).ok());
  }
  auto found = log->FindOffsetByTimestamp(1103);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->first, 1105);
  EXPECT_EQ((*found)->second, Offset(21));
  EXPECT_EQ((*log->FindOffsetByTimestamp(0))->second, Offset(0));
  EXPECT_FALSE(log->FindOffsetByTimestamp(99999)->has_value());
  auto max = log->FindMaxTimestamp();
  EXPECT_EQ((*max)->first, 1295);
  EXPECT_EQ((*max)->second, Offset(59));
}

TEST_F(LogTest, LogAppendTimeStampsBatches) {
  config_.timestamp_type = TimestampType::kLogAppendTime;
  auto log = Open();
  clock_.SetNowMs(5'000'000);
  AppendInfo info = Append(*log, 3);
  EXPECT_EQ(info.log_append_time, 5'000'000);
  auto records = ReadAllRecords(*log);
  for (const auto& r : *records) EXPECT_EQ(r.timestamp, 5'000'000);
}

TEST_F(LogTest, RejectsMalformedAppendWithoutWritingAnything) {
  auto log = Open();
  std::string good = MakeBatch(2);
  std::string two = good + good.substr(0, 30);  // second batch truncated
  EXPECT_FALSE(log->Append(Mutable(two), {}).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(0));
  std::string empty;
  EXPECT_FALSE(log->Append(Mutable(empty), {}).ok());
}

TEST_F(LogTest, FlushDueAfterFlushMessagesAndGroupCommit) {
  config_.flush_messages = 5;
  auto log = Open();
  EXPECT_FALSE(Append(*log, 3).flush_due);
  EXPECT_TRUE(Append(*log, 3).flush_due);
  ASSERT_TRUE(log->Flush(Offset(6)).ok());
  EXPECT_EQ(log->recovery_point(), Offset(6));
  EXPECT_FALSE(Append(*log, 1).flush_due) << "counter reset by the flush";
  // Many threads appending and flushing: every flush returns with its offset durable.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        std::string batch = MakeBatch(1);
        auto info = log->Append(Mutable(batch), {});
        if (!info.ok() || !log->Flush(info->last_offset + 1).ok() ||
            log->recovery_point() <= info->last_offset) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->log_end_offset(), Offset(207));
}

TEST_F(LogTest, ReadersRunConcurrentlyWithAppendsAndRolls) {
  config_.segment_bytes = 4096;
  auto log = Open();
  std::atomic<bool> done{false};
  std::atomic<int64_t> errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto records = ReadAllRecords(*log);
      if (!records.ok()) {
        ++errors;
        continue;
      }
      for (size_t i = 0; i < records->size(); ++i) {
        if ((*records)[i].offset != static_cast<int64_t>(i) ||
            (*records)[i].key != absl::StrCat("key-", i)) {
          ++errors;
          break;
        }
      }
    }
  });
  for (int i = 0; i < 500; ++i) Append(*log, 2, 2 * i, 64);
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Keys(*log).size(), 1000u);
}

TEST_F(LogTest, ParseDirName) {
  EXPECT_EQ(Log::ParseDirName("orders-12"), std::make_pair(std::string("orders"), 12));
  EXPECT_EQ(Log::ParseDirName("my-topic-0"), std::make_pair(std::string("my-topic"), 0));
  EXPECT_FALSE(Log::ParseDirName("orders").has_value());
  EXPECT_FALSE(Log::ParseDirName("orders-x").has_value());
}

}  // namespace
}  // namespace strata

// Regression tests for problems found in review (2026-11-23).
namespace strata {
namespace {

using testing::MakeBatch;
using testing::Mutable;

class LogReviewTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> Open(FileSystem* fs = FileSystem::Default()) {
    auto log = Log::Open(fs, dir_.Sub("t-0"), config_, &clock_, {});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(LogReviewTest, FollowerGapAfterRollKeepsEarlierSegments) {
  config_.segment_bytes = 600;
  auto log = Open();
  for (int i = 0; i < 10; ++i) {
    std::string b = MakeBatch(2, 1000, 100, Compression::kNone, 2 * i);
    SetBaseOffset(Mutable(b), Offset(2 * i));
    ASSERT_TRUE(log->Append(Mutable(b), {.assign_offsets = false}).ok());
  }
  ASSERT_TRUE(log->Roll().ok());
  size_t before = log->segments()->size();
  std::string b = MakeBatch(2);
  SetBaseOffset(Mutable(b), Offset(50));
  auto info = log->Append(Mutable(b), {.assign_offsets = false});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->first_offset, Offset(50));
  EXPECT_EQ(log->log_start_offset(), Offset(0)) << "earlier data stays";
  EXPECT_EQ(log->segments()->size(), before);
  EXPECT_EQ(log->segments()->back()->base_offset(), Offset(50));
  auto records = testing::ReadAllRecords(*log);
  ASSERT_EQ(records->size(), 22u);
  EXPECT_EQ((*records)[19].offset, 19);
  EXPECT_EQ((*records)[20].offset, 50);
  // And it survives an unclean reopen: the gap is not mistaken for lost pages.
  log.reset();
  auto reopened = Open();
  EXPECT_EQ(reopened->log_end_offset(), Offset(52));
  EXPECT_EQ(testing::ReadAllRecords(*reopened)->size(), 22u);
}

TEST_F(LogReviewTest, ReadersSurviveTruncationRaces) {
  auto log = Open();
  for (int i = 0; i < 50; ++i) {
    std::string b = MakeBatch(3, 1000, 50, Compression::kNone, 3 * i);
    ASSERT_TRUE(log->Append(Mutable(b), {}).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  auto reader = [&] {
    while (!done.load()) {
      Offset end = log->log_end_offset();
      for (Offset o = end - 12; o < end; o += 1) {
        if (o < Offset(0)) continue;
        auto r = log->Read(o, 1000, log->high_watermark());
        if (!r.ok() && !absl::IsOutOfRange(r.status())) ++errors;
      }
    }
  };
  std::thread r1(reader), r2(reader);
  for (int round = 0; round < 300; ++round) {
    Offset end = log->log_end_offset();
    ASSERT_TRUE(log->TruncateTo(end - 6).ok());
    for (int k = 0; k < 3; ++k) {
      std::string b = MakeBatch(1 + k, 1000, 50 + round % 7);
      ASSERT_TRUE(log->Append(Mutable(b), {}).ok());
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_TRUE(testing::ReadAllRecords(*log).ok());
}

TEST_F(LogReviewTest, FlushPastTheEndReturns) {
  auto log = Open();
  std::string b = MakeBatch(2);
  ASSERT_TRUE(log->Append(Mutable(b), {}).ok());
  EXPECT_TRUE(log->Flush(Offset(1000)).ok()) << "must not spin forever";
  EXPECT_EQ(log->recovery_point(), Offset(2));
}

TEST_F(LogReviewTest, FailedEpochCheckpointAppendsNothing) {
  FaultInjectionFileSystem fs(FileSystem::Default());
  auto log = Open(&fs);
  std::string b = MakeBatch(2);
  ASSERT_TRUE(log->Append(Mutable(b), {.leader_epoch = LeaderEpoch(0)}).ok());
  fs.AddRule({.op = FsOp::kWrite, .path_contains = "leader-epoch", .error = ENOSPC});
  std::string c = MakeBatch(2);
  EXPECT_FALSE(log->Append(Mutable(c), {.leader_epoch = LeaderEpoch(1)}).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(2)) << "nothing appended";
  std::string d = MakeBatch(2, 1000, 16, Compression::kNone, 2);
  auto info = log->Append(Mutable(d), {.leader_epoch = LeaderEpoch(1)});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->first_offset, Offset(2));
  log.reset();
  auto reopened = Open();
  auto records = testing::ReadAllRecords(*reopened);
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ((*records)[3].key, "key-3");
}

}  // namespace
}  // namespace strata
