// Crash safety of compaction: the process dies (and unsynced data is lost) after each mutating
// file-system call of a clean in turn; reopening must give either the old or the cleaned log,
// never a mix that loses a key's latest value or moves the log end.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fault_fs.h"
#include "log/batch_builder.h"
#include "log/cleaner.h"
#include "tests/log/cleaner_testing.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

LogConfig Config() {
  LogConfig c;
  c.segment_bytes = 1500;
  c.segment_index_bytes = 4096;  // small preallocations keep each iteration fast
  c.cleanup_compact = true;
  c.cleanup_delete = false;
  return c;
}

// Writes the same keyed history every time; returns the model of it.
testing::ModelLog WriteHistory(Log& log, ManualClock& clock) {
  testing::ModelLog model;
  for (int i = 0; i < 120; ++i) {
    std::string key = absl::StrCat("key-", (i * 7) % 13);
    std::optional<std::string> value;
    if (i % 11 != 5) value = absl::StrCat("value-", i, std::string(i % 17, 'p'));
    RecordBatchBuilder b({.compression = i % 3 == 0 ? Compression::kLz4 : Compression::kNone});
    b.Add(key, value, clock.NowMs());
    std::string bytes = *b.Build();
    auto info = log.Append({reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()}, {});
    EXPECT_TRUE(info.ok()) << info.status();
    model.Write(key, value, info->first_offset.value(), clock.NowMs());
    clock.AdvanceMs(1);
  }
  EXPECT_TRUE(log.Roll().ok());
  EXPECT_TRUE(log.FlushAll().ok());
  return model;
}

TEST(CleanerCrashTest, ACrashAtEveryStepLeavesTheOldOrTheCleanedLog) {
  int crashes = 0, completed_swaps_seen = 0;
  for (int64_t k = 0;; ++k) {
    SCOPED_TRACE(absl::StrCat("crash after ", k, " mutating calls"));
    testing::TempDir dir;
    FaultInjectionFileSystem fs(FileSystem::Default());
    ManualClock clock;
    std::string path = dir.Sub("c-0");
    testing::ModelLog model;
    Offset end;
    bool crashed = false;
    {
      auto log = Log::Open(&fs, path, Config(), &clock, {});
      ASSERT_TRUE(log.ok()) << log.status();
      model = WriteHistory(**log, clock);
      end = (*log)->log_end_offset();
      auto range = CleanableRangeOf(**log, Offset(0), clock.NowMs());
      ASSERT_TRUE(range.ok());
      fs.CrashAfter(k);
      Cleaner cleaner(&clock, {});
      auto stats = cleaner.Clean(**log, *range);
      crashed = fs.crashed();
      if (!crashed) {
        ASSERT_TRUE(stats.ok()) << stats.status();
        model.Cleaned(stats->next_dirty, clock.NowMs(), Config().delete_retention_ms);
      }
    }
    ASSERT_TRUE(fs.DropUnsyncedData().ok());
    auto names = fs.ListDir(path);
    ASSERT_TRUE(names.ok());
    for (const auto& n : *names) completed_swaps_seen += absl::EndsWith(n, ".log.swap");
    auto reopened = Log::Open(&fs, path, Config(), &clock, {});
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_EQ((*reopened)->log_end_offset(), end);
    EXPECT_TRUE((*reopened)->problems().empty());
    ASSERT_NO_FATAL_FAILURE(model.Check(**reopened));
    auto after = fs.ListDir(path);
    for (const auto& n : *after) {
      EXPECT_FALSE(absl::EndsWith(n, ".cleaned") || absl::EndsWith(n, ".swap")) << n;
    }
    if (!crashed) break;
    ++crashes;
  }
  EXPECT_GT(crashes, 10) << "a clean makes many mutating calls";
  EXPECT_GT(completed_swaps_seen, 0) << "some crashes fell after a swap's commit point";
}

// A failed call (EIO, no crash) at each step: the clean fails cleanly or succeeds, the log keeps
// serving a valid view, and a later clean succeeds.
TEST(CleanerCrashTest, AFailedCallAtEveryStepIsReportedAndRetried) {
  for (int op = 0; op <= static_cast<int>(FsOp::kSyncDir); ++op) {
    for (int skip = 0; skip < 6; ++skip) {
      SCOPED_TRACE(absl::StrCat("fail call ", skip, " of op ", op));
      testing::TempDir dir;
      FaultInjectionFileSystem fs(FileSystem::Default());
      ManualClock clock;
      auto log = Log::Open(&fs, dir.Sub("f-0"), Config(), &clock, {});
      ASSERT_TRUE(log.ok());
      testing::ModelLog model = WriteHistory(**log, clock);
      auto range = CleanableRangeOf(**log, Offset(0), clock.NowMs());
      fs.AddRule({.op = static_cast<FsOp>(op), .skip = skip});
      Cleaner cleaner(&clock, {});
      auto first = cleaner.Clean(**log, *range);
      fs.ClearRules();
      ASSERT_NO_FATAL_FAILURE(model.Check(**log));
      if (!first.ok()) {
        range = CleanableRangeOf(**log, Offset(0), clock.NowMs());
        auto retry = cleaner.Clean(**log, *range);
        if (!retry.ok()) {
          // Only a swap that failed after its commit point refuses until the log reopens.
          EXPECT_TRUE(absl::IsFailedPrecondition(retry.status())) << retry.status();
          log->reset();
          auto reopened = Log::Open(&fs, dir.Sub("f-0"), Config(), &clock, {});
          ASSERT_TRUE(reopened.ok()) << reopened.status();
          ASSERT_NO_FATAL_FAILURE(model.Check(**reopened));
          continue;
        }
      }
      ASSERT_NO_FATAL_FAILURE(model.Check(**log));
    }
  }
}

}  // namespace
}  // namespace strata
