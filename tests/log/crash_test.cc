// Crash, disk-full and fsync-failure tests on the fault-injecting FileSystem.
//
// The crash test runs many seeded workloads (appends of random sizes, flushes, rolls); the
// FileSystem "dies" after a random number of mutating calls, unsynced data is dropped as in a
// power loss, and the reopened log must be a prefix of what was appended that holds everything a
// successful Flush covered. A failure prints the seed; STRATA_CRASH_SEED=<seed> replays one,
// STRATA_CRASH_ITERATIONS=<n> runs more.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/fault_fs.h"
#include "common/status.h"
#include "log/log.h"
#include "tests/testing/batches.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::Mutable;

int EnvInt(const char* name, int fallback) {
  const char* v = getenv(name);
  return v != nullptr ? atoi(v) : fallback;
}

struct Appended {
  int64_t offset;
  std::string key;
};

std::string RandomBatch(std::mt19937_64& rng, int64_t* id, std::vector<Appended>* pending) {
  RecordBatchBuilder b(
      {.compression = (rng() % 4 == 0) ? Compression::kLz4 : Compression::kNone});
  int n = 1 + static_cast<int>(rng() % 5);
  for (int i = 0; i < n; ++i) {
    std::string key = absl::StrCat("k", (*id)++);
    b.Add(key, std::string(rng() % 700, 'v'), 1000 + *id);
    pending->push_back({0, key});
  }
  return *b.Build();
}

void RunCrashIteration(uint64_t seed) {
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (replay: STRATA_CRASH_SEED=", seed, ")"));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  std::string path = dir.Sub("t-0");
  FaultInjectionFileSystem fs(FileSystem::Default());
  ManualClock clock;
  LogConfig config;
  config.segment_bytes = 1500 + rng() % 6000;
  config.segment_index_bytes = 64 + 8 * (rng() % 40);
  config.index_interval_bytes = static_cast<uint32_t>(rng() % 1024);
  std::vector<Appended> appended;
  size_t durable = 0;  // appended[0, durable) were covered by a successful flush
  Offset recovery_point(0);
  {
    auto log = Log::Open(&fs, path, config, &clock, {});
    ASSERT_TRUE(log.ok()) << log.status();
    fs.CrashAfter(static_cast<int64_t>(rng() % 300));
    int64_t id = 0;
    for (int step = 0; step < 200 && !fs.crashed(); ++step) {
      int action = static_cast<int>(rng() % 10);
      if (action < 7) {
        std::vector<Appended> pending;
        std::string batch = RandomBatch(rng, &id, &pending);
        auto info = (*log)->Append(Mutable(batch), {.leader_epoch = LeaderEpoch(step / 50)});
        if (!info.ok()) continue;
        for (size_t i = 0; i < pending.size(); ++i) {
          pending[i].offset = info->first_offset.value() + static_cast<int64_t>(i);
          appended.push_back(pending[i]);
        }
      } else if (action < 9) {
        size_t covered = appended.size();
        if ((*log)->FlushAll().ok()) {
          durable = covered;
          recovery_point = (*log)->recovery_point();
        }
      } else {
        (void)(*log)->Roll();
      }
    }
  }
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  // Reopen as the broker would: from the last checkpointed recovery point, or from scratch.
  LogOpenOptions options{.recovery_point = rng() % 2 ? recovery_point : Offset(0)};
  auto log = Log::Open(FileSystem::Default(), path, config, &clock, options);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE((*log)->problems().empty()) << (*log)->problems()[0].message;
  auto records = testing::ReadAllRecords(**log);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_LE(records->size(), appended.size()) << "more records than were appended";
  ASSERT_GE(records->size(), durable) << "lost records that a flush had made durable";
  for (size_t i = 0; i < records->size(); ++i) {
    ASSERT_EQ((*records)[i].offset, appended[i].offset) << "record " << i;
    ASSERT_EQ((*records)[i].key, appended[i].key) << "record " << i;
  }
  EXPECT_EQ((*log)->log_end_offset(),
            Offset(records->empty() ? (*log)->log_start_offset().value()
                                    : records->back().offset + 1));
  // The recovered log takes appends at the right offset.
  std::string batch = testing::MakeBatch(1);
  auto next = (*log)->Append(Mutable(batch), {});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->first_offset, (*log)->log_end_offset() - 1);
}

TEST(CrashTest, RandomCrashPointsLeaveADurablePrefix) {
  if (int seed = EnvInt("STRATA_CRASH_SEED", -1); seed >= 0) {
    RunCrashIteration(static_cast<uint64_t>(seed));
    return;
  }
  int iterations = EnvInt("STRATA_CRASH_ITERATIONS", 150);
  for (int i = 0; i < iterations && !::testing::Test::HasFatalFailure(); ++i) {
    RunCrashIteration(static_cast<uint64_t>(i) * 7919 + 1);
  }
}

class FaultTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> Open(FileSystem* fs) {
    auto log = Log::Open(fs, dir_.Sub("t-0"), config_, &clock_, {});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  absl::StatusOr<AppendInfo> Append(Log& log, int first) {
    std::string batch = testing::MakeBatch(2, 1000, 200, Compression::kNone, first);
    return log.Append(Mutable(batch), {});
  }
  size_t Count(const Log& log) {
    auto records = testing::ReadAllRecords(log);
    EXPECT_TRUE(records.ok()) << records.status();
    for (size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i].key, absl::StrCat("key-", i));
    }
    return records->size();
  }

  testing::TempDir dir_;
  FaultInjectionFileSystem fs_{FileSystem::Default()};
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(FaultTest, DiskFullFailsAppendsCleanlyAndRecovers) {
  config_.segment_bytes = 3000;
  config_.segment_index_bytes = 800;
  auto log = Open(&fs_);
  int appended = 0;
  for (; appended < 10; ++appended) ASSERT_TRUE(Append(*log, 2 * appended).ok());
  fs_.SetSpaceLimit(fs_.UsedBytes() + 2500);
  absl::Status full;
  for (int i = 0; i < 100; ++i) {
    auto info = Append(*log, 2 * appended);
    if (!info.ok()) {
      full = info.status();
      break;
    }
    ++appended;
  }
  ASSERT_TRUE(IsNoSpace(full)) << full;
  EXPECT_NE(full.message().find("No space"), std::string::npos) << full;
  Offset end = log->log_end_offset();
  EXPECT_EQ(end, Offset(2 * appended));
  EXPECT_FALSE(Append(*log, 2 * appended).ok()) << "still full";
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_EQ(Count(*log), static_cast<size_t>(2 * appended)) << "readable and consistent";
  EXPECT_TRUE(log->failure().ok()) << "a full disk is not a failed log";

  fs_.SetSpaceLimit(std::nullopt);
  for (int i = 0; i < 10; ++i, ++appended) {
    auto info = Append(*log, 2 * appended);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->first_offset, Offset(2 * appended));
  }
  ASSERT_TRUE(log->Close().ok());
  log.reset();
  auto reopened = Open(FileSystem::Default());
  EXPECT_EQ(Count(*reopened), static_cast<size_t>(2 * appended));
}

TEST_F(FaultTest, ShortWriteIsCutBack) {
  auto log = Open(&fs_);
  ASSERT_TRUE(Append(*log, 0).ok());
  fs_.AddRule({.op = FsOp::kWrite, .path_contains = ".log", .error = ENOSPC, .short_write = true});
  EXPECT_FALSE(Append(*log, 2).ok());
  ASSERT_TRUE(Append(*log, 2).ok());
  EXPECT_EQ(Count(*log), 4u);
  log.reset();
  auto reopened = Open(FileSystem::Default());
  EXPECT_EQ(Count(*reopened), 4u) << "no half batch left in the file";
}

TEST_F(FaultTest, FsyncFailureFailsTheLogUntilReopened) {
  auto log = Open(&fs_);
  ASSERT_TRUE(Append(*log, 0).ok());
  ASSERT_TRUE(log->FlushAll().ok());
  ASSERT_TRUE(Append(*log, 2).ok());
  fs_.AddRule({.op = FsOp::kSync, .path_contains = ".log", .error = EIO});
  absl::Status flush = log->FlushAll();
  EXPECT_FALSE(flush.ok());
  EXPECT_NE(flush.message().find("refuses writes"), std::string::npos) << flush;
  EXPECT_EQ(log->recovery_point(), Offset(2)) << "the failed flush does not advance it";
  EXPECT_FALSE(Append(*log, 4).ok()) << "refuses appends";
  EXPECT_FALSE(log->failure().ok());
  EXPECT_EQ(Count(*log), 4u) << "still readable";
  log.reset();
  auto reopened = Open(&fs_);
  EXPECT_TRUE(Append(*reopened, 4).ok()) << "reopening recovers";
  EXPECT_EQ(Count(*reopened), 6u);
}

TEST_F(FaultTest, RandomFaultsNeverExposeFailedAppends) {
  config_.segment_bytes = 2000;
  auto log = Open(&fs_);
  fs_.SetRandomFaults(1234, 0.05);
  std::vector<std::string> ok_keys;
  int id = 0;
  for (int i = 0; i < 300; ++i) {
    RecordBatchBuilder b;
    std::string key = absl::StrCat("r", id++);
    b.Add(key, std::string(100, 'x'), 1);
    std::string batch = *b.Build();
    if (log->Append(Mutable(batch), {}).ok()) ok_keys.push_back(key);
    if (i % 10 == 0) (void)log->FlushAll();
  }
  fs_.SetRandomFaults(0, 0);
  auto records = testing::ReadAllRecords(*log);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), ok_keys.size());
  for (size_t i = 0; i < ok_keys.size(); ++i) EXPECT_EQ((*records)[i].key, ok_keys[i]);
}

}  // namespace
}  // namespace strata
