#include "log/log_manager.h"

#include <gtest/gtest.h>

#include "common/fault_fs.h"
#include "tests/testing/batches.h"
#include "tests/testing/corrupt.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::Mutable;

class LogManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<LogManager> Open(FileSystem* fs = FileSystem::Default(),
                                   bool restore_high_watermarks = false) {
    LogManager::Options options{.data_dir = dir_.path()};
    options.restore_high_watermarks = restore_high_watermarks;
    auto m =
        LogManager::Open(fs, options, &clock_, [this](const TopicPartition&) { return config_; });
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }
  void Append(Log& log, int count) {
    for (int i = 0; i < count; ++i) {
      std::string b = testing::MakeBatch(1);
      ASSERT_TRUE(log.Append(Mutable(b), {}).ok());
    }
  }

  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(LogManagerTest, CleanShutdownAndReload) {
  {
    auto m = Open();
    EXPECT_FALSE(m->had_clean_shutdown());
    auto a = m->GetOrCreate({"orders", 0}, config_);
    auto b = m->GetOrCreate({"orders", 1}, config_);
    auto c = m->GetOrCreate({"my-topic.v2", 3}, config_);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    Append(**a, 5);
    Append(**c, 2);
    ASSERT_TRUE((*a)->DeleteRecordsBefore(Offset(2)).ok());
    ASSERT_TRUE(m->Shutdown().ok());
    EXPECT_FALSE(m->GetOrCreate({"x", 0}, config_).ok()) << "shut down";
  }
  EXPECT_TRUE(FileSystem::Default()->Exists(dir_.Sub(".kafka_cleanshutdown")));
  EXPECT_EQ(testing::ReadAll(dir_.Sub("recovery-point-offset-checkpoint")),
            "0\n3\nmy-topic.v2 3 2\norders 0 5\norders 1 0\n");
  EXPECT_EQ(testing::ReadAll(dir_.Sub("log-start-offset-checkpoint")),
            "0\n3\nmy-topic.v2 3 0\norders 0 2\norders 1 0\n");
  auto m = Open();
  EXPECT_TRUE(m->had_clean_shutdown());
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub(".kafka_cleanshutdown")))
      << "removed at startup so that a crash counts as unclean";
  EXPECT_EQ(m->Partitions().size(), 3u);
  auto orders = m->Get({"orders", 0});
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->log_end_offset(), Offset(5));
  EXPECT_EQ(orders->log_start_offset(), Offset(2)) << "DeleteRecords survives a restart";
  EXPECT_EQ(orders->recovery_point(), Offset(5));
  EXPECT_EQ(m->Get({"nope", 0}), nullptr);
}

TEST_F(LogManagerTest, HighWatermarksAreCheckpointedAndRestoredForReplication) {
  {
    auto m = Open();
    auto a = m->GetOrCreate({"orders", 0}, config_);
    ASSERT_TRUE(a.ok());
    (*a)->set_high_watermark_follows_end(false);  // a replica: the ISR moves the mark
    Append(**a, 5);
    (*a)->SetHighWatermark(Offset(3));
    ASSERT_TRUE(m->Shutdown().ok());
  }
  EXPECT_EQ(testing::ReadAll(dir_.Sub("replication-offset-checkpoint")), "0\n1\norders 0 3\n");
  {
    auto m = Open(FileSystem::Default(), /*restore_high_watermarks=*/true);
    EXPECT_EQ(m->Get({"orders", 0})->high_watermark(), Offset(3));
    EXPECT_EQ(m->Get({"orders", 0})->log_end_offset(), Offset(5));
    ASSERT_TRUE(m->Shutdown().ok());
  }
  {
    auto m = Open();  // a single broker: everything it has is acknowledged
    EXPECT_EQ(m->Get({"orders", 0})->high_watermark(), Offset(5));
    ASSERT_TRUE(m->Shutdown().ok());
  }
  // No entry (the partition was created after the last checkpoint, then the broker crashed):
  // a replica knows nothing of it as committed, not everything.
  ASSERT_TRUE(FileSystem::Default()->Remove(dir_.Sub("replication-offset-checkpoint")).ok());
  auto m = Open(FileSystem::Default(), /*restore_high_watermarks=*/true);
  EXPECT_EQ(m->Get({"orders", 0})->high_watermark(), Offset(0));
  EXPECT_EQ(m->Get({"orders", 0})->log_end_offset(), Offset(5));
}

// A truncation writes the checkpoints under the log's lock, and those list the logs. Creating a
// log must therefore not hold the list's lock while it opens (locks) the new log: Abseil's
// deadlock detector (on in debug and sanitizer builds) kills the process on that cycle.
TEST_F(LogManagerTest, ATruncatedLogCheckpointsWithoutALockCycle) {
  auto m = Open();
  auto a = m->GetOrCreate({"orders", 0}, config_);
  ASSERT_TRUE(a.ok());
  Append(**a, 5);
  ASSERT_TRUE((*a)->FlushAll().ok());
  ASSERT_TRUE((*a)->TruncateTo(Offset(2)).ok());
  EXPECT_EQ(testing::ReadAll(dir_.Sub("recovery-point-offset-checkpoint")), "0\n1\norders 0 2\n")
      << "the truncation wrote the checkpoints: no recovery point past the new end";
  auto b = m->GetOrCreate({"orders", 1}, config_);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(m->Partitions().size(), 2u);
  ASSERT_TRUE(m->Shutdown().ok());
}

TEST_F(LogManagerTest, UncleanStartRecoversFromCheckpoint) {
  {
    auto m = Open();
    auto log = *m->GetOrCreate({"t", 0}, config_);
    Append(*log, 4);
    ASSERT_TRUE(log->FlushAll().ok());
    ASSERT_TRUE(m->WriteCheckpoints().ok());
    Append(*log, 3);
    ASSERT_TRUE(m->Shutdown().ok());
  }
  ASSERT_TRUE(FileSystem::Default()->Remove(dir_.Sub(".kafka_cleanshutdown")).ok());
  std::string path = dir_.Sub("t-0/00000000000000000000.log");
  testing::ShrinkTo(path, testing::SizeOf(path) - 3);  // torn tail past the recovery point
  auto m = Open();
  EXPECT_FALSE(m->had_clean_shutdown());
  EXPECT_EQ(m->Get({"t", 0})->log_end_offset(), Offset(6));
}

TEST_F(LogManagerTest, FlushMsAndRetention) {
  config_.flush_ms = 1000;
  config_.segment_bytes = 500;
  config_.retention_bytes = 600;
  auto m = Open();
  auto log = *m->GetOrCreate({"t", 0}, config_);
  Append(*log, 20);
  ASSERT_TRUE(m->FlushDueLogs().ok());
  EXPECT_EQ(log->recovery_point(), Offset(0)) << "flush.ms not yet elapsed";
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(m->FlushDueLogs().ok());
  EXPECT_EQ(log->recovery_point(), Offset(20));
  size_t before = log->segments()->size();
  ASSERT_TRUE(m->ApplyRetention().ok());
  EXPECT_LT(log->segments()->size(), before);
  EXPECT_GT(log->log_start_offset(), Offset(0));
}

TEST_F(LogManagerTest, DeleteRemovesTheDirectoryEvenForHolders) {
  auto m = Open();
  auto log = *m->GetOrCreate({"gone", 0}, config_);
  Append(*log, 3);
  ASSERT_TRUE(m->Delete({"gone", 0}).ok());
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("gone-0")));
  EXPECT_EQ(m->Get({"gone", 0}), nullptr);
  auto records = testing::ReadAllRecords(*log);
  EXPECT_TRUE(records.ok()) << "a holder still reads its open files";
  EXPECT_EQ(records->size(), 3u);
  // A deletion interrupted after the rename is finished at the next start.
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(dir_.Sub("old-0.7-delete")).ok());
  testing::WriteAll(dir_.Sub("old-0.7-delete/00000000000000000000.log"), "x");
  m.reset();
  auto again = Open();
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("old-0.7-delete")));
}

TEST_F(LogManagerTest, FailedCloseLeavesNoCleanMarker) {
  FaultInjectionFileSystem fs(FileSystem::Default());
  {
    auto m = Open(&fs);
    auto log = *m->GetOrCreate({"t", 0}, config_);
    Append(*log, 2);
    fs.AddRule({.op = FsOp::kSync, .path_contains = ".log", .times = -1});
    EXPECT_FALSE(m->Shutdown().ok());
  }
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub(".kafka_cleanshutdown")));
}

}  // namespace
}  // namespace strata
