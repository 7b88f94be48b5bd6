// CleanerManager: which log gets cleaned, the cleaner-offset-checkpoint, failure back-off, the
// threads' lifecycle, and its integration in LogManager.
#include "log/cleaner_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "common/fault_fs.h"
#include "index/checkpoint_file.h"
#include "log/log_manager.h"
#include "tests/testing/batches.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::Mutable;

constexpr int64_t kBackoffMs = 1000;
const TopicPartition kKv{"kv", 0};

class CleanerManagerTest : public ::testing::Test {
 protected:
  CleanerManagerTest() {
    compact_.segment_bytes = 4096;
    compact_.cleanup_compact = true;
    compact_.cleanup_delete = false;
    compact_.min_cleanable_dirty_ratio = 0.01;
  }

  std::unique_ptr<LogManager> Open(FileSystem* fs = FileSystem::Default(),
                                   CleanerManager::Options cleaner = {
                                       .dedupe_buffer_bytes = 1 << 20, .backoff_ms = kBackoffMs}) {
    LogManager::Options options{.data_dir = dir_.path(), .cleaner = cleaner};
    auto m = LogManager::Open(fs, options, &clock_, [this](const TopicPartition& tp) {
      auto it = configs_.find(tp.topic);
      return it == configs_.end() ? compact_ : it->second;
    });
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }

  // `rounds` overwrites of keys key-0 .. key-<keys-1> (values carry the round), then a roll so
  // everything written is cleanable.
  static void Overwrite(Log& log, int keys, int rounds, int first_round = 0) {
    for (int r = first_round; r < first_round + rounds; ++r) {
      RecordBatchBuilder b;
      for (int k = 0; k < keys; ++k) {
        b.Add(absl::StrCat("key-", k), absl::StrCat("round-", r, "-", std::string(40, 'v')),
              1'700'000'000'000 + r);
      }
      std::string batch = *b.Build();
      ASSERT_TRUE(log.Append(Mutable(batch), {}).ok());
    }
    ASSERT_TRUE(log.Roll().ok());
  }

  std::shared_ptr<Log> Create(LogManager& m, const std::string& topic) {
    auto it = configs_.find(topic);
    auto log = m.GetOrCreate({topic, 0}, it == configs_.end() ? compact_ : it->second);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : nullptr;
  }

  // key -> value of the newest record per key, read back through Log::Read.
  static std::map<std::string, std::string> Latest(const Log& log, int64_t* records = nullptr) {
    auto all = testing::ReadAllRecords(log);
    EXPECT_TRUE(all.ok()) << all.status();
    std::map<std::string, std::string> out;
    int64_t last = -1;
    for (const auto& r : all.ok() ? *all : std::vector<testing::ReadRecord>{}) {
      EXPECT_GT(r.offset, last) << "offsets increase";
      last = r.offset;
      out[r.key] = r.value;
    }
    if (records != nullptr) *records = all.ok() ? static_cast<int64_t>(all->size()) : -1;
    return out;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig compact_;
  std::map<std::string, LogConfig> configs_;
};

TEST_F(CleanerManagerTest, CleansACompactedLogToItsLatestValues) {
  auto m = Open();
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  auto before = Latest(*log);
  auto result = m->cleaner().CleanAllOnce();
  ASSERT_EQ(result.cleaned, std::vector<TopicPartition>{kKv});
  EXPECT_TRUE(result.failed.empty());
  int64_t records = 0;
  EXPECT_EQ(Latest(*log, &records), before);
  EXPECT_EQ(records, 20);
  auto stats = m->cleaner().Stats();
  ASSERT_TRUE(stats[kKv].last.has_value());
  EXPECT_EQ(stats[kKv].last->records_kept, 20);
  EXPECT_EQ(stats[kKv].last->records_read, 600);
  EXPECT_GT(m->cleaner().total_bytes_cleaned(), 0u);
  // Nothing new: the next round finds nothing to do.
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty());
}

TEST_F(CleanerManagerTest, TombstonesGoOnceTheirHorizonPassesWithoutNewWrites) {
  compact_.delete_retention_ms = 5000;
  auto m = Open();
  auto log = Create(*m, "kv");
  Overwrite(*log, 5, 3);
  RecordBatchBuilder b;
  b.Add("key-0", std::nullopt, clock_.NowMs());
  std::string batch = *b.Build();
  ASSERT_TRUE(log->Append(Mutable(batch), {}).ok());
  ASSERT_TRUE(log->Roll().ok());
  ASSERT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  EXPECT_EQ(m->cleaner().Stats()[kKv].last->next_horizon_ms, clock_.NowMs() + 5000);
  int64_t records = 0;
  Latest(*log, &records);
  EXPECT_EQ(records, 5) << "four values and the tombstone";
  clock_.AdvanceMs(4000);
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty()) << "before the horizon";
  clock_.AdvanceMs(1000);
  ASSERT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u) << "nothing dirty, horizon passed";
  EXPECT_EQ(m->cleaner().Stats()[kKv].last->tombstones_dropped, 1);
  auto latest = Latest(*log, &records);
  EXPECT_EQ(records, 4);
  EXPECT_FALSE(latest.contains("key-0"));
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty()) << "no horizon left";
}

TEST_F(CleanerManagerTest, PicksTheDirtiestLogFirstAndSkipsUncompactedLogs) {
  LogConfig plain;
  plain.segment_bytes = 4096;
  configs_["plain"] = plain;
  auto m = Open();
  auto a = Create(*m, "a");
  auto b = Create(*m, "b");
  auto p = Create(*m, "plain");
  Overwrite(*a, 20, 40);
  ASSERT_TRUE(m->cleaner().CleanNow({"a", 0}).ok());
  // a: a small clean section, then a dirty one; b: all dirty (ratio 1).
  Overwrite(*a, 20, 10, 40);
  Overwrite(*b, 20, 10);
  Overwrite(*p, 20, 10);
  auto result = m->cleaner().CleanAllOnce();
  std::vector<TopicPartition> expected{{"b", 0}, {"a", 0}};
  EXPECT_EQ(result.cleaned, expected);
  EXPECT_EQ(m->cleaner().Stats().count({"plain", 0}), 0u);
  EXPECT_FALSE(m->cleaner().CleanNow({"plain", 0}).ok());
  EXPECT_TRUE(absl::IsNotFound(m->cleaner().CleanNow({"nope", 0}).status()));
}

TEST_F(CleanerManagerTest, HonoursMinCleanableDirtyRatio) {
  compact_.min_cleanable_dirty_ratio = 0.5;
  auto m = Open();
  auto log = Create(*m, "kv");
  // Distinct keys: cleaning keeps everything, so the clean section stays large.
  for (int i = 0; i < 40; ++i) {
    std::string batch = testing::MakeBatch(10, 1'700'000'000'000, 64, Compression::kNone, i * 10);
    ASSERT_TRUE(log->Append(Mutable(batch), {}).ok());
  }
  ASSERT_TRUE(log->Roll().ok());
  ASSERT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  // A little dirt (well under half of the log) is not worth a clean.
  Overwrite(*log, 10, 2);
  auto range = CleanableRangeOf(*log, m->cleaner().Checkpoints()[kKv], clock_.NowMs());
  ASSERT_TRUE(range.ok());
  EXPECT_GT(range->dirty_bytes, 0u);
  EXPECT_LT(range->dirty_ratio(), 0.5);
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty());
  // max.compaction.lag.ms overrides the ratio once the dirt is old enough.
  LogConfig overdue = compact_;
  overdue.max_compaction_lag_ms = 1000;
  log->UpdateConfig(overdue);
  clock_.AdvanceMs(60'000);  // past the records' timestamps + the lag
  EXPECT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  log->UpdateConfig(compact_);
  // Enough dirt passes the ratio.
  Overwrite(*log, 10, 80, 2);
  EXPECT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
}

TEST_F(CleanerManagerTest, CompactDeleteLogsGetBothRetentionAndCleaning) {
  compact_.cleanup_delete = true;
  compact_.retention_bytes = 16384;
  auto m = Open();
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  auto before = Latest(*log);
  ASSERT_TRUE(m->ApplyRetention().ok());
  ASSERT_GT(log->log_start_offset(), Offset(0)) << "retention removed old segments";
  EXPECT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  EXPECT_GE(m->cleaner().Checkpoints()[kKv], log->log_start_offset());
  int64_t records = 0;
  EXPECT_EQ(Latest(*log, &records), before);
  EXPECT_EQ(records, 20);
  // Retention after cleaning: the compacted log is under retention.bytes and stays.
  ASSERT_TRUE(m->ApplyRetention().ok());
  EXPECT_EQ(Latest(*log), before);
}

TEST_F(CleanerManagerTest, CheckpointPersistsAndIsReread) {
  Offset next_dirty;
  {
    auto m = Open();
    auto log = Create(*m, "kv");
    Overwrite(*log, 20, 30);
    auto stats = m->cleaner().CleanNow({"kv", 0});
    ASSERT_TRUE(stats.ok()) << stats.status();
    next_dirty = stats->next_dirty;
    EXPECT_GT(next_dirty, Offset(0));
    ASSERT_TRUE(m->Shutdown().ok());
  }
  auto lines =
      ReadCheckpointFile(FileSystem::Default(), dir_.Sub(CleanerManager::kCheckpointFile), 0, 3);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0], (CheckpointLine{"kv", "0", absl::StrCat(next_dirty.value())}));
  auto m = Open();
  EXPECT_EQ(m->cleaner().Checkpoints()[kKv], next_dirty);
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty()) << "nothing dirty after a reload";
  Overwrite(*m->Get({"kv", 0}), 20, 30, 30);
  EXPECT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  EXPECT_GT(m->cleaner().Checkpoints()[kKv], next_dirty);
}

TEST_F(CleanerManagerTest, ACheckpointPastTheLogEndCountsAsTheLogStart) {
  ASSERT_TRUE(WriteOffsetCheckpoint(FileSystem::Default(),
                                    dir_.Sub(CleanerManager::kCheckpointFile),
                                    {{kKv, Offset(1'000'000)}})
                  .ok());
  auto m = Open();
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  ASSERT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
  EXPECT_EQ(m->cleaner().Checkpoints()[kKv], log->log_end_offset());
  int64_t records = 0;
  Latest(*log, &records);
  EXPECT_EQ(records, 20);
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty()) << "no endless re-cleaning";
}

TEST_F(CleanerManagerTest, AMalformedCheckpointMeansCleaningAgainNotFailing) {
  ASSERT_TRUE(WriteFileAtomically(FileSystem::Default(), dir_.Sub(CleanerManager::kCheckpointFile),
                                  "garbage\n")
                  .ok());
  auto m = Open();
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->cleaner().Checkpoints().empty());
}

TEST_F(CleanerManagerTest, AFailingLogBacksOffDoublingAndIsRetried) {
  FaultInjectionFileSystem fs(FileSystem::Default());
  auto m = Open(&fs);
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  fs.AddRule({.op = FsOp::kOpen, .path_contains = ".cleaned", .error = 5, .times = 2});
  auto first = m->cleaner().CleanAllOnce();
  ASSERT_EQ(first.failed.size(), 1u);
  auto state = m->cleaner().Stats()[kKv];
  EXPECT_EQ(state.consecutive_failures, 1);
  EXPECT_FALSE(state.last_error.empty());
  EXPECT_EQ(state.retry_at_mono_ms, clock_.MonotonicMs() + kBackoffMs);
  // Backing off: not picked, not failed again.
  auto second = m->cleaner().CleanAllOnce();
  EXPECT_TRUE(second.cleaned.empty() && second.failed.empty());
  clock_.AdvanceMs(kBackoffMs);
  ASSERT_EQ(m->cleaner().CleanAllOnce().failed.size(), 1u);
  state = m->cleaner().Stats()[kKv];
  EXPECT_EQ(state.consecutive_failures, 2);
  EXPECT_EQ(state.retry_at_mono_ms, clock_.MonotonicMs() + 2 * kBackoffMs);
  clock_.AdvanceMs(kBackoffMs);
  EXPECT_TRUE(m->cleaner().CleanAllOnce().cleaned.empty());
  clock_.AdvanceMs(kBackoffMs);
  auto ok = m->cleaner().CleanAllOnce();
  ASSERT_EQ(ok.cleaned.size(), 1u);
  state = m->cleaner().Stats()[kKv];
  EXPECT_EQ(state.consecutive_failures, 0);
  EXPECT_TRUE(state.last_error.empty());
  int64_t records = 0;
  Latest(*log, &records);
  EXPECT_EQ(records, 20);
}

TEST_F(CleanerManagerTest, FailureBackoffIsCapped) {
  FaultInjectionFileSystem fs(FileSystem::Default());
  auto m = Open(&fs, {.dedupe_buffer_bytes = 1 << 20,
                      .backoff_ms = kBackoffMs,
                      .max_failure_backoff_ms = 3 * kBackoffMs});
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  fs.AddRule({.op = FsOp::kOpen, .path_contains = ".cleaned", .error = 5, .times = -1});
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(m->cleaner().CleanAllOnce().failed.size(), 1u) << i;
    auto state = m->cleaner().Stats()[kKv];
    int64_t expected = std::min<int64_t>(kBackoffMs << i, 3 * kBackoffMs);
    EXPECT_EQ(state.retry_at_mono_ms - clock_.MonotonicMs(), expected) << i;
    clock_.AdvanceMs(expected);
  }
  fs.ClearRules();
  EXPECT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 1u);
}

TEST_F(CleanerManagerTest, BackgroundThreadsCleanAndShutdownStopsPromptly) {
  auto m =
      Open(FileSystem::Default(), {.threads = 2, .dedupe_buffer_bytes = 2 << 20, .backoff_ms = 20});
  auto a = Create(*m, "a");
  auto b = Create(*m, "b");
  Overwrite(*a, 20, 30);
  Overwrite(*b, 20, 30);
  m->StartBackground();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (m->cleaner().Checkpoints().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(m->cleaner().Checkpoints().size(), 2u);
  int64_t records = 0;
  Latest(*a, &records);
  EXPECT_EQ(records, 20);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(m->Shutdown().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(CleanerManagerTest, ShutdownDoesNotWaitForTheBackoffSleep) {
  auto m = Open(FileSystem::Default(), {.backoff_ms = 600'000});
  m->StartBackground();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the thread is asleep by now
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(m->Shutdown().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(CleanerManagerTest, DisabledCleanerStartsNoThreadsButCleansOnRequest) {
  auto m = Open(FileSystem::Default(), {.enable = false, .backoff_ms = 1});
  auto log = Create(*m, "kv");
  Overwrite(*log, 20, 30);
  m->StartBackground();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(m->cleaner().Checkpoints().empty());
  EXPECT_TRUE(m->cleaner().CleanNow({"kv", 0}).ok());
}

TEST_F(CleanerManagerTest, DeleteDropsTheCheckpointEntry) {
  auto m = Open();
  auto a = Create(*m, "a");
  auto b = Create(*m, "b");
  Overwrite(*a, 20, 30);
  Overwrite(*b, 20, 30);
  ASSERT_EQ(m->cleaner().CleanAllOnce().cleaned.size(), 2u);
  ASSERT_TRUE(m->Delete({"a", 0}).ok());
  EXPECT_EQ(m->cleaner().Checkpoints().count({"a", 0}), 0u);
  EXPECT_EQ(m->cleaner().Stats().count({"a", 0}), 0u);
  auto lines =
      ReadCheckpointFile(FileSystem::Default(), dir_.Sub(CleanerManager::kCheckpointFile), 0, 3);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0][0], "b");
}

TEST_F(CleanerManagerTest, DeleteWhileBackgroundCleaningIsSafe) {
  // Many segments and a slow cleaner so that deletes land during cleans.
  auto m = Open(FileSystem::Default(), {.threads = 2,
                                        .dedupe_buffer_bytes = 2 << 20,
                                        .io_max_bytes_per_second = 4 << 20,
                                        .backoff_ms = 1});
  for (int i = 0; i < 6; ++i) Overwrite(*Create(*m, absl::StrCat("t", i)), 20, 200);
  m->StartBackground();
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(m->Delete({absl::StrCat("t", i), 0}).ok());
    EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub(absl::StrCat("t", i, "-0"))));
  }
  EXPECT_TRUE(m->cleaner().Checkpoints().empty());
  ASSERT_TRUE(m->Shutdown().ok());
  auto names = FileSystem::Default()->ListDir(dir_.path());
  ASSERT_TRUE(names.ok());
  for (const auto& n : *names) EXPECT_EQ(n.find("-0"), std::string::npos) << n;
}

TEST_F(CleanerManagerTest, StaleCheckpointEntriesArePrunedAtStart) {
  ASSERT_TRUE(WriteOffsetCheckpoint(FileSystem::Default(),
                                    dir_.Sub(CleanerManager::kCheckpointFile),
                                    {{{"gone", 0}, Offset(5)}})
                  .ok());
  auto m = Open();
  EXPECT_EQ(m->cleaner().Checkpoints().size(), 1u);
  m->StartBackground();
  EXPECT_TRUE(m->cleaner().Checkpoints().empty());
}

}  // namespace
}  // namespace strata
