// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of Kafka's
// RecordBatch v2.
//
// Two implementations are chosen once at run time: an SSE4.2 path that runs three independent
// crc32 instruction streams and merges them (the instruction's latency is 3 cycles, its throughput
// 1 per cycle), and a portable slicing-by-8 table path for CPUs without SSE4.2.
//
//   uint32_t crc = crc32c::Value(data, n);
//   uint32_t crc2 = crc32c::Extend(crc, more, m);   // == Value(data ++ more)
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::crc32c {

// Returns the CRC-32C of data[0, n) continuing from `crc` (the value of the preceding bytes).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

// Which path Extend uses on this machine: "sse4.2" or "portable".
const char* Implementation();

// The two paths, exposed so tests and benchmarks can check them against each other.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n);  // requires SSE4.2
bool HardwareAvailable();

}  // namespace strata::crc32c
