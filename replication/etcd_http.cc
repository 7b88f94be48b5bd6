#include "replication/etcd_http.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "replication/etcd_json.h"

namespace strata::internal {
namespace {

struct Sink {
  std::string body;
  size_t limit = 0;
  bool overflow = false;
};

size_t WriteToSink(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body.size() + size * n > sink->limit) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, size * n);
  return size * n;
}

}  // namespace

void EtcdHttp::GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

EtcdHttp::EtcdHttp(std::string base_url, int64_t request_timeout_ms, int64_t connect_timeout_ms)
    : base_url_(std::move(base_url)),
      request_timeout_ms_(request_timeout_ms),
      connect_timeout_ms_(connect_timeout_ms) {
  GlobalInit();
}

EtcdHttp::~EtcdHttp() {
  absl::MutexLock lock(&mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* EtcdHttp::TakeHandle() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void EtcdHttp::ReturnHandle(void* handle) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

absl::StatusOr<std::string> EtcdHttp::Post(absl::string_view path, const std::string& body) {
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  curl_easy_reset(curl);  // keeps the connection cache
  const std::string url = absl::StrCat(base_url_, path);
  Sink sink{.limit = kMaxResponseBytes};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteToSink);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request_timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM in threads
  CURLcode rc = curl_easy_perform(curl);
  long http_status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  curl_slist_free_all(headers);
  ReturnHandle(curl);
  if (sink.overflow) {
    return absl::ResourceExhaustedError(
        absl::StrCat("etcd ", path, ": response larger than ", kMaxResponseBytes, " bytes"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("etcd ", base_url_, path, ": ", curl_easy_strerror(rc)));
  }
  if (http_status != 200) return etcd_json::ErrorFromResponse(http_status, sink.body);
  return std::move(sink.body);
}

}  // namespace strata::internal
