#include "replication/etcd_watch.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "replication/etcd_http.h"
#include "replication/etcd_json.h"

namespace strata::internal {
namespace {

constexpr int64_t kBackoffMinMs = 50;
constexpr int64_t kBackoffMaxMs = 1000;
// A single line of the stream larger than this is refused (a limit on everything).
constexpr size_t kMaxLineBytes = 64 << 20;

}  // namespace

std::shared_ptr<EtcdWatchStream> EtcdWatchStream::Start(std::string base_url,
                                                        int64_t connect_timeout_ms,
                                                        std::string prefix, int64_t start_revision,
                                                        WatchCallback callback) {
  EtcdHttp::GlobalInit();
  auto stream =
      std::make_shared<EtcdWatchStream>(std::move(base_url), connect_timeout_ms, std::move(prefix),
                                        start_revision, std::move(callback));
  // The thread owns a reference, so a stream cancelled from its own callback stays alive.
  absl::MutexLock lock(&stream->mu_);  // Run waits for thread_ to be assigned
  stream->thread_ = std::thread([self = stream] { self->Run(); });
  return stream;
}

EtcdWatchStream::EtcdWatchStream(std::string base_url, int64_t connect_timeout_ms,
                                 std::string prefix, int64_t start_revision, WatchCallback callback)
    : base_url_(std::move(base_url)),
      connect_timeout_ms_(connect_timeout_ms),
      prefix_(std::move(prefix)),
      callback_(std::move(callback)),
      next_revision_(start_revision) {}

void EtcdWatchStream::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  }
  if (std::this_thread::get_id() == thread_.get_id()) {
    thread_.detach();
  } else if (thread_.joinable()) {
    thread_.join();
  }
}

void EtcdWatchStream::Run() {
  { absl::MutexLock lock(&mu_); }  // Start has assigned thread_
  int64_t backoff_ms = kBackoffMinMs;
  while (true) {
    connected_ = false;
    absl::Status s = StreamOnce();
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    if (connected_) backoff_ms = kBackoffMinMs;
    LOG_EVENT(Debug, "metadata.etcd_watch_reconnect")
        .Kv("prefix", prefix_)
        .Kv("next_revision", next_revision_)
        .Kv("backoff_ms", backoff_ms)
        .Kv("status", s.ToString());
    mu_.AwaitWithTimeout(absl::Condition(&cancelled_), absl::Milliseconds(backoff_ms));
    if (cancelled_) return;
    backoff_ms = std::min(backoff_ms * 2, kBackoffMaxMs);
  }
}

size_t EtcdWatchStream::OnData(char* data, size_t size, size_t n, void* user) {
  auto* self = static_cast<EtcdWatchStream*>(user);
  self->buffer_.append(data, size * n);
  if (self->buffer_.size() > kMaxLineBytes) return 0;
  return self->ConsumeLines() ? size * n : 0;  // 0 aborts the transfer
}

bool EtcdWatchStream::ConsumeLines() {
  size_t start = 0;
  bool keep_going = true;
  for (size_t nl; keep_going && (nl = buffer_.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    absl::string_view line(buffer_.data() + start, nl - start);
    if (!line.empty()) keep_going = HandleLine(line);
  }
  buffer_.erase(0, start);
  return keep_going;
}

bool EtcdWatchStream::HandleLine(absl::string_view line) {
  auto message = etcd_json::ParseWatchMessage(line);
  if (!message.ok()) {
    LOG_EVENT(Warn, "metadata.etcd_watch_error").Kv("error", message.status().ToString());
    return false;
  }
  if (message->created) connected_ = true;
  if (message->canceled) {
    if (message->compact_revision > 0) {
      // Our start revision is gone: tell the caller to re-read, continue from what etcd has.
      callback_(WatchResponse{.resync = true, .revision = message->compact_revision - 1});
      next_revision_ = message->compact_revision;
    } else {
      LOG_EVENT(Warn, "metadata.etcd_watch_canceled").Kv("reason", message->cancel_reason);
    }
    return false;
  }
  WatchResponse response;
  for (WatchEvent& event : message->events) {
    // After a reconnect etcd starts at next_revision_; never deliver an event twice.
    if (event.kv.mod_revision >= next_revision_) response.events.push_back(std::move(event));
  }
  if (response.events.empty()) return true;
  response.revision = response.events.back().kv.mod_revision;
  callback_(response);
  next_revision_ = response.revision + 1;
  return true;
}

void* EtcdWatchStream::NewRequest(const std::string& url, const std::string& body, void* headers) {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return nullptr;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &EtcdWatchStream::OnData);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // No overall timeout (the stream is meant to stay open); TCP keep-alives notice a dead peer.
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 5L);
  return easy;
}

absl::Status EtcdWatchStream::StreamOnce() {
  etcd_json::KeyRange range = etcd_json::PrefixRange(prefix_);
  const std::string url = absl::StrCat(base_url_, "/v3/watch");
  const std::string body =
      etcd_json::WatchCreateRequest(range.key, range.range_end, next_revision_);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  CURLM* multi = curl_multi_init();
  CURL* easy = static_cast<CURL*>(NewRequest(url, body, headers));
  if (multi == nullptr || easy == nullptr) {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    return absl::ResourceExhaustedError("curl init failed");
  }
  buffer_.clear();
  curl_multi_add_handle(multi, easy);
  {
    absl::MutexLock lock(&mu_);
    multi_ = multi;
  }
  int running = 1;
  CURLMcode mc = CURLM_OK;
  while (mc == CURLM_OK && running > 0) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) break;
    }
    mc = curl_multi_perform(multi, &running);
    if (mc == CURLM_OK && running > 0) mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  CURLcode rc = CURLE_OK;
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
    if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
  }
  long http_status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
  {
    absl::MutexLock lock(&mu_);
    multi_ = nullptr;
  }
  curl_multi_remove_handle(multi, easy);
  curl_easy_cleanup(easy);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(rc));
  if (http_status != 200) return etcd_json::ErrorFromResponse(http_status, buffer_);
  return absl::UnavailableError("etcd watch stream ended");
}

}  // namespace strata::internal
