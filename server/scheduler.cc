#include "server/scheduler.h"

#include "absl/time/time.h"

namespace strata::server {

namespace {

template <typename Map, typename Deadlines>
void EraseTask(Map& tasks, Deadlines& deadlines, Scheduler::TaskId id) {
  auto it = deadlines.find(id);
  if (it == deadlines.end()) return;
  auto [lo, hi] = tasks.equal_range(it->second);
  for (auto t = lo; t != hi; ++t) {
    if (t->second.first == id) {
      tasks.erase(t);
      break;
    }
  }
  deadlines.erase(it);
}

}  // namespace

ThreadScheduler::ThreadScheduler(Clock* clock) : clock_(clock), thread_([this] { Loop(); }) {}

ThreadScheduler::~ThreadScheduler() { Stop(); }

void ThreadScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

Scheduler::TaskId ThreadScheduler::Schedule(int64_t delay_ms, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  TaskId id = next_++;
  int64_t deadline = clock_->MonotonicMs() + std::max<int64_t>(delay_ms, 0);
  tasks_.emplace(deadline, std::make_pair(id, std::move(fn)));
  deadlines_[id] = deadline;
  added_ = true;  // wakes the loop if this task is due before what it waits for
  return id;
}

void ThreadScheduler::Cancel(TaskId id) {
  absl::MutexLock lock(&mu_);
  EraseTask(tasks_, deadlines_, id);
}

void ThreadScheduler::Loop() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        int64_t now = clock_->MonotonicMs();
        if (!tasks_.empty() && tasks_.begin()->first <= now) break;
        int64_t wait = tasks_.empty() ? 1000 : std::min<int64_t>(tasks_.begin()->first - now, 1000);
        added_ = false;
        mu_.AwaitWithTimeout(absl::Condition(
                                 +[](ThreadScheduler* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
                                   return s->stopping_ || s->added_;
                                 },
                                 this),
                             absl::Milliseconds(wait));
      }
      if (stopping_) return;
      fn = std::move(tasks_.begin()->second.second);
      deadlines_.erase(tasks_.begin()->second.first);
      tasks_.erase(tasks_.begin());
    }
    fn();
  }
}

Scheduler::TaskId ManualScheduler::Schedule(int64_t delay_ms, std::function<void()> fn) {
  TaskId id = next_++;
  int64_t deadline = clock_->MonotonicMs() + std::max<int64_t>(delay_ms, 0);
  tasks_.emplace(deadline, std::make_pair(id, std::move(fn)));
  deadlines_[id] = deadline;
  return id;
}

void ManualScheduler::Cancel(TaskId id) { EraseTask(tasks_, deadlines_, id); }

int ManualScheduler::RunDue() {
  int ran = 0;
  while (!tasks_.empty() && tasks_.begin()->first <= clock_->MonotonicMs()) {
    auto fn = std::move(tasks_.begin()->second.second);
    deadlines_.erase(tasks_.begin()->second.first);
    tasks_.erase(tasks_.begin());
    fn();
    ++ran;
  }
  return ran;
}

}  // namespace strata::server
