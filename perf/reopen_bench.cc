// Reopening a 1 GiB partition (one segment of 1 MiB batches, page cache warm):
//   BM_ReopenClean          after a clean shutdown (indexes trusted, tail of the index scanned)
//   BM_ReopenUnclean/<MiB>  after a crash with <MiB> of data past the recovery point, which is
//                           validated batch by batch (CRC) and re-indexed
// Targets (issue 2): clean < 50 ms; unclean proportional to the unflushed tail only.
#include <benchmark/benchmark.h>

#include "common/clock.h"
#include "log/log.h"
#include "perf/bench_util.h"

namespace strata {
namespace {

struct Partition {
  bench::ScratchDir scratch;
  std::string dir;
  Offset end;
  uint64_t batch_bytes = 0;
  Partition() : dir(scratch.Sub("big-0")) {
    auto log = Log::Open(FileSystem::Default(), dir, LogConfig(), Clock::System(), {});
    if (!log.ok()) abort();
    std::string batch = bench::BatchOfSize(1 << 20);
    batch_bytes = batch.size();
    std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(batch.data()), batch.size());
    for (uint64_t written = 0; written + batch.size() <= (1ull << 30); written += batch.size()) {
      if (!(*log)->Append(bytes, {}).ok()) abort();
    }
    if (!(*log)->Close().ok()) abort();
    end = (*log)->log_end_offset();
  }
};

Partition& P() {
  static Partition* p = new Partition();
  return *p;
}

void BM_ReopenClean(benchmark::State& state) {
  Partition& p = P();
  for (auto _ : state) {
    auto log = Log::Open(FileSystem::Default(), p.dir, LogConfig(), Clock::System(),
                         {.recovery_point = p.end, .clean_shutdown = true});
    if (!log.ok() || (*log)->log_end_offset() != p.end) abort();
    state.PauseTiming();
    if (!(*log)->Close().ok()) abort();  // a clean shutdown again, for the next iteration
    log->reset();
    state.ResumeTiming();
  }
  state.counters["partition_MiB"] = 1024;
}
BENCHMARK(BM_ReopenClean)->Unit(benchmark::kMillisecond)->Iterations(10);

void BM_ReopenUnclean(benchmark::State& state) {
  Partition& p = P();
  // Records per MiB of log: batches are ~1 MiB, so the tail is about `MiB` batches.
  int64_t records_per_batch = (p.end.value()) / static_cast<int64_t>((1ull << 30) / p.batch_bytes);
  Offset rp = p.end - state.range(0) * records_per_batch;
  for (auto _ : state) {
    auto log = Log::Open(FileSystem::Default(), p.dir, LogConfig(), Clock::System(),
                         {.recovery_point = rp, .clean_shutdown = false});
    if (!log.ok() || (*log)->log_end_offset() != p.end) abort();
    state.PauseTiming();
    if (!(*log)->Close().ok()) abort();
    log->reset();
    state.ResumeTiming();
  }
  state.counters["unflushed_MiB"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_ReopenUnclean)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->Arg(1023)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace
}  // namespace strata
