// Timers for the group coordinator (session timeouts, rebalance deadlines, offset expiry),
// behind an interface so unit tests drive time by hand instead of sleeping.
//
//   ThreadScheduler s(Clock::System());         // production: one timer thread
//   auto id = s.Schedule(30'000, [] { ... });   // runs on the scheduler's thread
//   s.Cancel(id);                               // best effort: a task already running runs
//
//   ManualClock clock; ManualScheduler s(&clock);
//   s.Schedule(100, fn); clock.AdvanceMs(100); s.RunDue();   // tests
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace strata::server {

class Scheduler {
 public:
  using TaskId = uint64_t;
  virtual ~Scheduler() = default;
  virtual TaskId Schedule(int64_t delay_ms, std::function<void()> fn) = 0;
  virtual void Cancel(TaskId id) = 0;
};

class ThreadScheduler final : public Scheduler {
 public:
  explicit ThreadScheduler(Clock* clock);
  ~ThreadScheduler() override;
  TaskId Schedule(int64_t delay_ms, std::function<void()> fn) override;
  void Cancel(TaskId id) override;
  void Stop();

 private:
  void Loop();
  Clock* clock_;
  absl::Mutex mu_;
  std::multimap<int64_t, std::pair<TaskId, std::function<void()>>> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<TaskId, int64_t> deadlines_ ABSL_GUARDED_BY(mu_);
  TaskId next_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool added_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class ManualScheduler final : public Scheduler {
 public:
  explicit ManualScheduler(Clock* clock) : clock_(clock) {}
  TaskId Schedule(int64_t delay_ms, std::function<void()> fn) override;
  void Cancel(TaskId id) override;
  // Runs every task whose deadline has passed (including ones they schedule), in order.
  int RunDue();
  size_t pending() const { return tasks_.size(); }

 private:
  Clock* clock_;
  std::multimap<int64_t, std::pair<TaskId, std::function<void()>>> tasks_;
  std::map<TaskId, int64_t> deadlines_;
  TaskId next_ = 1;
};

}  // namespace strata::server
