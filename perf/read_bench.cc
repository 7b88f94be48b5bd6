// Read-side costs on a 256 MiB partition of 1 KiB batches (page cache warm):
//   BM_OffsetIndexLookup  binary search of the sparse index
//   BM_Translate          offset -> file position of its batch (index + header scan)
//   BM_LogRead            a whole fetch positioning: Log::Read of 1 MiB from a random offset
// Target (issue 2): read positioning < 1 us.
#include <benchmark/benchmark.h>

#include <random>

#include "common/clock.h"
#include "log/log.h"
#include "perf/bench_util.h"

namespace strata {
namespace {

struct Fixture {
  bench::ScratchDir scratch;
  std::unique_ptr<Log> log;
  int64_t end = 0;
  Fixture() {
    auto opened =
        Log::Open(FileSystem::Default(), scratch.Sub("t-0"), LogConfig(), Clock::System(), {});
    if (!opened.ok()) abort();
    log = std::move(*opened);
    std::string batch = bench::BatchOfSize(1024);
    std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(batch.data()), batch.size());
    for (uint64_t written = 0; written < (256u << 20); written += batch.size()) {
      if (!log->Append(bytes, {}).ok()) abort();
    }
    end = log->log_end_offset().value();
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

void BM_OffsetIndexLookup(benchmark::State& state) {
  const Segment& seg = *F().log->segments()->front();
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    auto e = seg.offset_index().Lookup(Offset(static_cast<int64_t>(rng() % F().end)));
    benchmark::DoNotOptimize(e);
  }
  state.counters["index_entries"] = static_cast<double>(seg.offset_index().size());
}
BENCHMARK(BM_OffsetIndexLookup);

void BM_Translate(benchmark::State& state) {
  const Segment& seg = *F().log->segments()->front();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    auto s = seg.Translate(Offset(static_cast<int64_t>(rng() % F().end)));
    if (!s.ok() || !s->has_value()) abort();
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Translate);

void BM_LogRead(benchmark::State& state) {
  Log& log = *F().log;
  std::mt19937_64 rng(3);
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto r = log.Read(Offset(static_cast<int64_t>(rng() % F().end)), 1 << 20, log.high_watermark());
    if (!r.ok()) abort();
    bytes += r->slice.length;
  }
  state.counters["slice_bytes"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_LogRead);

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// A consumer reading the partition front to back in 64 KiB fetches: each fetch starts where the
// previous one ended (a remembered boundary: no index search, no scan) and finds the last whole
// batch within 64 KiB (index jump + one header read near the limit).
void BM_SequentialFetch(benchmark::State& state) {
  Log& log = *F().log;
  const Segment& seg = *log.segments()->front();
  // The fetch offsets a consumer would send, computed once.
  static std::vector<Offset>* starts = [&] {
    auto* v = new std::vector<Offset>();
    for (Offset next(0); next < log.log_end_offset();) {
      v->push_back(next);
      auto r = log.Read(next, 64 << 10, log.high_watermark());
      if (!r.ok()) abort();
      uint64_t end = r->slice.position + r->slice.length;
      (void)seg.ScanBatches(FilePosition(r->slice.position), [&](const BatchSummary& s) {
        if (s.position.value() >= end) return false;
        next = s.last_offset + 1;
        return true;
      });
    }
    return v;
  }();
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto r = log.Read((*starts)[i], 64 << 10, log.high_watermark());
    if (!r.ok()) abort();
    bytes += r->slice.length;
    if (++i == starts->size()) i = 0;
  }
  state.counters["slice_bytes"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_SequentialFetch);

// The machine's floor for a random lookup: one 4 KiB pread at a random position of the same file.
void BM_RawPread4KiB(benchmark::State& state) {
  const Segment& seg = *F().log->segments()->front();
  std::shared_ptr<File> file = seg.log_file();
  uint64_t size = seg.size_bytes();
  std::vector<uint8_t> buf(4160);
  std::mt19937_64 rng(4);
  for (auto _ : state) {
    auto n = file->ReadAt(rng() % (size - buf.size()), buf);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_RawPread4KiB);

// Positioning alone for a fetch that continues where the last one ended.
void BM_FindBatchStartAtBoundary(benchmark::State& state) {
  Log& log = *F().log;
  const Segment& seg = *log.segments()->front();
  auto r = log.Read(Offset(1000), 64 << 10, log.high_watermark());
  if (!r.ok()) abort();
  Offset next = Offset(1000);
  (void)seg.ScanBatches(FilePosition(r->slice.position), [&](const BatchSummary& s) {
    if (s.position.value() >= r->slice.position + r->slice.length) return false;
    next = s.last_offset + 1;
    return true;
  });
  for (auto _ : state) {
    auto pos = seg.FindBatchStart(next);
    if (!pos.ok() || !pos->has_value()) abort();
    benchmark::DoNotOptimize(pos);
  }
}
BENCHMARK(BM_FindBatchStartAtBoundary);

}  // namespace
}  // namespace strata
