#include "replication/callback_queue.h"

#include <utility>

namespace strata::internal {

CallbackQueue::CallbackQueue() : thread_([this] { Loop(); }) {}

CallbackQueue::~CallbackQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    tasks_.clear();
  }
  thread_.join();
}

void CallbackQueue::Push(uint64_t owner, std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  tasks_.push_back({owner, std::move(callback)});
}

void CallbackQueue::Cancel(uint64_t owner) {
  absl::MutexLock lock(&mu_);
  std::erase_if(tasks_, [owner](const Task& t) { return t.owner == owner; });
  if (std::this_thread::get_id() == thread_.get_id()) return;
  auto idle = [this, owner]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !running_ || running_owner_ != owner;
  };
  mu_.Await(absl::Condition(&idle));
}

void CallbackQueue::Drop(uint64_t owner) {
  absl::MutexLock lock(&mu_);
  std::erase_if(tasks_, [owner](const Task& t) { return t.owner == owner; });
}

size_t CallbackQueue::size() {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

void CallbackQueue::Loop() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !tasks_.empty(); };
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(&ready));
    if (stop_) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    running_ = true;
    running_owner_ = task.owner;
    mu_.Unlock();
    task.callback();
    task.callback = nullptr;  // destroy captured state outside the lock too
    mu_.Lock();
    running_ = false;
  }
}

}  // namespace strata::internal
