// OffsetMap: key digest -> latest offset, in a fixed memory budget (Kafka's SkimpyOffsetMap).
//
//   OffsetMap map(128 << 20, 0.9);      // bytes, load factor
//   map.Reset(Offset(4096));             // offsets stored relative to this base
//   if (!map.Put(key_bytes, offset)) ... // full: stop the pass at a segment boundary
//   std::optional<Offset> latest = map.Get(key_bytes);
//
// Layout: open addressing with linear probing over 20-byte slots: a 16-byte XXH3-128 digest of
// the key and the offset relative to the base as a uint32 (UINT32_MAX marks an empty slot), so a
// pass covers fewer than 2^32 - 1 offsets. The table starts small (64 Ki slots at most, within
// L2) and grows 4x at half load while a bigger one fits in the budget, then once more to 97% of
// the budget — the entries are parked at the budget's end during a rehash, so memory never
// exceeds it; the last table fills to the load factor. At the default 0.9 a full map costs 20 / 0.9
// = 22.2 bytes per key. Two keys with equal 128-bit digests are treated as one key (as Kafka does
// with MD5); the odds are negligible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "common/types.h"

namespace strata {

class OffsetMap {
 public:
  static constexpr size_t kSlotBytes = 20;

  OffsetMap(uint64_t memory_bytes, double load_factor);

  // Empties the map; offsets put from now on must lie in [base, base + max_span()). At most
  // `max_keys` keys are expected (say, the records to be read): the first table is no bigger
  // than they need, so a small partition does not pay for a large budget.
  void Reset(Offset base, uint64_t max_keys = UINT64_MAX);
  // Records `offset` as the latest for `key` (a later Put for the same key replaces it). False
  // when the map is full (size() == capacity()) and the key is new.
  // Grows the table when it can.
  bool Put(std::span<const uint8_t> key, Offset offset);
  std::optional<Offset> Get(std::span<const uint8_t> key) const;

  uint64_t size() const { return size_; }
  // Keys the current table takes before it grows (or, at its final size, refuses new keys).
  uint64_t capacity() const { return capacity_; }
  uint64_t slots() const { return slots_; }
  uint64_t memory_bytes() const { return slots_ * kSlotBytes; }  // in use
  Offset base() const { return base_; }
  static constexpr int64_t max_span() { return int64_t{UINT32_MAX} - 1; }
  // Probes beyond the home slot so far (a measure of clustering; benchmarks).
  uint64_t collisions() const { return collisions_; }

 private:
  struct Digest {
    uint64_t lo, hi;
  };
  static Digest Hash(std::span<const uint8_t> key);
  size_t Home(const Digest& d) const;
  // Uses the first `slots` slots, emptied.
  void Resize(uint64_t slots);
  void Grow();
  bool LastGrowth() const;  // the next growth takes the rest of the budget
  // Called when size_ reached capacity_: grows, or makes the table final. False when full.
  bool MakeRoom();
  // The slot holding `d`, or the empty slot where it would go.
  size_t Find(const Digest& d) const;

  uint64_t total_slots_ = 0;
  double load_factor_ = 0.9;
  uint64_t slots_ = 0;     // in use since Reset
  uint64_t capacity_ = 0;  // keys before growing, or before refusing when !can_grow_
  bool can_grow_ = false;
  std::unique_ptr<uint8_t[]> table_;
  uint64_t size_ = 0;
  Offset base_{0};
  uint64_t collisions_ = 0;
};

}  // namespace strata
