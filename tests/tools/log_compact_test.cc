// `strata log compact` run as an operator would, on partitions written through the storage
// engine; the result is read back through the engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/file.h"
#include "log/batch_builder.h"
#include "log/log_manager.h"
#include "tests/testing/batches.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/shell.h"
#include "tests/testing/temp_dir.h"

#ifndef STRATA_BINARY
#error "STRATA_BINARY must name the strata executable"
#endif

namespace strata {
namespace {

testing::ShellResult Strata(const std::string& args) {
  return testing::Shell(absl::StrCat(STRATA_BINARY, " ", args, " 2>&1"));
}

// key -> latest value ("" for a tombstone) and the number of records, read through Log::Read.
struct Contents {
  std::map<std::string, std::string> latest;
  int64_t records = 0;
  bool offsets_increase = true;
};

Contents Read(const std::string& dir) {
  Contents c;
  auto log =
      Log::Open(FileSystem::Default(), dir, LogConfig(), Clock::System(), {.read_only = true});
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return c;
  auto all = testing::ReadAllRecords(**log);
  EXPECT_TRUE(all.ok()) << all.status();
  int64_t last = -1;
  for (const auto& r : all.ok() ? *all : std::vector<testing::ReadRecord>{}) {
    c.offsets_increase = c.offsets_increase && r.offset > last;
    last = r.offset;
    c.latest[r.key] = r.value;
    ++c.records;
  }
  return c;
}

// Every file of `dir` with its contents, to prove a dry run changed nothing.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  auto names = FileSystem::Default()->ListDir(dir);
  for (const auto& n : names.ok() ? *names : std::vector<std::string>{}) {
    auto text = ReadFileToString(FileSystem::Default(), JoinPath(dir, n));
    out[n] = text.ok() ? *text : "<unreadable>";
  }
  return out;
}

class LogCompactTest : public ::testing::Test {
 protected:
  void Generate() {
    auto r = Strata(absl::StrCat("log generate ", dir_.path(),
                                 " --records 20000 --keys 300 --record-bytes 40 --batch-records 50"
                                 " --segment-bytes 32KiB --compression lz4"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  std::string Partition() const { return dir_.Sub("demo-0"); }

  // A partition with 10 keys, each overwritten, then tombstones for k0..k4, in a data
  // directory that was shut down cleanly.
  void WriteWithTombstones() {
    LogConfig config;
    config.segment_bytes = 2048;
    auto m = LogManager::Open(FileSystem::Default(), {.data_dir = dir_.path()}, Clock::System(),
                              [&](const TopicPartition&) { return config; });
    ASSERT_TRUE(m.ok()) << m.status();
    auto log = (*m)->GetOrCreate({"kv", 0}, config);
    ASSERT_TRUE(log.ok());
    for (int round = 0; round < 20; ++round) {
      RecordBatchBuilder b;
      for (int k = 0; k < 10; ++k) {
        b.Add(absl::StrCat("k", k), absl::StrCat("v", round, "-", std::string(30, 'x')),
              Clock::System()->NowMs());
      }
      std::string batch = *b.Build();
      ASSERT_TRUE((*log)->Append(testing::Mutable(batch), {}).ok());
    }
    RecordBatchBuilder b;
    for (int k = 0; k < 5; ++k) b.Add(absl::StrCat("k", k), std::nullopt, Clock::System()->NowMs());
    std::string batch = *b.Build();
    ASSERT_TRUE((*log)->Append(testing::Mutable(batch), {}).ok());
    ASSERT_TRUE((*m)->Shutdown().ok());
  }

  testing::TempDir dir_;
};

TEST_F(LogCompactTest, DryRunChangesNothing) {
  Generate();
  auto before = Snapshot(Partition());
  auto r = Strata(absl::StrCat("log compact ", Partition(), " --dry-run"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Dry run (nothing changed)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keys:        300"), std::string::npos) << r.out;
  EXPECT_EQ(Snapshot(Partition()), before);
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("cleaner-offset-checkpoint")));
}

TEST_F(LogCompactTest, CompactsToTheLatestValuePerKeyAndVerifies) {
  Generate();
  Contents before = Read(Partition());
  ASSERT_EQ(before.records, 20000);
  auto r = Strata(absl::StrCat("log compact ", Partition(), " --include-active"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Compacted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("records:     20000 read, 300 kept"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("segments:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes:"), std::string::npos) << r.out;
  Contents after = Read(Partition());
  EXPECT_EQ(after.latest, before.latest);
  EXPECT_EQ(after.records, 300);
  EXPECT_TRUE(after.offsets_increase);
  auto verify = Strata(absl::StrCat("log verify ", dir_.path()));
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  // The data directory's cleaner checkpoint tells the broker where the next clean starts.
  auto checkpoint =
      ReadOffsetCheckpoint(FileSystem::Default(), dir_.Sub(CleanerManager::kCheckpointFile));
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ((*checkpoint)[TopicPartition({"demo", 0})], Offset(20000));
  // Again (a full clean from the log start each time): nothing more goes.
  r = Strata(absl::StrCat("log compact ", Partition()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("records:     300 read, 300 kept"), std::string::npos) << r.out;
  EXPECT_EQ(Read(Partition()).latest, before.latest);
}

TEST_F(LogCompactTest, WithoutIncludeActiveTheActiveSegmentIsKept) {
  Generate();
  Contents before = Read(Partition());
  auto r = Strata(absl::StrCat("log compact ", Partition()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Contents after = Read(Partition());
  EXPECT_EQ(after.latest, before.latest);
  EXPECT_GT(after.records, 300);
  EXPECT_LT(after.records, 20000);
}

TEST_F(LogCompactTest, TombstonesGoOnceDeleteRetentionHasPassed) {
  WriteWithTombstones();
  std::string dir = dir_.Sub("kv-0");
  auto r = Strata(absl::StrCat("log compact ", dir, " --include-active --delete-retention-ms 0"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Contents first = Read(dir);
  EXPECT_EQ(first.latest.size(), 10u) << "tombstones stay until their horizon";
  EXPECT_EQ(first.latest["k0"], "");
  usleep(5000);
  r = Strata(absl::StrCat("log compact ", dir, " --include-active --delete-retention-ms 0"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("tombstones:  5 dropped"), std::string::npos) << r.out;
  Contents second = Read(dir);
  EXPECT_EQ(second.records, 5);
  EXPECT_EQ(second.latest.count("k0"), 0u);
  EXPECT_EQ(second.latest["k9"], absl::StrCat("v19-", std::string(30, 'x')));
}

TEST_F(LogCompactTest, RefusesWhatIsNotAStoppedPartition) {
  auto r = Strata(absl::StrCat("log compact ", dir_.path()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not a partition directory"), std::string::npos) << r.out;
  r = Strata("log compact");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = Strata(absl::StrCat("log compact ", dir_.path(), " --segment-bytes 1"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  // A data directory without the clean-shutdown marker: a broker may be running on it.
  Generate();
  ASSERT_TRUE(FileSystem::Default()->Remove(dir_.Sub(LogManager::kCleanShutdownFile)).ok());
  auto before = Snapshot(Partition());
  r = Strata(absl::StrCat("log compact ", Partition()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("Stop the broker first"), std::string::npos) << r.out;
  EXPECT_EQ(Snapshot(Partition()), before);
  r = Strata(absl::StrCat("log compact ", Partition(), " --force"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace strata
