// Internal to replication/: POSTs to etcd's JSON gateway through libcurl.
//
// Every request has a deadline (request_timeout_ms, with connect_timeout_ms for the connection
// part), so nothing hangs when etcd is down: a transport failure or timeout is Unavailable.
// Connections are kept alive in a small pool of curl handles. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace strata::internal {

class EtcdHttp {
 public:
  // `base_url` is "http://HOST:PORT".
  EtcdHttp(std::string base_url, int64_t request_timeout_ms, int64_t connect_timeout_ms);
  ~EtcdHttp();
  EtcdHttp(const EtcdHttp&) = delete;
  EtcdHttp& operator=(const EtcdHttp&) = delete;

  // POSTs `body` (JSON) to base_url + path. The response body on HTTP 200; otherwise the status
  // etcd's error body maps to (etcd_json::ErrorFromResponse), or Unavailable on transport errors.
  absl::StatusOr<std::string> Post(absl::string_view path, const std::string& body);

  const std::string& base_url() const { return base_url_; }
  int64_t connect_timeout_ms() const { return connect_timeout_ms_; }

  // libcurl's process-wide initialisation, done once.
  static void GlobalInit();

 private:
  void* TakeHandle();
  void ReturnHandle(void* handle);

  static constexpr size_t kMaxIdleHandles = 4;
  // A response larger than this is refused (a limit on everything): metadata is small.
  static constexpr size_t kMaxResponseBytes = 64 << 20;

  const std::string base_url_;
  const int64_t request_timeout_ms_;
  const int64_t connect_timeout_ms_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);  // CURL* easy handles
};

}  // namespace strata::internal
