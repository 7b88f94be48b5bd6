// Idempotent producers: duplicates, sequence gaps, epochs, and state across restarts.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "index/producer_snapshot.h"
#include "log/append_error.h"
#include "log/log.h"
#include "tests/testing/batches.h"
#include "tests/testing/corrupt.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::Mutable;

class ProducerStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> Open() {
    auto log = Log::Open(FileSystem::Default(), dir_.Sub("t-0"), config_, &clock_, {});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // A batch of `count` records from producer `pid`/`epoch` starting at sequence `seq`.
  absl::StatusOr<AppendInfo> Produce(Log& log, int64_t pid, int16_t epoch, int32_t seq,
                                     int count = 2) {
    RecordBatchBuilder b({.producer_id = pid, .producer_epoch = epoch, .base_sequence = seq});
    for (int i = 0; i < count; ++i) b.Add("k", "v", clock_.NowMs());
    std::string batch = *b.Build();
    return log.Append(Mutable(batch), {.leader_epoch = LeaderEpoch(0)});
  }
  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
};

TEST_F(ProducerStateTest, RetriedBatchGetsItsOriginalOffsets) {
  auto log = Open();
  ASSERT_TRUE(Produce(*log, 7, 0, 0).ok());
  auto second = Produce(*log, 7, 0, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->first_offset, Offset(2));
  auto retry = Produce(*log, 7, 0, 2);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->first_offset, Offset(2));
  EXPECT_EQ(retry->last_offset, Offset(3));
  EXPECT_EQ(log->log_end_offset(), Offset(4)) << "not written twice";
  auto older = Produce(*log, 7, 0, 0);
  EXPECT_TRUE(older->duplicate);
  EXPECT_EQ(older->first_offset, Offset(0));
}

TEST_F(ProducerStateTest, GapsAndOldEpochsAreRefused) {
  auto log = Open();
  ASSERT_TRUE(Produce(*log, 7, 3, 10).ok()) << "an unknown producer may start anywhere";
  auto gap = Produce(*log, 7, 3, 15);
  EXPECT_EQ(GetAppendError(gap.status()), AppendError::kOutOfOrderSequence) << gap.status();
  auto old = Produce(*log, 7, 2, 12);
  EXPECT_EQ(GetAppendError(old.status()), AppendError::kInvalidProducerEpoch) << old.status();
  auto bad_new_epoch = Produce(*log, 7, 4, 5);
  EXPECT_EQ(GetAppendError(bad_new_epoch.status()), AppendError::kOutOfOrderSequence);
  ASSERT_TRUE(Produce(*log, 7, 4, 0).ok()) << "a new epoch starts at 0";
  ASSERT_TRUE(Produce(*log, 7, 4, 2).ok());
  EXPECT_EQ(log->log_end_offset(), Offset(6));
  ASSERT_TRUE(Produce(*log, 8, 0, 0).ok()) << "producers are independent";
}

TEST_F(ProducerStateTest, OnlyTheLastFiveBatchesAreRemembered) {
  auto log = Open();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(Produce(*log, 1, 0, 2 * i).ok());
  EXPECT_TRUE(Produce(*log, 1, 0, 4)->duplicate) << "5th newest";
  auto too_old = Produce(*log, 1, 0, 2);
  EXPECT_EQ(GetAppendError(too_old.status()), AppendError::kOutOfOrderSequence);
}

TEST_F(ProducerStateTest, SequencesWrapAround) {
  auto log = Open();
  ASSERT_TRUE(Produce(*log, 1, 0, INT32_MAX - 1).ok());  // sequences MAX-1, MAX
  ASSERT_TRUE(Produce(*log, 1, 0, 0).ok()) << "then 0";
}

TEST_F(ProducerStateTest, StateSurvivesCleanAndUncleanRestarts) {
  config_.segment_bytes = 400;
  {
    auto log = Open();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Produce(*log, 5, 1, 2 * i).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto snapshots = ListProducerSnapshots(FileSystem::Default(), dir_.Sub("t-0"));
  ASSERT_TRUE(snapshots.ok());
  EXPECT_EQ(snapshots->size(), 2u) << "older snapshots are pruned";
  EXPECT_EQ(snapshots->back(), Offset(40)) << "taken at close";
  {
    auto log = Open();
    EXPECT_TRUE(Produce(*log, 5, 1, 38)->duplicate) << "from the snapshot";
    for (int i = 20; i < 23; ++i) ASSERT_TRUE(Produce(*log, 5, 1, 2 * i).ok());
    // no Close: an unclean stop; the tail after the last snapshot is replayed
  }
  auto log = Open();
  auto retry = Produce(*log, 5, 1, 44);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate) << "replayed from the log tail";
  EXPECT_EQ(retry->first_offset, Offset(44));
  EXPECT_TRUE(Produce(*log, 5, 1, 46).ok());
}

TEST_F(ProducerStateTest, CorruptSnapshotFallsBackToAnOlderOneOrTheLog) {
  config_.segment_bytes = 400;
  {
    auto log = Open();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Produce(*log, 5, 1, 2 * i).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  auto snapshots = *ListProducerSnapshots(FileSystem::Default(), dir_.Sub("t-0"));
  for (Offset o : snapshots) {
    testing::XorByte(dir_.Sub("t-0/" + ProducerSnapshotName(o)), 12, 0x01);
  }
  auto log = Open();
  EXPECT_TRUE(Produce(*log, 5, 1, 38)->duplicate) << "rebuilt from the log";
}

TEST_F(ProducerStateTest, TruncationForgetsTruncatedBatches) {
  auto log = Open();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Produce(*log, 9, 0, 2 * i).ok());
  ASSERT_TRUE(log->TruncateTo(Offset(6)).ok());
  auto next = Produce(*log, 9, 0, 6);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->duplicate) << "the batch at 6 was truncated away";
  EXPECT_EQ(next->first_offset, Offset(6));
}

TEST_F(ProducerStateTest, TransactionalBatchesAreRefused) {
  auto log = Open();
  RecordBatchBuilder b({.producer_id = 1, .producer_epoch = 0, .base_sequence = 0,
                        .transactional = true});
  b.Add("k", "v", 1);
  std::string batch = *b.Build();
  auto info = log->Append(Mutable(batch), {});
  EXPECT_EQ(GetAppendError(info.status()), AppendError::kTransactionsUnsupported);
}

TEST(ProducerSnapshotTest, GoldenBytesAndCorruption) {
  ProducerMap m;
  m[258] = {3, 1000, {{0, 1, Offset(10), Offset(11), 999}}};
  std::string bytes = EncodeProducerSnapshot(m);
  ASSERT_EQ(bytes.size(), 10u + 19u + 32u);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  EXPECT_EQ(LoadBE16(p), 1u);                 // version
  EXPECT_EQ(LoadBE32(p + 6), 1u);             // one producer
  EXPECT_EQ(LoadBE64(p + 10), 258u);          // producer id
  EXPECT_EQ(LoadBE16(p + 18), 3u);            // epoch
  EXPECT_EQ(LoadBE64(p + 20), 1000u);         // last timestamp
  EXPECT_EQ(p[28], 1);                        // one batch
  EXPECT_EQ(LoadBE64(p + 37), 10u);           // first offset
  auto decoded = DecodeProducerSnapshot(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, m);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_FALSE(DecodeProducerSnapshot(bad).ok()) << "byte " << i;
  }
  EXPECT_FALSE(DecodeProducerSnapshot(bytes.substr(0, 20)).ok());
}

}  // namespace
}  // namespace strata
