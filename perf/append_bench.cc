// Append throughput of the Log beside raw write(2) of the same bytes to the same filesystem,
// measured in the same iteration (order alternating), with the ratio as a counter.
// Target (issue 2): append/raw >= 0.9 at 16 KiB batches.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/log.h"
#include "perf/bench_util.h"

namespace strata {
namespace {

constexpr uint64_t kRoundBytes = 128 << 20;

double RawWriteSeconds(const std::string& path, const std::string& batch, size_t n) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  int64_t start = bench::NowNs();
  for (size_t i = 0; i < n; ++i) {
    for (size_t done = 0; done < batch.size();) {
      ssize_t w = ::write(fd, batch.data() + done, batch.size() - done);
      if (w <= 0) abort();
      done += static_cast<size_t>(w);
    }
  }
  int64_t end = bench::NowNs();
  ::close(fd);
  ::unlink(path.c_str());
  return static_cast<double>(end - start) / 1e9;
}

double LogAppendSeconds(const std::string& dir, std::string& batch, size_t n) {
  auto log = Log::Open(FileSystem::Default(), dir, LogConfig(), Clock::System(), {});
  if (!log.ok()) abort();
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(batch.data()), batch.size());
  int64_t start = bench::NowNs();
  for (size_t i = 0; i < n; ++i) {
    if (!(*log)->Append(bytes, {.leader_epoch = LeaderEpoch(0)}).ok()) abort();
  }
  int64_t end = bench::NowNs();
  log->reset();
  (void)RemoveTree(FileSystem::Default(), dir);
  return static_cast<double>(end - start) / 1e9;
}

void BM_AppendVsRawWrite(benchmark::State& state) {
  bench::ScratchDir scratch;
  std::string batch = bench::BatchOfSize(static_cast<size_t>(state.range(0)));
  size_t n = kRoundBytes / batch.size();
  double raw_s = 0, log_s = 0;
  int round = 0;
  for (auto _ : state) {
    std::string dir = scratch.Sub("t-" + std::to_string(round));
    double r, l;
    if (round++ % 2 == 0) {
      r = RawWriteSeconds(scratch.Sub("raw"), batch, n);
      l = LogAppendSeconds(dir, batch, n);
    } else {
      l = LogAppendSeconds(dir, batch, n);
      r = RawWriteSeconds(scratch.Sub("raw"), batch, n);
    }
    raw_s += r;
    log_s += l;
    state.SetIterationTime(l);
  }
  double bytes = static_cast<double>(n * batch.size()) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["batch_bytes"] = static_cast<double>(batch.size());
  state.counters["raw_MBps"] = bytes / raw_s / 1e6;
  state.counters["log_MBps"] = bytes / log_s / 1e6;
  state.counters["log_over_raw"] = raw_s / log_s;
}

BENCHMARK(BM_AppendVsRawWrite)
    ->Arg(1 << 10)
    ->Arg(16 << 10)
    ->Arg(1 << 20)
    ->UseManualTime()
    ->Iterations(4)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata
