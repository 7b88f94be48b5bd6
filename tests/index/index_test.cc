#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/file.h"
#include "common/status.h"
#include "index/checkpoint_file.h"
#include "index/leader_epoch_cache.h"
#include "index/offset_index.h"
#include "index/time_index.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

FileSystem* fs() { return FileSystem::Default(); }

TEST(OffsetIndexTest, AppendLookupAndGoldenBytes) {
  testing::TempDir dir;
  std::string path = dir.Sub("00000000000000000100.index");
  auto index = OffsetIndex::Open(fs(), path, Offset(100), 80, IndexMode::kActive);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(*fs()->FileSize(path), 80u) << "preallocated to max bytes";
  ASSERT_TRUE((*index)->Append(Offset(110), FilePosition(4200)).ok());
  ASSERT_TRUE((*index)->Append(Offset(125), FilePosition(8400)).ok());
  EXPECT_FALSE((*index)->Append(Offset(125), FilePosition(9000)).ok()) << "offsets increase";
  EXPECT_FALSE((*index)->Append(Offset(130), FilePosition(100)).ok()) << "positions increase";
  EXPECT_EQ((*index)->Lookup(Offset(100)).position, FilePosition(0));
  EXPECT_EQ((*index)->Lookup(Offset(109)).position, FilePosition(0));
  EXPECT_EQ((*index)->Lookup(Offset(110)).position, FilePosition(4200));
  EXPECT_EQ((*index)->Lookup(Offset(124)).offset, Offset(110));
  EXPECT_EQ((*index)->Lookup(Offset(999)).position, FilePosition(8400));
  ASSERT_TRUE((*index)->TrimToSize().ok());
  auto bytes = ReadFileToString(fs(), path);
  // Two entries, big-endian (relative offset, position): (10, 4200), (25, 8400).
  EXPECT_EQ(*bytes, std::string("\0\0\0\x0a\0\0\x10\x68\0\0\0\x19\0\0\x20\xd0", 16));
  EXPECT_FALSE((*index)->Append(Offset(200), FilePosition(9999)).ok()) << "sealed";
}

TEST(OffsetIndexTest, ReloadsPreallocatedAndTrimmedFiles) {
  testing::TempDir dir;
  std::string path = dir.Sub("00000000000000000000.index");
  {
    auto index = OffsetIndex::Open(fs(), path, Offset(0), 8000, IndexMode::kActive);
    for (int i = 1; i <= 50; ++i) {
      ASSERT_TRUE((*index)->Append(Offset(i * 10), FilePosition(i * 1000)).ok());
    }
    ASSERT_TRUE((*index)->Flush(false).ok());  // preallocated file, zero tail
  }
  auto reopened = OffsetIndex::Open(fs(), path, Offset(0), 8000, IndexMode::kSealed);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 50u);
  EXPECT_TRUE((*reopened)->Check(100000).ok());
  EXPECT_FALSE((*reopened)->Check(40000).ok()) << "entries past the log's end";
  ASSERT_TRUE((*reopened)->TruncateTo(Offset(255)).ok());
  EXPECT_EQ((*reopened)->size(), 25u);
  reopened->reset();
  auto again = OffsetIndex::Open(fs(), path, Offset(0), 8000, IndexMode::kReadOnly);
  EXPECT_EQ((*again)->size(), 25u) << "truncation zeroed the stale entries on disk";
}

TEST(OffsetIndexTest, GarbageIsDetected) {
  testing::TempDir dir;
  std::string path = dir.Sub("00000000000000000000.index");
  std::string garbage;
  for (int i = 0; i < 64; ++i) garbage.push_back(static_cast<char>(i * 37 + 11));
  ASSERT_TRUE(WriteFileAtomically(fs(), path, garbage).ok());
  auto index = OffsetIndex::Open(fs(), path, Offset(0), 1024, IndexMode::kSealed);
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE(IsCorruption((*index)->Check(1 << 30)));
}

TEST(OffsetIndexTest, FullIndexRefusesAppends) {
  testing::TempDir dir;
  auto index = OffsetIndex::Open(fs(), dir.Sub("x.index"), Offset(0), 16, IndexMode::kActive);
  ASSERT_TRUE((*index)->Append(Offset(1), FilePosition(10)).ok());
  ASSERT_TRUE((*index)->Append(Offset(2), FilePosition(20)).ok());
  EXPECT_TRUE((*index)->full());
  EXPECT_FALSE((*index)->Append(Offset(3), FilePosition(30)).ok());
}

TEST(TimeIndexTest, MaybeAppendLookupTruncate) {
  testing::TempDir dir;
  std::string path = dir.Sub("00000000000000000000.timeindex");
  auto index = TimeIndex::Open(fs(), path, Offset(0), 1200, IndexMode::kActive);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->MaybeAppend(1000, Offset(9)).ok());
  ASSERT_TRUE((*index)->MaybeAppend(900, Offset(19)).ok());  // not larger: ignored
  ASSERT_TRUE((*index)->MaybeAppend(2000, Offset(29)).ok());
  EXPECT_EQ((*index)->size(), 2u);
  EXPECT_EQ((*index)->Lookup(999).timestamp, kNoTimestamp);
  EXPECT_EQ((*index)->Lookup(1500).offset, Offset(9));
  EXPECT_EQ((*index)->Lookup(5000).offset, Offset(29));
  ASSERT_TRUE((*index)->TrimToSize().ok());
  auto bytes = ReadFileToString(fs(), path);
  ASSERT_EQ(bytes->size(), 24u);
  EXPECT_EQ(LoadBE64(reinterpret_cast<const uint8_t*>(bytes->data())), 1000u);
  EXPECT_EQ(LoadBE32(reinterpret_cast<const uint8_t*>(bytes->data()) + 8), 9u);
  EXPECT_TRUE((*index)->Check(Offset(29)).ok());
  EXPECT_FALSE((*index)->Check(Offset(20)).ok());
  ASSERT_TRUE((*index)->TruncateTo(Offset(20)).ok());
  EXPECT_EQ((*index)->size(), 1u);
}

TEST(CheckpointFileTest, RoundTripAndMalformed) {
  testing::TempDir dir;
  std::string path = dir.Sub("cp");
  ASSERT_TRUE(WriteCheckpointFile(fs(), path, 0, {{"orders", "0", "42"}, {"x", "1", "7"}}).ok());
  EXPECT_EQ(*ReadFileToString(fs(), path), "0\n2\norders 0 42\nx 1 7\n");
  auto lines = ReadCheckpointFile(fs(), path, 0, 3);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ((*lines)[1][2], "7");
  EXPECT_TRUE(absl::IsNotFound(ReadCheckpointFile(fs(), dir.Sub("none"), 0, 3).status()));
  for (const char* bad : {"", "0\n", "1\n0\n", "0\n2\na 1 2\n", "0\n1\na 1\n"}) {
    ASSERT_TRUE(WriteFileAtomically(fs(), path, bad).ok());
    EXPECT_TRUE(IsCorruption(ReadCheckpointFile(fs(), path, 0, 3).status())) << bad;
  }
}

TEST(LeaderEpochCacheTest, AssignAndEndOffsets) {
  testing::TempDir dir;
  auto cache = LeaderEpochCache::Open(fs(), dir.path());
  ASSERT_TRUE(cache.ok());
  EXPECT_EQ((*cache)->EndOffsetFor(LeaderEpoch(0), Offset(10)).first, kNoLeaderEpoch);
  ASSERT_TRUE((*cache)->Assign(LeaderEpoch(1), Offset(0)).ok());
  ASSERT_TRUE((*cache)->Assign(LeaderEpoch(3), Offset(50)).ok());
  ASSERT_TRUE((*cache)->Assign(LeaderEpoch(2), Offset(60)).ok());  // older: ignored
  ASSERT_TRUE((*cache)->Assign(LeaderEpoch(5), Offset(80)).ok());
  auto eo = [&](int e) { return (*cache)->EndOffsetFor(LeaderEpoch(e), Offset(100)); };
  EXPECT_EQ(eo(5), std::make_pair(LeaderEpoch(5), Offset(100))) << "latest: log end";
  EXPECT_EQ(eo(1), std::make_pair(LeaderEpoch(1), Offset(50)));
  EXPECT_EQ(eo(2), std::make_pair(LeaderEpoch(1), Offset(50))) << "floor epoch, next start";
  EXPECT_EQ(eo(4), std::make_pair(LeaderEpoch(3), Offset(80)));
  EXPECT_EQ(eo(0), std::make_pair(LeaderEpoch(0), Offset(0))) << "before the first epoch";
  EXPECT_EQ(eo(9).second, kInvalidOffset) << "unknown future epoch";

  EXPECT_EQ(*ReadFileToString(fs(), dir.Sub("leader-epoch-checkpoint")),
            "0\n3\n1 0\n3 50\n5 80\n");
  auto reloaded = LeaderEpochCache::Open(fs(), dir.path());
  EXPECT_EQ((*reloaded)->Entries(), (*cache)->Entries());

  ASSERT_TRUE((*cache)->TruncateFromEnd(Offset(80)).ok());
  EXPECT_EQ((*cache)->Latest()->epoch, LeaderEpoch(3));
  ASSERT_TRUE((*cache)->TruncateFromStart(Offset(60)).ok());
  EXPECT_EQ((*cache)->Entries(), (std::vector<EpochEntry>{{LeaderEpoch(3), Offset(60)}}));
}

TEST(LeaderEpochCacheTest, MalformedFileIsCorruption) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(fs(), dir.Sub("leader-epoch-checkpoint"), "0\n2\n3 10\n1 20\n").ok());
  EXPECT_TRUE(IsCorruption(LeaderEpochCache::Open(fs(), dir.path()).status()));
}

}  // namespace
}  // namespace strata
