// Reactor: one thread, one io_uring, the connections it owns, timers and a task queue.
//
// Everything a reactor owns (its connections, their buffers, delayed operations it created) is
// touched only on its thread. Other threads talk to it through Post(), which queues a task and
// wakes the ring through an eventfd (no sleeping-and-polling). Timers fire on the reactor thread.
//
//   Reactor r(0, options);
//   std::thread t([&] { r.Run(); });
//   r.Post([] { ... runs on the reactor ... });
//   r.Stop(); t.join();
//
// I/O: code submits operations with Submit*(..., IoCallback*), where the callback object must
// stay alive until its completion has been delivered (connections count their outstanding
// operations and free themselves only when the count reaches zero).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::server {

// Receives the completion of one submitted operation (res as io_uring reports it: bytes or
// -errno), on the reactor thread. `more` is set for multishot operations that stay armed.
class IoCallback {
 public:
  virtual ~IoCallback() = default;
  virtual void OnComplete(int res, uint32_t flags) = 0;
};

class Reactor {
 public:
  using TimerId = uint64_t;

  explicit Reactor(int id, unsigned ring_entries = 1024);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  absl::Status Init();
  // Runs until Stop(); returns after pending tasks have run.
  void Run();
  // Thread-safe. The loop finishes its current iteration and returns.
  void Stop();
  // Thread-safe: runs `task` on the reactor thread soon.
  void Post(std::function<void()> task);
  bool InReactorThread() const;
  int id() const { return id_; }

  // Reactor thread only. `deadline_ms` is on the monotonic clock (Clock::System()).
  TimerId AddTimer(int64_t deadline_ms, std::function<void()> fn);
  void CancelTimer(TimerId id);

  // Reactor thread only. Each returns false when the ring is full even after a flush (the caller
  // should fail the operation).
  bool SubmitRecv(int fd, void* buf, size_t len, IoCallback* cb);
  bool SubmitSend(int fd, const void* buf, size_t len, IoCallback* cb);
  bool SubmitPoll(int fd, uint32_t poll_mask, IoCallback* cb);
  bool SubmitMultishotAccept(int fd, IoCallback* cb);
  bool SubmitCancel(IoCallback* cb);

 private:
  io_uring_sqe* GetSqe();
  void RunTasks();
  void RunTimers();
  void ArmEventfd();

  class EventfdCallback;
  int id_;
  unsigned ring_entries_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int eventfd_ = -1;
  uint64_t eventfd_value_ = 0;
  std::unique_ptr<EventfdCallback> eventfd_cb_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> thread_id_{0};

  std::mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_;

  TimerId next_timer_ = 1;
  std::multimap<int64_t, std::pair<TimerId, std::function<void()>>> timers_;
  std::map<TimerId, int64_t> timer_deadlines_;
};

}  // namespace strata::server
