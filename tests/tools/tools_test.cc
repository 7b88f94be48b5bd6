// Runs the strata binary the way an operator would.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/corrupt.h"
#include "tests/testing/shell.h"
#include "tests/testing/temp_dir.h"

#ifndef STRATA_BINARY
#error "STRATA_BINARY must name the strata executable"
#endif

namespace strata {
namespace {

struct Result {
  int exit_code;
  std::string out;
};

Result Strata(const std::string& args) {
  testing::ShellResult r = testing::Shell(absl::StrCat(STRATA_BINARY, " ", args, " 2>&1"));
  return {r.exit_code, r.out};
}

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result r = Strata(absl::StrCat("log generate ", dir_.path(),
                                   " --records 5000 --batch-records 50 --record-bytes 64"
                                   " --segment-bytes 64KiB --compression zstd --partitions 2"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    ASSERT_NE(r.out.find("Wrote 5000 records"), std::string::npos) << r.out;
  }
  std::string Partition() { return dir_.Sub("demo-0"); }
  testing::TempDir dir_;
};

TEST_F(ToolsTest, VerifyPassesOnAGoodDataDir) {
  Result r = Strata(absl::StrCat("log verify ", dir_.path()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Verified 2 partitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5000 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": OK"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, VerifyFindsAFlippedBitAndABadIndex) {
  std::string log = absl::StrCat(Partition(), "/00000000000000000000.log");
  testing::XorByte(log, 200, 0x40);
  Result r = Strata(absl::StrCat("log verify ", Partition()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("PROBLEM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CRC mismatch"), std::string::npos) << r.out;
  testing::XorByte(log, 200, 0x40);  // repaired
  std::string index = absl::StrCat(Partition(), "/00000000000000000000.index");
  testing::SetBytes(index, 4, std::string("\0\0\0\x07", 4));  // first entry's position wrong
  r = Strata(absl::StrCat("log verify ", Partition()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("does not name a batch"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, VerifyReportsTornTailAndMissingIndex) {
  auto logs = FileSystem::Default()->ListDir(Partition());
  std::string last;
  for (const auto& name : *logs) {
    if (name.size() == 24 && name.substr(20) == ".log" && name > last) last = name;
  }
  std::string path = JoinPath(Partition(), last);
  testing::ShrinkTo(path, testing::SizeOf(path) - 7);
  ASSERT_TRUE(FileSystem::Default()
                  ->Remove(absl::StrCat(Partition(), "/00000000000000000000.timeindex"))
                  .ok());
  Result r = Strata(absl::StrCat("log verify ", Partition()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("torn or corrupt tail"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("index file missing"), std::string::npos) << r.out;
}

TEST_F(ToolsTest, DumpPrintsBatchesRecordsAndIndexes) {
  Result r =
      Strata(absl::StrCat("log dump ", Partition(), "/00000000000000000000.log --print-data"));
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("baseOffset: 0 lastOffset: 49 count: 50"), std::string::npos);
  EXPECT_NE(r.out.find("compresscodec: zstd"), std::string::npos);
  EXPECT_NE(r.out.find("isvalid: true"), std::string::npos);
  EXPECT_NE(r.out.find("| offset: 0 CreateTime: "), std::string::npos);
  EXPECT_NE(r.out.find("key: key-0 payload: "), std::string::npos);
  r = Strata(absl::StrCat("log dump ", Partition(), " --index"));
  EXPECT_EQ(r.exit_code, 0);
  // The first index entry names a batch's last offset and that batch's position.
  std::smatch m;
  std::regex entry("00000000000000000000\\.index\noffset: (\\d+) position: (\\d+)");
  ASSERT_TRUE(std::regex_search(r.out, m, entry)) << r.out.substr(0, 3000);
  EXPECT_NE(r.out.find(absl::StrCat("lastOffset: ", m[1].str(), " ")), std::string::npos);
  EXPECT_NE(r.out.find(absl::StrCat("position: ", m[2].str(), " ")), std::string::npos);
  EXPECT_NE(r.out.find("timestamp: "), std::string::npos);
  EXPECT_EQ(r.out.find("| offset"), std::string::npos) << "records only with --records";
}

TEST_F(ToolsTest, DumpShowsCorruption) {
  std::string log = absl::StrCat(Partition(), "/00000000000000000000.log");
  testing::XorByte(log, 300, 0x01);
  Result r = Strata(absl::StrCat("log dump ", log));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("isvalid: false"), std::string::npos);
}

TEST(ToolsUsageTest, BadArgumentsGiveUsage) {
  EXPECT_EQ(Strata("").exit_code, 2);
  EXPECT_EQ(Strata("log frobnicate").exit_code, 2);
  EXPECT_EQ(Strata("log dump").exit_code, 2);
  EXPECT_EQ(Strata("log dump /x --nope").exit_code, 2);
  EXPECT_EQ(Strata("log dump /definitely/missing").exit_code, 1);
  EXPECT_EQ(Strata("log verify /definitely/missing").exit_code, 1);
  EXPECT_EQ(Strata("log generate /tmp/x --records many").exit_code, 2);
  EXPECT_EQ(Strata("--help").exit_code, 0);
}

}  // namespace
}  // namespace strata
