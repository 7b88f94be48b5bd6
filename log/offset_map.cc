#include "log/offset_map.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace strata {

namespace {
constexpr uint32_t kEmpty = UINT32_MAX;
}  // namespace

OffsetMap::OffsetMap(uint64_t memory_bytes, double load_factor)
    : total_slots_(std::max<uint64_t>(memory_bytes / kSlotBytes, 2)),
      load_factor_(std::clamp(load_factor, 0.1, 0.99)),
      table_(new uint8_t[total_slots_ * kSlotBytes]) {
  Reset(Offset(0), 0);
}

void OffsetMap::Reset(Offset base, uint64_t max_keys) {
  // Enough slots for max_keys at the load factor (at least 1024), within the budget.
  double wanted = static_cast<double>(max_keys) / load_factor_ + 1;
  slots_ = wanted >= static_cast<double>(total_slots_)
               ? total_slots_
               : std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1024, total_slots_);
  capacity_ = std::clamp<uint64_t>(
      static_cast<uint64_t>(static_cast<double>(slots_) * load_factor_), 1, slots_ - 1);
  // 0xFF bytes: every relative offset reads as kEmpty.
  std::memset(table_.get(), 0xFF, slots_ * kSlotBytes);
  size_ = 0;
  collisions_ = 0;
  base_ = base;
}

OffsetMap::Digest OffsetMap::Hash(std::span<const uint8_t> key) {
  XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  return {h.low64, h.high64};
}

size_t OffsetMap::Find(const Digest& d) const {
  size_t i = static_cast<size_t>(d.lo % slots_);
  while (true) {
    const uint8_t* slot = table_.get() + i * kSlotBytes;
    uint32_t rel;
    std::memcpy(&rel, slot + 16, 4);
    if (rel == kEmpty || std::memcmp(slot, &d, 16) == 0) return i;
    i = i + 1 == slots_ ? 0 : i + 1;
  }
}

bool OffsetMap::Put(std::span<const uint8_t> key, Offset offset) {
  assert(offset >= base_ && offset.value() - base_.value() < max_span());
  Digest d = Hash(key);
  size_t home = static_cast<size_t>(d.lo % slots_);
  size_t i = Find(d);
  uint8_t* slot = table_.get() + i * kSlotBytes;
  uint32_t rel;
  std::memcpy(&rel, slot + 16, 4);
  if (rel == kEmpty) {
    if (size_ >= capacity_) return false;  // capacity_ < slots_: Find always ends
    std::memcpy(slot, &d, 16);
    ++size_;
    if (i != home) ++collisions_;
  }
  rel = static_cast<uint32_t>(offset.value() - base_.value());
  std::memcpy(slot + 16, &rel, 4);
  return true;
}

std::optional<Offset> OffsetMap::Get(std::span<const uint8_t> key) const {
  const uint8_t* slot = table_.get() + Find(Hash(key)) * kSlotBytes;
  uint32_t rel;
  std::memcpy(&rel, slot + 16, 4);
  if (rel == kEmpty) return std::nullopt;
  return base_ + static_cast<int64_t>(rel);
}

}  // namespace strata
