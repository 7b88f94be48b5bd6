#include "log/offset_map.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace strata {

namespace {

constexpr uint32_t kEmpty = UINT32_MAX;
constexpr uint64_t kMinSlots = 1024;
constexpr uint64_t kFirstSlotsCap = 64 * 1024;  // the first table: 1.25 MiB, within L2
constexpr double kGrowLoad = 0.5;               // grow past this while the budget allows
constexpr double kFinalPark = 1.0 / 32;         // entries parked for the last growth / budget

uint32_t RelAt(const uint8_t* slot) {
  uint32_t rel;
  std::memcpy(&rel, slot + 16, 4);
  return rel;
}

}  // namespace

OffsetMap::OffsetMap(uint64_t memory_bytes, double load_factor)
    : total_slots_(std::max<uint64_t>(memory_bytes / kSlotBytes, 2)),
      load_factor_(std::clamp(load_factor, 0.1, 0.99)),
      table_(new uint8_t[total_slots_ * kSlotBytes]) {
  Reset(Offset(0), 0);
}

void OffsetMap::Resize(uint64_t slots) {
  slots_ = slots;
  // While a bigger table fits in the budget (with room to park the entries while rehashing),
  // grow at kGrowLoad, so probes stay short; the last table fills to the load factor. The step
  // to the last table (taken once a 16x table would pass the budget, straight to what the budget
  // leaves) parks at most 1/32 of the budget's slots, so that table gets 97% of it.
  double grow_load = LastGrowth()
                         ? std::min(kGrowLoad, static_cast<double>(total_slots_) * kFinalPark /
                                                   static_cast<double>(slots_))
                         : kGrowLoad;
  can_grow_ =
      slots_ < total_slots_ &&
      slots_ + static_cast<uint64_t>(static_cast<double>(slots_) * grow_load) + 1 < total_slots_;
  double load = can_grow_ ? grow_load : load_factor_;
  capacity_ = std::clamp<uint64_t>(static_cast<uint64_t>(static_cast<double>(slots_) * load), 1,
                                   slots_ - 1);
  // 0xFF bytes: every relative offset reads as kEmpty.
  std::memset(table_.get(), 0xFF, slots_ * kSlotBytes);
}

void OffsetMap::Reset(Offset base, uint64_t max_keys) {
  // A small first table (the keys are unknown; max_keys bounds them), grown as keys arrive.
  uint64_t wanted = std::min(max_keys, kFirstSlotsCap / 2) * 2;
  Resize(std::clamp(wanted, std::min(kMinSlots, total_slots_), total_slots_));
  size_ = 0;
  collisions_ = 0;
  base_ = base;
}

void OffsetMap::Grow() {
  // Park the entries at the end of the budget, then rehash them into a table up to 4x larger
  // that ends before them: no memory beyond the budget.
  const uint64_t n = size_;
  uint8_t* park = table_.get() + (total_slots_ - n) * kSlotBytes;
  uint64_t parked = 0;
  for (uint64_t i = 0; i < slots_; ++i) {
    const uint8_t* slot = table_.get() + i * kSlotBytes;
    if (RelAt(slot) != kEmpty) std::memcpy(park + (parked++) * kSlotBytes, slot, kSlotBytes);
  }
  assert(parked == n);
  Resize(LastGrowth() ? total_slots_ - n : std::min(slots_ * 4, total_slots_ - n));
  for (uint64_t j = 0; j < n; ++j) {
    const uint8_t* entry = park + j * kSlotBytes;
    Digest d;
    std::memcpy(&d, entry, 16);
    std::memcpy(table_.get() + Find(d) * kSlotBytes, entry, kSlotBytes);
  }
}

bool OffsetMap::LastGrowth() const { return slots_ * 16 >= total_slots_; }

bool OffsetMap::MakeRoom() {
  // Growing parks size_ entries after the table: they must fit, and the new table must be bigger.
  if (can_grow_ && slots_ + size_ < total_slots_ && total_slots_ - size_ > slots_ + slots_ / 8) {
    Grow();
    return true;
  }
  // The table is final: fill it to the load factor (capacity_ < slots_, so Find always ends).
  can_grow_ = false;
  capacity_ = std::clamp<uint64_t>(
      static_cast<uint64_t>(static_cast<double>(slots_) * load_factor_), 1, slots_ - 1);
  return size_ < capacity_;
}

OffsetMap::Digest OffsetMap::Hash(std::span<const uint8_t> key) {
  XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  return {h.low64, h.high64};
}

size_t OffsetMap::Home(const Digest& d) const {
  // Lemire's multiply-shift: a uniform slot in [0, slots_) without a division.
  return static_cast<size_t>((static_cast<unsigned __int128>(d.lo) * slots_) >> 64);
}

size_t OffsetMap::Find(const Digest& d) const {
  size_t i = Home(d);
  while (true) {
    const uint8_t* slot = table_.get() + i * kSlotBytes;
    if (RelAt(slot) == kEmpty || std::memcmp(slot, &d, 16) == 0) return i;
    i = i + 1 == slots_ ? 0 : i + 1;
  }
}

bool OffsetMap::Put(std::span<const uint8_t> key, Offset offset) {
  assert(offset >= base_ && offset.value() - base_.value() < max_span());
  Digest d = Hash(key);
  size_t i = Find(d);
  uint8_t* slot = table_.get() + i * kSlotBytes;
  if (RelAt(slot) == kEmpty) {
    if (size_ >= capacity_) {
      uint64_t before = slots_;
      if (!MakeRoom()) return false;
      if (slots_ != before) {
        i = Find(d);  // the table grew
        slot = table_.get() + i * kSlotBytes;
      }
    }
    std::memcpy(slot, &d, 16);
    ++size_;
    if (i != Home(d)) ++collisions_;
  }
  auto rel = static_cast<uint32_t>(offset.value() - base_.value());
  std::memcpy(slot + 16, &rel, 4);
  return true;
}

std::optional<Offset> OffsetMap::Get(std::span<const uint8_t> key) const {
  uint32_t rel = RelAt(table_.get() + Find(Hash(key)) * kSlotBytes);
  if (rel == kEmpty) return std::nullopt;
  return base_ + static_cast<int64_t>(rel);
}

}  // namespace strata
