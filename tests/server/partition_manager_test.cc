#include "server/partition_manager.h"

#include <gtest/gtest.h>

#include "common/fault_fs.h"
#include "tests/testing/temp_dir.h"

namespace strata::server {
namespace {

class PartitionManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<PartitionManager> Open() {
    BrokerConfig config;
    config.data_dir = dir_.path();
    auto pm = PartitionManager::Open(&fs_, config, &clock_);
    EXPECT_TRUE(pm.ok()) << pm.status();
    return pm.ok() ? std::move(*pm) : nullptr;
  }

  testing::TempDir dir_;
  FaultInjectionFileSystem fs_{FileSystem::Default()};
  ManualClock clock_;
};

// A topic becomes visible only with all of its partitions; a creation that fails half-way (a
// full disk, say) leaves neither the topic nor the partitions it had made.
TEST_F(PartitionManagerTest, AFailedCreationLeavesNoTopicAndNoPartitions) {
  auto pm = Open();
  ASSERT_NE(pm, nullptr);
  fs_.AddRule({.op = FsOp::kCreateDirs, .path_contains = "orders-2", .error = 28});  // ENOSPC
  auto created = pm->CreateTopic("orders", 4, {}, /*validate_only=*/false);
  EXPECT_FALSE(created.ok());
  EXPECT_FALSE(pm->Topic("orders").has_value());
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(pm->Get("orders", p), nullptr) << p;
    EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("orders-" + std::to_string(p)))) << p;
  }
  created = pm->CreateTopic("orders", 4, {}, /*validate_only=*/false);
  ASSERT_TRUE(created.ok()) << created.status();
  for (int32_t p = 0; p < 4; ++p) EXPECT_NE(pm->Get("orders", p), nullptr) << p;
  EXPECT_TRUE(pm->CreatePartitions("orders", 6, /*validate_only=*/false).ok());
  EXPECT_EQ(pm->Topic("orders")->partitions, 6);
  EXPECT_NE(pm->Get("orders", 5), nullptr);
  ASSERT_TRUE(pm->DeleteTopic("orders").ok());
  EXPECT_EQ(pm->Get("orders", 0), nullptr);
  EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("orders-0")));
  EXPECT_TRUE(pm->Shutdown().ok());
}

// The same with the failure after the partition's directory was made (its first segment file
// cannot be created): the directory goes too, so the next start has no stray log to adopt.
TEST_F(PartitionManagerTest, AFailedCreationLeavesNoDirectoryBehind) {
  auto pm = Open();
  ASSERT_NE(pm, nullptr);
  fs_.AddRule({.op = FsOp::kOpen, .path_contains = "orders-2/", .error = 28});  // ENOSPC
  EXPECT_FALSE(pm->CreateTopic("orders", 4, {}, /*validate_only=*/false).ok());
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_FALSE(FileSystem::Default()->Exists(dir_.Sub("orders-" + std::to_string(p)))) << p;
  }
  ASSERT_TRUE(pm->Shutdown().ok());
  pm.reset();
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_FALSE(reopened->Topic("orders").has_value());
  EXPECT_TRUE(reopened->Shutdown().ok());
}

}  // namespace
}  // namespace strata::server
