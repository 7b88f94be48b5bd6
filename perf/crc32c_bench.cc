// CRC-32C throughput, hardware (three-way interleaved SSE4.2) and portable, on one core.
// Target (issue 2): >= 8 GB/s.
#include <benchmark/benchmark.h>

#include <vector>

#include "common/crc32c.h"

namespace strata {
namespace {

template <uint32_t (*Fn)(uint32_t, const void*, size_t)>
void BM_Crc32c(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)), 0xa5);
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = Fn(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK_TEMPLATE(BM_Crc32c, crc32c::ExtendHardware)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK_TEMPLATE(BM_Crc32c, crc32c::ExtendPortable)->Arg(16 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace strata
