#include "common/file.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

TEST(PathTest, JoinAndSplit) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(DirName("/x/y/z.log"), "/x/y");
  EXPECT_EQ(DirName("z.log"), ".");
  EXPECT_EQ(BaseName("/x/y/z.log"), "z.log");
  EXPECT_EQ(BaseName("/x/y/"), "y");
}

TEST(PosixFileSystemTest, WriteReadTruncateSync) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto file = fs->Open(dir.Sub("f"), OpenMode::kCreate);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("hello world")).ok());
  ASSERT_TRUE((*file)->WriteAt(20, AsBytes("!")).ok());
  EXPECT_EQ(*(*file)->Size(), 21u);
  uint8_t buf[32];
  auto n = (*file)->ReadAt(6, {buf, sizeof(buf)});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 15u) << "short only at EOF";
  EXPECT_EQ(AsStringView({buf, 5}), "world");
  EXPECT_EQ(buf[5], 0) << "hole reads as zeros";
  ASSERT_TRUE((*file)->Truncate(5).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  EXPECT_EQ(*fs->FileSize(dir.Sub("f")), 5u);
  EXPECT_GE((*file)->native_handle(), 0);
}

TEST(PosixFileSystemTest, OpenModes) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  EXPECT_TRUE(absl::IsNotFound(fs->Open(dir.Sub("missing"), OpenMode::kReadOnly).status()));
  ASSERT_TRUE(fs->Open(dir.Sub("x"), OpenMode::kCreateExclusive).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(fs->Open(dir.Sub("x"), OpenMode::kCreateExclusive).status()));
}

TEST(PosixFileSystemTest, AtomicWriteAndTree) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  std::string sub = dir.Sub("a/b/c");
  ASSERT_TRUE(fs->CreateDirs(sub).ok());
  ASSERT_TRUE(WriteFileAtomically(fs, JoinPath(sub, "cp"), "v1").ok());
  ASSERT_TRUE(WriteFileAtomically(fs, JoinPath(sub, "cp"), "version two").ok());
  EXPECT_EQ(*ReadFileToString(fs, JoinPath(sub, "cp")), "version two");
  EXPECT_FALSE(fs->Exists(JoinPath(sub, "cp.tmp")));
  auto names = fs->ListDir(sub);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u);
  ASSERT_TRUE(RemoveTree(fs, dir.Sub("a")).ok());
  EXPECT_FALSE(fs->Exists(dir.Sub("a")));
}

}  // namespace
}  // namespace strata
