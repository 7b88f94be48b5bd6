#include "client/partitioner.h"

#include <cassert>

namespace strata::client {

int32_t Murmur2(absl::string_view data) {
  // Unsigned arithmetic: Java's int overflow wraps, C++'s signed overflow is undefined.
  const uint32_t length = static_cast<uint32_t>(data.size());
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  uint32_t h = 0x9747b28cu ^ length;
  const uint32_t blocks = length / 4;
  for (uint32_t i = 0; i < blocks; ++i) {
    const uint8_t* b = bytes + 4 * i;
    uint32_t k =
        uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint8_t* tail = bytes + (length & ~3u);
  switch (length % 4) {
    case 3:
      h ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{tail[0]};
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t KeyPartition(absl::string_view key, int32_t num_partitions) {
  assert(num_partitions > 0);
  return ToPositive(Murmur2(key)) % num_partitions;
}

int32_t StickyPartitioner::Partition(int32_t num_partitions) {
  assert(num_partitions > 0);
  if (current_ >= 0 && current_ < num_partitions) return current_;
  if (num_partitions == 1) return current_ = 0;
  std::uniform_int_distribution<int32_t> pick(0, num_partitions - 1);
  int32_t next = pick(rng_);
  while (next == previous_) next = pick(rng_);
  previous_ = next;
  return current_ = next;
}

}  // namespace strata::client
