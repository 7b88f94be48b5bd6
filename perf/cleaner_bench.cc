// Log compaction throughput (issue 5) beside the raw I/O of the same bytes:
//
//   BM_Clean/<MiB>/<value bytes>/<keys>  a full clean of a partition of <MiB> of keyed records
//       (keys = 0: every key distinct, nothing to drop), all segments cleanable, page cache warm.
//       Counters: clean_MBps = input bytes / cleaning time; raw_MBps = the same input read in
//       1 MiB chunks plus the cleaner's output bytes written to a new file and fdatasynced
//       (what cleaning cannot beat); ratio = clean_MBps / raw_MBps (target >= 0.5);
//       kept = output / input bytes.
//   BM_OffsetMapFill  fills an OffsetMap to capacity with distinct keys: map bytes per key at a
//       full map (target <= 24) and Put throughput.
//
// Run: build/release/perf/strata_cleaner_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
// The partition is written once per argument set to STRATA_BENCH_DIR (bench_util.h) and copied
// afresh before each iteration (untimed).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "log/batch_builder.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/offset_map.h"
#include "perf/bench_util.h"

namespace strata {
namespace {

constexpr uint64_t kSegmentBytes = 16 << 20;
constexpr int kRecordsPerBatch = 16;

LogConfig CompactConfig() {
  LogConfig c;
  c.segment_bytes = kSegmentBytes;
  c.cleanup_compact = true;
  c.cleanup_delete = false;
  return c;
}

// A partition of keyed records, written once; every segment but an empty active one is dirty.
struct Template {
  bench::ScratchDir scratch;
  std::string dir;
  Offset end;
  uint64_t bytes = 0;
  std::vector<std::string> logs;  // segment .log files (the raw baseline reads them)

  Template(int64_t mib, int64_t value_bytes, int64_t keys) : dir(scratch.Sub("bench-0")) {
    auto log = Log::Open(FileSystem::Default(), dir, CompactConfig(), Clock::System(), {});
    if (!log.ok()) abort();
    std::mt19937_64 rng(42);
    std::string value(static_cast<size_t>(value_bytes), 'v');
    int64_t i = 0;
    while (bytes < static_cast<uint64_t>(mib) << 20) {
      RecordBatchBuilder b;
      for (int r = 0; r < kRecordsPerBatch; ++r, ++i) {
        int64_t key = keys == 0 ? i : static_cast<int64_t>(rng() % static_cast<uint64_t>(keys));
        value[0] = static_cast<char>('a' + i % 26);
        b.Add(absl::StrCat("key-", key), value, 1'700'000'000'000 + i);
      }
      std::string batch = *b.Build();
      bytes += batch.size();
      if (!(*log)->Append({reinterpret_cast<uint8_t*>(batch.data()), batch.size()}, {}).ok()) {
        abort();
      }
    }
    if (!(*log)->Roll().ok() || !(*log)->Close().ok()) abort();
    end = (*log)->log_end_offset();
    for (const auto& seg : *(*log)->segments()) {
      if (seg->size_bytes() > 0) logs.push_back(seg->log_path());
    }
  }
};

Template& TemplateFor(const benchmark::State& state) {
  static std::map<std::tuple<int64_t, int64_t, int64_t>, std::unique_ptr<Template>> cache;
  auto key = std::make_tuple(state.range(0), state.range(1), state.range(2));
  auto& t = cache[key];
  if (t == nullptr) t = std::make_unique<Template>(state.range(0), state.range(1), state.range(2));
  return *t;
}

// Reads `inputs` in 1 MiB chunks and writes `write_bytes` to a new file, then fdatasync:
// the I/O a clean of those inputs producing `write_bytes` cannot avoid. Returns seconds.
double RawReadWrite(const std::vector<std::string>& inputs, uint64_t write_bytes,
                    const std::string& out_path) {
  std::vector<char> buf(1 << 20);
  int64_t start = bench::NowNs();
  for (const auto& path : inputs) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) abort();
    while (read(fd, buf.data(), buf.size()) > 0) {
    }
    close(fd);
  }
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) abort();
  for (uint64_t done = 0; done < write_bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), write_bytes - done));
    if (write(out, buf.data(), n) != static_cast<ssize_t>(n)) abort();
    done += n;
  }
  if (fdatasync(out) != 0) abort();
  close(out);
  double seconds = static_cast<double>(bench::NowNs() - start) / 1e9;
  unlink(out_path.c_str());
  return seconds;
}

void BM_Clean(benchmark::State& state) {
  Template& t = TemplateFor(state);
  bench::ScratchDir work;
  std::string dir = work.Sub("bench-0");
  double clean_seconds = 0, raw_seconds = 0;
  uint64_t input = 0, output = 0;
  CleanStats stats;
  // One cleaner for all iterations, as a cleaner thread keeps its offset map (the first touch
  // of its pages is paid once per thread, not per clean).
  Cleaner cleaner(Clock::System(), {});
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::copy(t.dir, dir);
    // The copy is flushed data in a broker; unsynced, its writeback would land on the clean's
    // fsyncs (ext4 data=ordered journal commits).
    sync();
    auto log = Log::Open(FileSystem::Default(), dir, CompactConfig(), Clock::System(),
                         {.recovery_point = t.end, .clean_shutdown = true});
    if (!log.ok()) abort();
    state.ResumeTiming();
    int64_t start = bench::NowNs();
    auto range = CleanableRangeOf(**log, Offset(0), Clock::System()->NowMs());
    if (!range.ok()) abort();
    auto s = cleaner.Clean(**log, *range);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.status().message()).c_str());
      break;
    }
    clean_seconds += static_cast<double>(bench::NowNs() - start) / 1e9;
    state.PauseTiming();
    stats = *s;
    input += range->clean_bytes + range->dirty_bytes;
    output += s->bytes_after;
    if (!(*log)->Close().ok()) abort();
    log->reset();
    raw_seconds += RawReadWrite(t.logs, s->bytes_after, work.Sub("raw.out"));
    state.ResumeTiming();
  }
  double clean_mbps = static_cast<double>(input) / 1e6 / clean_seconds;
  // The raw baseline handled the same input bytes in raw_seconds.
  double raw_mbps = static_cast<double>(input) / 1e6 / raw_seconds;
  state.SetBytesProcessed(static_cast<int64_t>(input));
  state.counters["clean_MBps"] = clean_mbps;
  state.counters["raw_MBps"] = raw_mbps;
  state.counters["ratio"] = clean_mbps / raw_mbps;
  state.counters["kept"] = static_cast<double>(output) / static_cast<double>(input);
  state.counters["keys"] = static_cast<double>(stats.keys);
  state.counters["passes"] = stats.passes;
  state.counters["map_B_per_key"] =
      stats.keys == 0 ? 0 : static_cast<double>(stats.map_bytes) / static_cast<double>(stats.keys);
}
// 64 MiB of 1 KiB values: ~8 versions of each of 8192 keys; all distinct; and 100-byte values
// over 100k keys (~5 versions each).
BENCHMARK(BM_Clean)
    ->Args({64, 1024, 8192})
    ->Args({64, 1024, 0})
    ->Args({64, 100, 100000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_OffsetMapFill(benchmark::State& state) {
  const uint64_t memory = static_cast<uint64_t>(state.range(0)) << 20;
  OffsetMap map(memory, 0.9);
  std::vector<std::string> keys;
  for (uint64_t i = 0; keys.size() < memory / 16; ++i) keys.push_back(absl::StrCat("key-", i));
  uint64_t puts = 0;
  for (auto _ : state) {
    map.Reset(Offset(0));
    for (size_t i = 0; i < keys.size(); ++i) {
      std::span<const uint8_t> k(reinterpret_cast<const uint8_t*>(keys[i].data()), keys[i].size());
      if (!map.Put(k, Offset(static_cast<int64_t>(i)))) break;
      ++puts;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(puts));
  state.counters["keys"] = static_cast<double>(map.size());
  state.counters["map_B_per_key"] =
      static_cast<double>(map.memory_bytes()) / static_cast<double>(map.size());
}
BENCHMARK(BM_OffsetMapFill)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata
