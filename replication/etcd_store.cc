#include "replication/etcd_store.h"

#include <algorithm>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/status.h"
#include "replication/etcd_http.h"
#include "replication/etcd_json.h"
#include "replication/etcd_watch.h"

namespace strata {

class EtcdMetadataStore::Impl {
 public:
  explicit Impl(const EtcdStoreOptions& options)
      : options_(options),
        http_(options.endpoint, options.request_timeout_ms, options.connect_timeout_ms),
        keepalive_thread_([this] { KeepAliveLoop(); }) {}

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    keepalive_thread_.join();
  }

  internal::EtcdHttp& http() { return http_; }
  const EtcdStoreOptions& options() const { return options_; }

  // The lease's remaining TTL in seconds after a refresh; NotFound if it is gone.
  absl::StatusOr<int64_t> Refresh(LeaseId lease) {
    ASSIGN_OR_RETURN(std::string body,
                     http_.Post("/v3/lease/keepalive", etcd_json::LeaseRequest(lease)));
    ASSIGN_OR_RETURN(int64_t ttl_s, etcd_json::ParseKeepAliveTtl(body));
    if (ttl_s <= 0) {
      return absl::NotFoundError(absl::StrCat("lease ", lease, " not found (expired or revoked)"));
    }
    return ttl_s;
  }

  // Until when a lease whose grant or refresh was sent at `sent_ms` and set `ttl_ms` is
  // certainly alive on the server (which counts from its later receipt), with a margin for
  // the two clocks' rates.
  static int64_t ValidUntil(int64_t sent_ms, int64_t ttl_ms) {
    return sent_ms + ttl_ms - ttl_ms / 10;
  }

  void Granted(LeaseId lease, int64_t sent_ms, int64_t ttl_ms) {
    absl::MutexLock lock(&mu_);
    granted_[lease] = {.ttl_ms = ttl_ms,
                       .valid_until_ms = ValidUntil(sent_ms, ttl_ms),
                       .lost_after_ms = sent_ms + ttl_ms};
  }

  void AddKeepAlive(LeaseId lease, std::function<void(absl::Status)> on_lost) {
    absl::MutexLock lock(&mu_);
    const int64_t now_ms = Now();
    // The first refresh happens at once; until it answers, the grant vouches for the lease.
    KeepAliveEntry entry{
        .next_ms = now_ms, .lost_after_ms = now_ms + 2'000, .on_lost = std::move(on_lost)};
    if (auto g = granted_.find(lease); g != granted_.end()) {
      entry.ttl_ms = g->second.ttl_ms;
      entry.valid_until_ms = g->second.valid_until_ms;
      entry.lost_after_ms = g->second.lost_after_ms;
      granted_.erase(g);
    }
    keepalives_[lease] = std::move(entry);
  }

  void RemoveKeepAlive(LeaseId lease) {
    absl::MutexLock lock(&mu_);
    keepalives_.erase(lease);
    granted_.erase(lease);
  }

  int64_t ValidUntilMs(LeaseId lease) {
    absl::MutexLock lock(&mu_);
    auto it = keepalives_.find(lease);
    return it == keepalives_.end() ? 0 : it->second.valid_until_ms;
  }

 private:
  struct KeepAliveEntry {
    int64_t ttl_ms = 0;  // 0 until known (from the grant or the first refresh)
    int64_t next_ms = 0;
    int64_t valid_until_ms = 0;  // ValidUntil() of the last successful grant or refresh
    int64_t lost_after_ms = 0;   // no refresh got through until then: surely expired
    std::function<void(absl::Status)> on_lost;
  };
  struct GrantEntry {
    int64_t ttl_ms = 0;
    int64_t valid_until_ms = 0;
    int64_t lost_after_ms = 0;
  };

  static int64_t Now() { return Clock::System()->MonotonicMs(); }

  void KeepAliveLoop() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      int64_t wake_ms = Now() + 1000;
      std::vector<LeaseId> due;
      for (const auto& [id, entry] : keepalives_) {
        if (entry.next_ms <= Now()) due.push_back(id);
        wake_ms = std::min(wake_ms, entry.next_ms);
      }
      for (LeaseId id : due) {
        if (stop_) return;  // each refresh may take a request timeout: do not delay shutdown
        RefreshOne(id);
      }
      if (!due.empty()) continue;
      mu_.AwaitWithTimeout(absl::Condition(&stop_),
                           absl::Milliseconds(std::max<int64_t>(wake_ms - Now(), 1)));
    }
  }

  // Refreshes one lease without holding mu_ across the request.
  void RefreshOne(LeaseId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t sent_ms = Now();
    mu_.Unlock();
    absl::StatusOr<int64_t> ttl_s = Refresh(id);
    mu_.Lock();
    auto it = keepalives_.find(id);
    if (it == keepalives_.end()) return;  // revoked meanwhile
    KeepAliveEntry& entry = it->second;
    const int64_t now_ms = Now();
    if (ttl_s.ok()) {
      entry.ttl_ms = *ttl_s * 1000;
      entry.valid_until_ms = ValidUntil(sent_ms, entry.ttl_ms);
      entry.lost_after_ms = sent_ms + entry.ttl_ms;
      entry.next_ms = now_ms + std::max<int64_t>(entry.ttl_ms / 3, 100);
      return;
    }
    const int64_t ttl_ms = entry.ttl_ms > 0 ? entry.ttl_ms : 2000;
    // Lost: etcd says so, or no refresh got through for a whole TTL (it has surely expired).
    if (absl::IsNotFound(ttl_s.status()) || now_ms >= entry.lost_after_ms) {
      auto on_lost = std::move(entry.on_lost);
      keepalives_.erase(it);
      LOG_EVENT(Warn, "metadata.lease_lost").Kv("lease", id).Kv("error", ttl_s.status().ToString());
      mu_.Unlock();
      if (on_lost) on_lost(ttl_s.status());
      mu_.Lock();
      return;
    }
    entry.next_ms = now_ms + std::clamp<int64_t>(ttl_ms / 6, 50, 500);  // transient: retry soon
  }

  const EtcdStoreOptions options_;
  internal::EtcdHttp http_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<LeaseId, KeepAliveEntry> keepalives_ ABSL_GUARDED_BY(mu_);
  std::map<LeaseId, GrantEntry> granted_ ABSL_GUARDED_BY(mu_);  // granted, not yet kept alive
  std::thread keepalive_thread_;
};

absl::StatusOr<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::Open(
    const EtcdStoreOptions& options) {
  if (!absl::StartsWith(options.endpoint, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint must be http://HOST:PORT, got ", options.endpoint));
  }
  if (options.request_timeout_ms <= 0 || options.connect_timeout_ms <= 0) {
    return absl::InvalidArgumentError("etcd timeouts must be positive");
  }
  return std::unique_ptr<EtcdMetadataStore>(new EtcdMetadataStore(std::make_unique<Impl>(options)));
}

EtcdMetadataStore::EtcdMetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdMetadataStore::~EtcdMetadataStore() = default;

absl::StatusOr<std::optional<KeyValue>> EtcdMetadataStore::Get(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  ASSIGN_OR_RETURN(std::string body,
                   impl_->http().Post("/v3/kv/range", etcd_json::RangeRequest(key, "")));
  ASSIGN_OR_RETURN(RangeResult range, etcd_json::ParseRange(body));
  if (range.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(range.kvs.front()));
}

absl::StatusOr<RangeResult> EtcdMetadataStore::GetPrefix(absl::string_view prefix) {
  etcd_json::KeyRange range = etcd_json::PrefixRange(prefix);
  ASSIGN_OR_RETURN(
      std::string body,
      impl_->http().Post("/v3/kv/range", etcd_json::RangeRequest(range.key, range.range_end)));
  return etcd_json::ParseRange(body);
}

absl::StatusOr<int64_t> EtcdMetadataStore::Put(absl::string_view key, absl::string_view value,
                                               LeaseId lease) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  ASSIGN_OR_RETURN(std::string body,
                   impl_->http().Post("/v3/kv/put", etcd_json::PutRequest(key, value, lease)));
  return etcd_json::ParseRevision(body);
}

absl::StatusOr<CasResult> EtcdMetadataStore::CompareAndSet(absl::string_view key,
                                                           int64_t expected_mod_revision,
                                                           absl::string_view value, LeaseId lease) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  if (expected_mod_revision < 0) return absl::InvalidArgumentError("negative expected revision");
  std::string request =
      etcd_json::CasRequest(key, expected_mod_revision, std::string(value), lease);
  ASSIGN_OR_RETURN(std::string body, impl_->http().Post("/v3/kv/txn", request));
  return etcd_json::ParseCas(body);
}

absl::StatusOr<DeleteResult> EtcdMetadataStore::Delete(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  ASSIGN_OR_RETURN(std::string body,
                   impl_->http().Post("/v3/kv/deleterange", etcd_json::DeleteRequest(key)));
  return etcd_json::ParseDelete(body);
}

absl::StatusOr<CasResult> EtcdMetadataStore::CompareAndDelete(absl::string_view key,
                                                              int64_t expected_mod_revision) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  if (expected_mod_revision <= 0) {
    return absl::InvalidArgumentError("CompareAndDelete needs a mod_revision > 0");
  }
  std::string request = etcd_json::CasRequest(key, expected_mod_revision, std::nullopt, kNoLease);
  ASSIGN_OR_RETURN(std::string body, impl_->http().Post("/v3/kv/txn", request));
  return etcd_json::ParseCas(body);
}

absl::StatusOr<LeaseId> EtcdMetadataStore::Grant(int64_t ttl_ms) {
  if (ttl_ms <= 0) return absl::InvalidArgumentError("lease TTL must be positive");
  const int64_t ttl_s = (ttl_ms + 999) / 1000;
  const int64_t sent_ms = Clock::System()->MonotonicMs();
  ASSIGN_OR_RETURN(std::string body,
                   impl_->http().Post("/v3/lease/grant", etcd_json::GrantRequest(ttl_s)));
  ASSIGN_OR_RETURN(etcd_json::Grant grant, etcd_json::ParseGrant(body));
  impl_->Granted(grant.id, sent_ms, grant.ttl_s * 1000);
  return grant.id;
}

absl::Status EtcdMetadataStore::KeepAlive(LeaseId lease) { return impl_->Refresh(lease).status(); }

void EtcdMetadataStore::KeepAliveInBackground(LeaseId lease,
                                              std::function<void(absl::Status)> on_lost) {
  impl_->AddKeepAlive(lease, std::move(on_lost));
}

int64_t EtcdMetadataStore::LeaseValidUntilMs(LeaseId lease) { return impl_->ValidUntilMs(lease); }

absl::Status EtcdMetadataStore::Revoke(LeaseId lease) {
  impl_->RemoveKeepAlive(lease);
  return impl_->http().Post("/v3/lease/revoke", etcd_json::LeaseRequest(lease)).status();
}

absl::StatusOr<std::unique_ptr<WatchHandle>> EtcdMetadataStore::Watch(absl::string_view prefix,
                                                                      int64_t start_revision,
                                                                      WatchCallback callback) {
  if (start_revision < 0) return absl::InvalidArgumentError("negative watch start revision");
  if (start_revision == 0) {
    // "From now" must mean after this call, even if the stream connects later.
    etcd_json::KeyRange range = etcd_json::PrefixRange(prefix);
    ASSIGN_OR_RETURN(std::string body,
                     impl_->http().Post("/v3/kv/range", etcd_json::RangeRequest(range.key, "")));
    ASSIGN_OR_RETURN(int64_t revision, etcd_json::ParseRevision(body));
    start_revision = revision + 1;
  }
  auto stream = internal::EtcdWatchStream::Start(
      impl_->options().endpoint, impl_->options().connect_timeout_ms, std::string(prefix),
      start_revision, std::move(callback));
  return std::make_unique<WatchHandle>([stream] { stream->Cancel(); });
}

absl::Status EtcdMetadataStore::Compact(int64_t revision) {
  absl::StatusOr<std::string> body =
      impl_->http().Post("/v3/kv/compaction", etcd_json::CompactRequest(revision));
  // etcd refuses to compact to an already compacted revision; the interface calls that OK.
  if (absl::IsOutOfRange(body.status()) &&
      absl::StrContains(body.status().message(), "has been compacted")) {
    return absl::OkStatus();
  }
  return body.status();
}

}  // namespace strata
