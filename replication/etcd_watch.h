// Internal to replication/: one etcd watch, streamed from POST /v3/watch on its own thread.
//
// The thread keeps a connection open and delivers each event response to the callback (in
// revision order; it runs the callback itself). When the stream ends (etcd restarted, network
// error) it reconnects with backoff (50 ms doubling to 1 s), asking for the revision after the
// last one it delivered, so events are neither lost nor repeated. A start revision that etcd has
// compacted is reported once as a resync response and the watch continues from etcd's compact
// revision. Idle connections are checked with TCP keep-alives (5 s).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "replication/metadata_store.h"

namespace strata::internal {

class EtcdWatchStream : public std::enable_shared_from_this<EtcdWatchStream> {
 public:
  // `start_revision` must be > 0 (the caller resolves "from now").
  static std::shared_ptr<EtcdWatchStream> Start(std::string base_url, int64_t connect_timeout_ms,
                                                std::string prefix, int64_t start_revision,
                                                WatchCallback callback);
  // Stops the stream; returns after the thread has finished (unless called from the callback, in
  // which case the thread finishes on its own after the callback returns).
  void Cancel();

  EtcdWatchStream(std::string base_url, int64_t connect_timeout_ms, std::string prefix,
                  int64_t start_revision, WatchCallback callback);

 private:
  void Run();
  // One connection: returns when it ends, fails, or the watch is cancelled.
  absl::Status StreamOnce();
  // Consumes complete lines of `buffer_`; false ends the connection (reconnect).
  bool ConsumeLines();
  bool HandleLine(absl::string_view line);
  static size_t OnData(char* data, size_t size, size_t n, void* user);
  // A configured CURL* easy handle for the watch request (nullptr if curl fails).
  void* NewRequest(const std::string& url, const std::string& body, void* headers);

  const std::string base_url_;
  const int64_t connect_timeout_ms_;
  const std::string prefix_;
  const WatchCallback callback_;
  int64_t next_revision_;   // the first revision not yet delivered (watch thread only)
  bool connected_ = false;  // this connection got "created" (watch thread only)
  std::string buffer_;      // a partial line (watch thread only)

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  void* multi_ ABSL_GUARDED_BY(mu_) = nullptr;  // CURLM* while connected, for wake-ups
  std::thread thread_;
};

}  // namespace strata::internal
