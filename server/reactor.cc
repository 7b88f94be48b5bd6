#include "server/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata::server {
namespace {

uint64_t ThisThreadId() { return std::hash<std::thread::id>()(std::this_thread::get_id()) | 1; }

}  // namespace

class Reactor::EventfdCallback final : public IoCallback {
 public:
  explicit EventfdCallback(Reactor* r) : r_(r) {}
  void OnComplete(int, uint32_t) override { r_->ArmEventfd(); }

 private:
  Reactor* r_;
};

Reactor::Reactor(int id, unsigned ring_entries) : id_(id), ring_entries_(ring_entries) {}

Reactor::~Reactor() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (eventfd_ >= 0) ::close(eventfd_);
}

absl::Status Reactor::Init() {
  int rc = io_uring_queue_init(ring_entries_, &ring_, 0);
  if (rc < 0) return ErrnoToStatus(-rc, "io_uring_queue_init");
  ring_ready_ = true;
  eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0) return ErrnoToStatus(errno, "eventfd");
  eventfd_cb_ = std::make_unique<EventfdCallback>(this);
  ArmEventfd();
  return absl::OkStatus();
}

void Reactor::ArmEventfd() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, eventfd_, &eventfd_value_, sizeof(eventfd_value_), 0);
  io_uring_sqe_set_data(sqe, eventfd_cb_.get());
}

io_uring_sqe* Reactor::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

bool Reactor::InReactorThread() const {
  return thread_id_.load(std::memory_order_acquire) == ThisThreadId();
}

void Reactor::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    tasks_.push_back(std::move(task));
  }
  uint64_t one = 1;
  ssize_t rc = ::write(eventfd_, &one, sizeof(one));
  (void)rc;  // EAGAIN means a wakeup is already pending
}

void Reactor::Stop() {
  stop_.store(true, std::memory_order_release);
  Post([] {});
}

void Reactor::RunTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

Reactor::TimerId Reactor::AddTimer(int64_t deadline_ms, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(deadline_ms, std::make_pair(id, std::move(fn)));
  timer_deadlines_[id] = deadline_ms;
  return id;
}

void Reactor::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  auto [lo, hi] = timers_.equal_range(it->second);
  for (auto t = lo; t != hi; ++t) {
    if (t->second.first == id) {
      timers_.erase(t);
      break;
    }
  }
  timer_deadlines_.erase(it);
}

void Reactor::RunTimers() {
  int64_t now = Clock::System()->MonotonicMs();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto fn = std::move(timers_.begin()->second.second);
    timer_deadlines_.erase(timers_.begin()->second.first);
    timers_.erase(timers_.begin());
    fn();
  }
}

void Reactor::Run() {
  thread_id_.store(ThisThreadId(), std::memory_order_release);
  while (!stop_.load(std::memory_order_acquire)) {
    RunTasks();
    RunTimers();
    int64_t wait_ms = 1000;
    if (!timers_.empty()) {
      wait_ms =
          std::clamp<int64_t>(timers_.begin()->first - Clock::System()->MonotonicMs(), 0, 1000);
    }
    __kernel_timespec ts{wait_ms / 1000, (wait_ms % 1000) * 1'000'000};
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      LOG_EVENT(Error, "reactor.wait_failed").Kv("reactor", id_).Kv("errno", -rc);
    }
    // Mark each completion seen before its callback runs: callbacks submit new operations.
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
      auto* cb = static_cast<IoCallback*>(io_uring_cqe_get_data(cqe));
      int res = cqe->res;
      uint32_t flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);
      if (cb != nullptr) cb->OnComplete(res, flags);
    }
  }
  RunTasks();
  thread_id_.store(0, std::memory_order_release);
}

bool Reactor::SubmitRecv(int fd, void* buf, size_t len, IoCallback* cb) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv(sqe, fd, buf, len, 0);
  io_uring_sqe_set_data(sqe, cb);
  return true;
}

bool Reactor::SubmitSend(int fd, const void* buf, size_t len, IoCallback* cb) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, cb);
  return true;
}

bool Reactor::SubmitPoll(int fd, uint32_t poll_mask, IoCallback* cb) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_poll_add(sqe, fd, poll_mask);
  io_uring_sqe_set_data(sqe, cb);
  return true;
}

bool Reactor::SubmitMultishotAccept(int fd, IoCallback* cb) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data(sqe, cb);
  return true;
}

bool Reactor::SubmitCancel(IoCallback* cb) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel(sqe, cb, 0);
  io_uring_sqe_set_data(sqe, nullptr);
  return true;
}

}  // namespace strata::server
