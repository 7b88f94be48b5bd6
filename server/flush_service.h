// FlushService: the flusher thread. Produce requests whose topic's flush policy is due
// (flush.messages) hand their logs here instead of calling fdatasync on a reactor thread; the
// callback runs on the flusher thread once every offset asked for is durable (or the flush
// failed). Log::Flush group-commits, so many requests share one fdatasync.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "log/log.h"

namespace strata::server {

class FlushService {
 public:
  struct Item {
    std::shared_ptr<Log> log;
    Offset up_to;
  };
  FlushService();
  ~FlushService();
  // Flushes every item, then calls done(first error or OK).
  void Submit(std::vector<Item> items, std::function<void(absl::Status)> done);
  void Stop();

 private:
  struct Job {
    std::vector<Item> items;
    std::function<void(absl::Status)> done;
  };
  void Loop();

  absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace strata::server
