#include "server/flush_service.h"

namespace strata::server {

FlushService::FlushService() : thread_([this] { Loop(); }) {}

FlushService::~FlushService() { Stop(); }

void FlushService::Submit(std::vector<Item> items, std::function<void(absl::Status)> done) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    done(absl::UnavailableError("broker is shutting down"));
    return;
  }
  jobs_.push_back({std::move(items), std::move(done)});
}

void FlushService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void FlushService::Loop() {
  while (true) {
    std::deque<Job> jobs;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](FlushService* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || !s->jobs_.empty(); },
          this));
      if (jobs_.empty() && stopping_) return;
      jobs.swap(jobs_);
    }
    // Each log once, to the highest offset any job asked for; then every job is answered.
    std::vector<std::pair<Log*, Offset>> targets;
    for (const Job& job : jobs) {
      for (const Item& item : job.items) {
        auto it = std::find_if(targets.begin(), targets.end(),
                               [&](const auto& t) { return t.first == item.log.get(); });
        if (it == targets.end())
          targets.push_back({item.log.get(), item.up_to});
        else
          it->second = std::max(it->second, item.up_to);
      }
    }
    std::vector<std::pair<Log*, absl::Status>> results;
    for (const auto& [log, offset] : targets) results.push_back({log, log->Flush(offset)});
    for (Job& job : jobs) {
      absl::Status first;
      for (const Item& item : job.items) {
        for (const auto& [log, status] : results) {
          if (log == item.log.get() && !status.ok() && first.ok()) first = status;
        }
      }
      job.done(first);
    }
  }
}

}  // namespace strata::server
