// A real kill -9: a child process appends with a flush per batch and reports each acknowledged
// offset over a pipe; the parent kills it at a random moment, reopens the log, and checks that
// every acknowledged offset is there with the right record. Several rounds on the same log.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "log/log.h"
#include "tests/testing/batches.h"
#include "tests/testing/log_reader.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

LogConfig SmallSegments() {
  LogConfig config;
  config.segment_bytes = 64 * 1024;
  config.flush_messages = 1;
  return config;
}

[[noreturn]] void ChildAppendForever(const std::string& dir, int fd) {
  auto log = Log::Open(FileSystem::Default(), dir, SmallSegments(), Clock::System(), {});
  if (!log.ok()) _exit(2);
  for (int64_t i = (*log)->log_end_offset().value();; ++i) {
    RecordBatchBuilder b;
    b.Add(absl::StrCat("k", i), std::string(100 + i % 900, 'v'), i);
    std::string batch = *b.Build();
    auto info = (*log)->Append(testing::Mutable(batch), {});
    if (!info.ok() || !(*log)->Flush(info->last_offset + 1).ok()) _exit(3);
    int64_t acked = info->last_offset.value();
    if (write(fd, &acked, sizeof(acked)) != sizeof(acked)) _exit(4);
  }
}

TEST(Kill9Test, AcknowledgedOffsetsSurviveSigkill) {
  testing::TempDir dir;
  std::string path = dir.Sub("t-0");
  std::mt19937 rng(static_cast<uint32_t>(time(nullptr)));
  uint32_t seed = rng();
  SCOPED_TRACE(absl::StrCat("kill delays seeded with ", seed));
  std::mt19937 delays(seed);
  int64_t max_acked = -1;
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildAppendForever(path, fds[1]);
    }
    close(fds[1]);
    int64_t acked;
    // Start the clock once the child is appending (a loaded machine may take a while to get
    // there), then kill it at a random moment.
    ASSERT_EQ(read(fds[0], &acked, sizeof(acked)), static_cast<ssize_t>(sizeof(acked)));
    max_acked = std::max(max_acked, acked);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(20 + delays() % 200);
    while (std::chrono::steady_clock::now() < deadline &&
           read(fds[0], &acked, sizeof(acked)) == sizeof(acked)) {
      max_acked = std::max(max_acked, acked);
    }
    kill(pid, SIGKILL);
    while (read(fds[0], &acked, sizeof(acked)) == sizeof(acked)) {
      max_acked = std::max(max_acked, acked);  // acknowledged before the kill landed
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own with " << WEXITSTATUS(status);

    auto log = Log::Open(FileSystem::Default(), path, SmallSegments(), Clock::System(), {});
    ASSERT_TRUE(log.ok()) << log.status();
    auto records = testing::ReadAllRecords(**log);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_GT(static_cast<int64_t>(records->size()), max_acked) << "round " << round;
    for (size_t i = 0; i < records->size(); ++i) {
      ASSERT_EQ((*records)[i].offset, static_cast<int64_t>(i));
      ASSERT_EQ((*records)[i].key, absl::StrCat("k", i));
    }
  }
  EXPECT_GT(max_acked, 10) << "the child made progress";
}

}  // namespace
}  // namespace strata
