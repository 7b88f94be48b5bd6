// Time as the broker sees it, behind an interface so tests control it (no sleeps to wait for a
// timeout: a test advances a ManualClock).
//
// NowMs() is wall-clock time in milliseconds since the Unix epoch (record timestamps, retention.ms,
// segment.ms). MonotonicNanos() never goes backwards (latencies, flush.ms scheduling).
// Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
  virtual int64_t MonotonicNanos() const = 0;
  int64_t MonotonicMs() const { return MonotonicNanos() / 1'000'000; }

  // The process-wide real clock.
  static Clock* System();
};

// A clock that moves only when told to. Both readings advance together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms), mono_ns_(0) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_acquire); }
  int64_t MonotonicNanos() const override { return mono_ns_.load(std::memory_order_acquire); }
  void AdvanceMs(int64_t ms) {
    now_ms_.fetch_add(ms, std::memory_order_acq_rel);
    mono_ns_.fetch_add(ms * 1'000'000, std::memory_order_acq_rel);
  }
  void SetNowMs(int64_t ms) { now_ms_.store(ms, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> mono_ns_;
};

}  // namespace strata
