// Kafka's default partitioner, so a key lands on the same partition from this client as from
// the Java client, librdkafka's "murmur2_random" partitioner or kafka-python.
//
//   int32_t p = KeyPartition("user-42", num_partitions);   // toPositive(murmur2(key)) % n
//
// Murmur2 is Kafka's Utils.murmur2: MurmurHash2, 32-bit, seed 0x9747b28c, little-endian 4-byte
// blocks, the tail mixed in the switch-fallthrough order, returned as a signed int.
// Records without a key use a sticky partition (see StickyPartitioner): one partition until
// its batch is closed, then another, so small records still fill whole batches.
#pragma once

#include <cstdint>
#include <random>

#include "absl/strings/string_view.h"

namespace strata::client {

// Kafka's Utils.murmur2 of `data`.
int32_t Murmur2(absl::string_view data);
// Kafka's Utils.toPositive: clears the sign bit (not abs(), which overflows on INT_MIN).
inline int32_t ToPositive(int32_t h) { return h & 0x7fffffff; }
// The partition for a non-null key; `num_partitions` must be > 0.
int32_t KeyPartition(absl::string_view key, int32_t num_partitions);

// Chooses the partition for records without a key: the current one until NextBatch(), then a
// different random one (when there is more than one). Not thread-safe.
class StickyPartitioner {
 public:
  explicit StickyPartitioner(uint64_t seed) : rng_(seed) {}
  // The sticky partition for a topic with `num_partitions` partitions.
  int32_t Partition(int32_t num_partitions);
  // The current sticky partition, -1 before the first Partition() call.
  int32_t current() const { return current_; }
  // The batch on the sticky partition was closed: move on.
  void NextBatch() { current_ = -1; }

 private:
  std::mt19937_64 rng_;
  int32_t current_ = -1;
  int32_t previous_ = -1;
};

}  // namespace strata::client
