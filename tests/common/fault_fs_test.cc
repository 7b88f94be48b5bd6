#include "common/fault_fs.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "common/bytes.h"
#include "common/status.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

class FaultFsTest : public ::testing::Test {
 protected:
  std::string Read(const std::string& name) {
    auto s = ReadFileToString(FileSystem::Default(), dir_.Sub(name));
    return s.ok() ? *s : "<missing>";
  }
  testing::TempDir dir_;
  FaultInjectionFileSystem fs_{FileSystem::Default()};
};

TEST_F(FaultFsTest, PowerLossKeepsOnlySyncedBytes) {
  ASSERT_TRUE(fs_.SyncDir(dir_.path()).ok());
  auto f = fs_.Open(dir_.Sub("log"), OpenMode::kCreate);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(fs_.SyncDir(dir_.path()).ok());  // the name is durable
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("synced|")).ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->WriteAt(7, AsBytes("lost")).ok());
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("S")).ok());  // overwrite of synced bytes, not synced
  EXPECT_EQ(fs_.SyncedSize(dir_.Sub("log")), 7u);
  EXPECT_EQ(Read("log"), "Synced|lost");
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("log"), "synced|");
}

TEST_F(FaultFsTest, TruncateThenGrowIsZeroFilledInImage) {
  auto f = fs_.Open(dir_.Sub("x"), OpenMode::kCreate);
  ASSERT_TRUE(fs_.SyncDir(dir_.path()).ok());
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("abcdef")).ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Truncate(2).ok());
  ASSERT_TRUE((*f)->WriteAt(4, AsBytes("Z")).ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("x"), std::string("ab\0\0Z", 5));
}

TEST_F(FaultFsTest, UnsyncedCreateAndRenameAreUndone) {
  {
    auto f = fs_.Open(dir_.Sub("old"), OpenMode::kCreate);
    ASSERT_TRUE((*f)->WriteAt(0, AsBytes("old")).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  ASSERT_TRUE(fs_.SyncDir(dir_.path()).ok());
  {
    auto f = fs_.Open(dir_.Sub("new.tmp"), OpenMode::kCreate);
    ASSERT_TRUE((*f)->WriteAt(0, AsBytes("new")).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  ASSERT_TRUE(fs_.Rename(dir_.Sub("new.tmp"), dir_.Sub("old")).ok());
  auto g = fs_.Open(dir_.Sub("ghost"), OpenMode::kCreate);
  EXPECT_EQ(Read("old"), "new");
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("old"), "old") << "the unsynced rename is rolled back";
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("ghost")));
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("new.tmp")))
      << "new.tmp was itself never made durable";
}

TEST_F(FaultFsTest, RulesFailChosenCalls) {
  fs_.AddRule({.op = FsOp::kSync, .path_contains = "a", .error = EIO, .skip = 1, .times = 1});
  auto f = fs_.Open(dir_.Sub("a"), OpenMode::kCreate);
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("1")).ok());
  EXPECT_TRUE((*f)->Sync().ok()) << "skip=1 lets the first through";
  absl::Status failed = (*f)->Sync();
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("injected"), std::string::npos);
  EXPECT_TRUE((*f)->Sync().ok()) << "times=1";
}

TEST_F(FaultFsTest, ShortWriteWritesHalf) {
  fs_.AddRule({.op = FsOp::kWrite, .error = ENOSPC, .short_write = true});
  auto f = fs_.Open(dir_.Sub("s"), OpenMode::kCreate);
  absl::Status s = (*f)->WriteAt(0, AsBytes("12345678"));
  EXPECT_TRUE(IsNoSpace(s)) << s;
  EXPECT_EQ(Read("s"), "1234");
}

TEST_F(FaultFsTest, SpaceLimitFailsGrowthWithEnospc) {
  auto f = fs_.Open(dir_.Sub("d"), OpenMode::kCreate);
  fs_.SetSpaceLimit(10);
  ASSERT_TRUE((*f)->WriteAt(0, AsBytes("123456")).ok());
  absl::Status s = (*f)->WriteAt(6, AsBytes("789abc"));
  EXPECT_TRUE(IsNoSpace(s)) << s;
  EXPECT_EQ(Read("d"), "123456789a") << "what fits is written";
  EXPECT_TRUE((*f)->WriteAt(0, AsBytes("X")).ok()) << "overwrites need no space";
  EXPECT_TRUE(IsNoSpace((*f)->Truncate(100)));
  ASSERT_TRUE((*f)->Truncate(4).ok());
  EXPECT_TRUE((*f)->WriteAt(4, AsBytes("zz")).ok()) << "space returns after truncation";
  fs_.SetSpaceLimit(std::nullopt);
  EXPECT_TRUE((*f)->WriteAt(100, AsBytes("far")).ok());
}

TEST_F(FaultFsTest, CrashAfterStopsAllMutations) {
  auto f = fs_.Open(dir_.Sub("c"), OpenMode::kCreate);
  fs_.CrashAfter(2);
  EXPECT_TRUE((*f)->WriteAt(0, AsBytes("a")).ok());
  EXPECT_TRUE((*f)->WriteAt(1, AsBytes("b")).ok());
  EXPECT_FALSE((*f)->WriteAt(2, AsBytes("c")).ok());
  EXPECT_TRUE(fs_.crashed());
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_FALSE(fs_.Rename(dir_.Sub("c"), dir_.Sub("d")).ok());
  EXPECT_EQ(Read("c"), "ab");
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("c"))) << "never dir-synced";
  EXPECT_FALSE(fs_.crashed());
}

TEST_F(FaultFsTest, DirectoryRenameAndRemoveAreTracked) {
  ASSERT_TRUE(fs_.CreateDirs(dir_.Sub("p-0")).ok());
  {
    auto f = fs_.Open(dir_.Sub("p-0/a.log"), OpenMode::kCreate);
    ASSERT_TRUE((*f)->WriteAt(0, AsBytes("abc")).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  ASSERT_TRUE(fs_.SyncDir(dir_.Sub("p-0")).ok());
  ASSERT_TRUE(fs_.Rename(dir_.Sub("p-0"), dir_.Sub("p-0.1-delete")).ok());
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(Read("p-0.1-delete/a.log"), "abc") << "the file moved with its directory";
  EXPECT_TRUE(FileSystem::Default()->IsDirectory(dir_.Sub("p-0.1-delete")));
  ASSERT_TRUE(RemoveTree(&fs_, dir_.Sub("p-0.1-delete")).ok());
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("p-0.1-delete"))) << "nothing recreated";
}

TEST_F(FaultFsTest, RandomFaultsAreSeeded) {
  auto run = [&](uint64_t seed) {
    FaultInjectionFileSystem fs(FileSystem::Default());
    auto f = fs.Open(dir_.Sub("r"), OpenMode::kCreate);
    fs.SetRandomFaults(seed, 0.3);
    std::string pattern;
    for (int i = 0; i < 64; ++i) pattern.push_back((*f)->WriteAt(i, AsBytes("x")).ok() ? '.' : 'F');
    return pattern;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
  EXPECT_NE(run(7).find('F'), std::string::npos);
}

}  // namespace
}  // namespace strata
