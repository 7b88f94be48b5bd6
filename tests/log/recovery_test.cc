// Recovery on open: torn tails, flipped bits, bad or missing indexes, leftovers.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "log/log.h"
#include "tests/testing/batches.h"
#include "tests/testing/corrupt.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

using testing::MakeBatch;
using testing::Mutable;

class RecoveryTest : public ::testing::Test {
 protected:
  RecoveryTest() {
    config_.segment_bytes = 4000;
    config_.index_interval_bytes = 300;
  }
  std::string Dir() { return dir_.Sub("t-0"); }
  std::string SegPath(size_t i, const char* suffix = ".log") {
    return JoinPath(Dir(), Segment::FileName(bases_.at(i), suffix));
  }
  std::unique_ptr<Log> Open(LogOpenOptions options = {}) {
    auto log = Log::Open(FileSystem::Default(), Dir(), config_, &clock_, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // Writes `batches` batches of 2 records, records the segment bases and batch positions, and
  // closes cleanly when asked (otherwise the log is just dropped, as in a crash).
  void Fill(int batches, bool clean) {
    auto log = Open();
    for (int i = 0; i < batches; ++i) {
      std::string b = MakeBatch(2, 1000, 90, Compression::kNone, 2 * i);
      ASSERT_TRUE(log->Append(Mutable(b), {}).ok());
    }
    for (const auto& seg : *log->segments()) bases_.push_back(seg->base_offset());
    end_ = log->log_end_offset();
    if (clean) {
      ASSERT_TRUE(log->Close().ok());
    }
  }
  std::vector<int64_t> Offsets(const Log& log) {
    auto records = testing::ReadAllRecords(log);
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<int64_t> out;
    for (const auto& r : *records) out.push_back(r.offset);
    return out;
  }
  // Position of the n-th batch (0-based) in a segment file.
  uint64_t BatchPosition(const std::string& path, int n) {
    std::string s = testing::ReadAll(path);
    uint64_t pos = 0;
    for (int i = 0; i < n; ++i) pos += LoadBE32(reinterpret_cast<const uint8_t*>(s.data()) + pos + 8) + 12;
    return pos;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  LogConfig config_;
  std::vector<Offset> bases_;
  Offset end_;
};

TEST_F(RecoveryTest, TornTailOfActiveSegmentIsCut) {
  Fill(30, /*clean=*/false);
  std::string last = SegPath(bases_.size() - 1);
  uint64_t size = testing::SizeOf(last);
  testing::ShrinkTo(last, size - 50);  // half of the last batch is gone
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), end_ - 2);
  EXPECT_LT(testing::SizeOf(last), size - 50) << "the partial batch was cut off the file";
  EXPECT_EQ(Offsets(*log).size(), static_cast<size_t>((end_ - 2).value()));
  std::string b = MakeBatch(1);
  EXPECT_EQ(log->Append(Mutable(b), {})->first_offset, end_ - 2);
  EXPECT_TRUE(log->problems().empty());
}

TEST_F(RecoveryTest, FlippedBitInLastBatchDropsIt) {
  Fill(30, false);
  std::string last = SegPath(bases_.size() - 1);
  testing::XorByte(last, testing::SizeOf(last) - 10, 0x04);
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), end_ - 2);
  EXPECT_EQ(Offsets(*log).back(), (end_ - 3).value());
}

TEST_F(RecoveryTest, WrongMagicAndAbsurdLengthCutTheActiveSegment) {
  Fill(40, false);
  std::string last = SegPath(bases_.size() - 1);
  uint64_t third = BatchPosition(last, 2);
  testing::SetBytes(last, third + 16, std::string("\x01", 1));  // magic 1
  {
    auto log = Open();
    EXPECT_EQ(log->log_end_offset(), bases_.back() + 4);
  }
  uint64_t second = BatchPosition(last, 1);
  testing::SetBytes(last, second + 8, std::string("\x7f\xff\xff\xff", 4));  // batchLength 2 GiB
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), bases_.back() + 2);
  EXPECT_EQ(testing::SizeOf(last), second);
}

TEST_F(RecoveryTest, ZeroFilledTailIsCut) {
  Fill(10, false);
  std::string last = SegPath(bases_.size() - 1);
  uint64_t size = testing::SizeOf(last);
  testing::WriteAll(last, testing::ReadAll(last) + std::string(4096, '\0'));
  auto log = Open();
  EXPECT_EQ(log->log_end_offset(), end_);
  EXPECT_EQ(testing::SizeOf(last), size);
}

TEST_F(RecoveryTest, CorruptRolledSegmentIsReportedNotCut) {
  Fill(60, false);
  ASSERT_GE(bases_.size(), 3u);
  std::string first = SegPath(0);
  uint64_t size = testing::SizeOf(first);
  uint64_t pos = BatchPosition(first, 3);
  testing::XorByte(first, pos + 70, 0x01);  // inside the 4th batch's records
  auto log = Open();
  ASSERT_EQ(log->problems().size(), 1u);
  EXPECT_EQ(log->problems()[0].position, pos);
  EXPECT_EQ(testing::SizeOf(first), size) << "not cut";
  EXPECT_EQ(log->log_end_offset(), end_) << "later segments stay";
  std::vector<int64_t> offsets = Offsets(*log);
  EXPECT_EQ(offsets[5], 5);
  EXPECT_EQ(offsets[6], bases_[1].value()) << "the corrupt batch and the rest of its segment are skipped";
  EXPECT_EQ(offsets.back(), (end_ - 1).value());
  // After a clean restart the report stands and the corrupt batch is still not served.
  ASSERT_TRUE(log->Close().ok());
  log.reset();
  auto again = Open({.recovery_point = end_, .clean_shutdown = true});
  EXPECT_EQ(again->problems().size(), 1u);
  EXPECT_EQ(Offsets(*again), offsets);
}

TEST_F(RecoveryTest, FlushedCorruptionFoundByIndexRebuildIsReported) {
  Fill(60, true);
  std::string first = SegPath(0);
  testing::XorByte(first, BatchPosition(first, 2) + 70, 0x01);
  testing::WriteAll(SegPath(0, ".index"), std::string(64, '\x5a'));  // garbage forces a rebuild
  auto log = Open({.recovery_point = end_, .clean_shutdown = true});
  ASSERT_EQ(log->problems().size(), 1u);
  EXPECT_EQ(log->log_end_offset(), end_);
}

TEST_F(RecoveryTest, ShortRolledSegmentEndsTheLog) {
  Fill(60, false);
  ASSERT_GE(bases_.size(), 3u);
  // Losing unsynced pages: segment 1 ends early at a batch boundary and every later segment
  // lost its data (their names survived).
  std::string middle = SegPath(1);
  testing::ShrinkTo(middle, BatchPosition(middle, 4));
  for (size_t i = 2; i < bases_.size(); ++i) testing::ShrinkTo(SegPath(i), 0);
  auto log = Open({.recovery_point = Offset(0)});
  EXPECT_EQ(log->log_end_offset(), bases_[1] + 8);
  EXPECT_EQ(log->segments()->size(), 2u);
  EXPECT_FALSE(FileSystem::Default()->Exists(SegPath(2))) << "segments after the tail are gone";
  std::string b = MakeBatch(1);
  EXPECT_EQ(log->Append(Mutable(b), {})->first_offset, bases_[1] + 8);
}

TEST_F(RecoveryTest, GapBeforeASegmentWithDataIsKept) {
  Fill(60, false);
  ASSERT_GE(bases_.size(), 3u);
  // A real offset gap (as a follower or compaction leaves): later data is never dropped.
  std::string middle = SegPath(1);
  testing::ShrinkTo(middle, BatchPosition(middle, 4));
  auto log = Open({.recovery_point = Offset(0)});
  EXPECT_EQ(log->log_end_offset(), end_);
  EXPECT_EQ(log->segments()->size(), bases_.size());
  std::vector<int64_t> offsets = Offsets(*log);
  auto gap = std::find(offsets.begin(), offsets.end(), (bases_[1] + 7).value());
  ASSERT_NE(gap, offsets.end());
  EXPECT_EQ(*(gap + 1), bases_[2].value()) << "reading across the gap";
}

TEST_F(RecoveryTest, CorruptFirstBatchOfFlushedActiveSegmentIsMovedAside) {
  Fill(3, true);
  std::string first = SegPath(0);
  testing::SetBytes(first, 16, std::string("\x07", 1));  // magic of the first batch
  testing::WriteAll(SegPath(0, ".index"), std::string(16, '\x44'));  // forces a rescan
  auto log = Open({.recovery_point = end_, .clean_shutdown = true});
  ASSERT_EQ(log->problems().size(), 1u);
  EXPECT_TRUE(FileSystem::Default()->Exists(first + ".corrupt")) << "kept for forensics";
  std::string b = MakeBatch(1);
  auto info = log->Append(Mutable(b), {});
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(log->FlushAll().ok());
  ASSERT_TRUE(log->ApplyRetention().ok());
  EXPECT_TRUE(FileSystem::Default()->Exists(first)) << "the new active segment's file";
  EXPECT_EQ(Offsets(*log).size(), 1u);
}

TEST_F(RecoveryTest, OnlyDataPastTheRecoveryPointIsScanned) {
  Fill(60, false);
  // A flipped bit in flushed data below the recovery point is not looked for at startup (that is
  // `strata log verify`'s job); the torn tail past it is.
  std::string first = SegPath(0);
  testing::XorByte(first, BatchPosition(first, 2) + 70, 0x01);
  std::string last = SegPath(bases_.size() - 1);
  testing::ShrinkTo(last, testing::SizeOf(last) - 1);
  auto log = Open({.recovery_point = bases_.back()});
  EXPECT_TRUE(log->problems().empty());
  EXPECT_EQ(log->log_end_offset(), end_ - 2);
}

TEST_F(RecoveryTest, BadIndexesAreRebuilt) {
  Fill(60, true);
  auto expect_intact = [&](const char* what) {
    auto log = Open({.recovery_point = end_, .clean_shutdown = true});
    EXPECT_EQ(log->log_end_offset(), end_) << what;
    EXPECT_EQ(Offsets(*log).size(), static_cast<size_t>(end_.value())) << what;
    EXPECT_TRUE(log->problems().empty()) << what;
    const Segment& seg = *(*log->segments())[0];
    EXPECT_GT(seg.offset_index().size(), 0u) << what << ": index rebuilt";
    for (int64_t o = 0; o < seg.next_offset().value(); ++o) {
      auto batch = seg.Translate(Offset(o));
      ASSERT_TRUE(batch.ok() && batch->has_value()) << what;
      EXPECT_LE((*batch)->base_offset, Offset(o));
      EXPECT_GE((*batch)->last_offset, Offset(o));
    }
    ASSERT_TRUE(log->Close().ok());
  };
  std::string index = SegPath(0, ".index");
  testing::ShrinkTo(index, testing::SizeOf(index) - 5);
  expect_intact("truncated index");
  testing::WriteAll(index, std::string(40, '\x33'));
  expect_intact("garbage index");
  ASSERT_TRUE(FileSystem::Default()->Remove(index).ok());
  ASSERT_TRUE(FileSystem::Default()->Remove(SegPath(0, ".timeindex")).ok());
  expect_intact("missing indexes");
  std::string entries = testing::ReadAll(index);
  testing::SetBytes(index, entries.size() - 4, std::string("\x7f\xff\xff\xf0", 4));
  expect_intact("index pointing past the log");
}

TEST_F(RecoveryTest, LeftoversAreRemoved) {
  Fill(5, true);
  for (const char* name : {"00000000000000000000.log.deleted", "leader-epoch-checkpoint.tmp",
                           "00000000000000000000.log.cleaned", "00000000000000000000.log.swap",
                           "00000000000000099999.index", "00000000000000099999.timeindex"}) {
    testing::WriteAll(JoinPath(Dir(), name), "junk");
  }
  auto log = Open({.recovery_point = end_, .clean_shutdown = true});
  auto names = FileSystem::Default()->ListDir(Dir());
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"00000000000000000000.index",
                                              "00000000000000000000.log",
                                              "00000000000000000000.timeindex"}));
  EXPECT_EQ(log->log_end_offset(), end_);
}

TEST_F(RecoveryTest, CorruptEpochCheckpointIsRebuiltFromBatches) {
  {
    auto log = Open();
    for (int i = 0; i < 6; ++i) {
      std::string b = MakeBatch(1);
      ASSERT_TRUE(log->Append(Mutable(b), {.leader_epoch = LeaderEpoch(i / 2)}).ok());
    }
    ASSERT_TRUE(log->Close().ok());
  }
  testing::WriteAll(JoinPath(Dir(), "leader-epoch-checkpoint"), "0\n9\ngarbage\n");
  auto log = Open({.recovery_point = Offset(6), .clean_shutdown = true});
  EXPECT_EQ(log->leader_epochs().Entries(),
            (std::vector<EpochEntry>{{LeaderEpoch(0), Offset(0)},
                                     {LeaderEpoch(1), Offset(2)},
                                     {LeaderEpoch(2), Offset(4)}}));
}

}  // namespace
}  // namespace strata
