// CallbackQueue: one store-owned thread that runs callbacks in the order they were pushed, one at
// a time. Each callback belongs to an owner (a watch id); Cancel(owner) drops the owner's queued
// callbacks and waits until none of them is running, which is what a WatchHandle's destructor
// needs ("once it returns, the callback is not running and will not run again").
//
// Internal to replication/. Thread-safe. The destructor drops queued callbacks and joins the
// thread after the running one returns.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace strata::internal {

class CallbackQueue {
 public:
  CallbackQueue();
  ~CallbackQueue();
  CallbackQueue(const CallbackQueue&) = delete;
  CallbackQueue& operator=(const CallbackQueue&) = delete;

  void Push(uint64_t owner, std::function<void()> callback);
  // Drops `owner`'s queued callbacks and waits for its running one, unless called from the queue's
  // own thread (from inside a callback), where waiting would deadlock.
  void Cancel(uint64_t owner);
  // Drops `owner`'s queued callbacks without waiting for a running one.
  void Drop(uint64_t owner);
  // Queued (not yet running) callbacks.
  size_t size();

 private:
  struct Task {
    uint64_t owner;
    std::function<void()> callback;
  };
  void Loop();

  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  uint64_t running_owner_ ABSL_GUARDED_BY(mu_) = 0;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace strata::internal
