// Strong types for the quantities that flow through the log, so that an offset, a leader epoch
// and a file position cannot be swapped by accident (after Redpanda's model::offset).
//
//   Offset next = base + 1;          // Offset + integer -> Offset
//   int64_t n = last - base;          // Offset - Offset  -> integer distance
//   file->ReadAt(pos.value(), ...);   // explicit unwrap at I/O boundaries
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>

namespace strata {

template <typename Tag, typename T>
class StrongInt {
 public:
  using value_type = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T v) : v_(v) {}
  constexpr T value() const { return v_; }

  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(T d) const { return StrongInt(v_ + d); }
  constexpr StrongInt operator-(T d) const { return StrongInt(v_ - d); }
  constexpr T operator-(StrongInt o) const { return v_ - o.v_; }
  constexpr StrongInt& operator+=(T d) {
    v_ += d;
    return *this;
  }
  constexpr StrongInt& operator++() {
    ++v_;
    return *this;
  }

  static constexpr StrongInt Max() { return StrongInt(std::numeric_limits<T>::max()); }
  static constexpr StrongInt Min() { return StrongInt(std::numeric_limits<T>::min()); }

  template <typename H>
  friend H AbslHashValue(H h, StrongInt s) {
    return H::combine(std::move(h), s.v_);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongInt s) { return os << s.v_; }

 private:
  T v_{};
};

// A record's position in its partition. Kafka offsets are int64.
using Offset = StrongInt<struct OffsetTag, int64_t>;
// The leader epoch written into partitionLeaderEpoch of every batch. -1 = unknown.
using LeaderEpoch = StrongInt<struct LeaderEpochTag, int32_t>;
// A byte position inside one segment file.
using FilePosition = StrongInt<struct FilePositionTag, uint64_t>;

inline constexpr Offset kInvalidOffset{-1};
inline constexpr LeaderEpoch kNoLeaderEpoch{-1};

// Milliseconds since the Unix epoch, as Kafka timestamps are. -1 = none.
using TimestampMs = int64_t;
inline constexpr TimestampMs kNoTimestamp = -1;

}  // namespace strata
