// EmbeddedMetadataStore: key/value operations, leases and watches over the in-memory state that
// embedded_store_log.cc recovers and persists.
#include "replication/embedded_store.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "replication/embedded_store_impl.h"

namespace strata {
namespace {

using metadata_log::RecordType;

absl::Status CheckKey(absl::string_view key, size_t value_size) {
  if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
  // Leave room for the record's fixed fields (4 x i64, 2 x u32, type).
  if (key.size() + value_size + 64 > metadata_log::kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata key + value larger than ",
                                                   metadata_log::kMaxRecordBytes - 64, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status LeaseNotFound(LeaseId lease) {
  return absl::NotFoundError(absl::StrCat("lease ", lease, " not found (expired or revoked)"));
}

}  // namespace

EmbeddedMetadataStore::Impl::Impl(const EmbeddedStoreOptions& options)
    : options_(options), path_(JoinPath(options.dir, metadata_log::kFileName)) {}

EmbeddedMetadataStore::Impl::~Impl() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (timer_.joinable()) timer_.join();
}

absl::Status EmbeddedMetadataStore::Impl::Open() {
  {
    absl::MutexLock lock(&mu_);
    FileSystem* fs = options_.fs;
    RETURN_IF_ERROR(fs->CreateDirs(options_.dir));
    // A rewrite that crashed before its rename leaves a temp file that was never installed.
    std::string tmp = absl::StrCat(path_, ".tmp");
    if (fs->Exists(tmp)) RETURN_IF_ERROR(fs->Remove(tmp));
    if (!fs->Exists(path_)) RETURN_IF_ERROR(CreateLog());
    RETURN_IF_ERROR(RecoverLog());
    // Leases do not outlive the process that held them: delete the previous process's keys.
    std::vector<Record> deletes;
    for (const auto& [key, kv] : kvs_) {
      if (kv.lease == kNoLease) continue;
      int64_t revision = revision_ + 1 + static_cast<int64_t>(deletes.size());
      deletes.push_back({.type = RecordType::kDelete, .revision = revision, .key = key});
    }
    RETURN_IF_ERROR(Commit(deletes));
  }
  timer_ = std::thread([this] { TimerLoop(); });
  return absl::OkStatus();
}

void EmbeddedMetadataStore::Impl::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    ExpireLocked();
    mu_.AwaitWithTimeout(absl::Condition(&stop_),
                         absl::Milliseconds(options_.expiry_check_interval_ms));
  }
}

absl::StatusOr<std::optional<KeyValue>> EmbeddedMetadataStore::Impl::Get(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(it->second);
}

absl::StatusOr<RangeResult> EmbeddedMetadataStore::Impl::GetPrefix(absl::string_view prefix) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  RangeResult result;
  result.revision = revision_;
  for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && absl::StartsWith(it->first, prefix);
       ++it) {
    result.kvs.push_back(it->second);
  }
  return result;
}

absl::StatusOr<CasResult> EmbeddedMetadataStore::Impl::Cas(absl::string_view key,
                                                           std::optional<int64_t> expected,
                                                           absl::string_view value, LeaseId lease) {
  RETURN_IF_ERROR(CheckKey(key, value.size()));
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  if (lease != kNoLease && !leases_.contains(lease)) return LeaseNotFound(lease);
  auto it = kvs_.find(key);
  const bool exists = it != kvs_.end();
  if (expected.has_value() && *expected != (exists ? it->second.mod_revision : 0)) {
    return CasResult{.applied = false,
                     .revision = revision_,
                     .current = exists ? std::optional<KeyValue>(it->second) : std::nullopt};
  }
  const int64_t revision = revision_ + 1;
  Record put{.type = RecordType::kPut,
             .revision = revision,
             .create_revision = exists ? it->second.create_revision : revision,
             .version = exists ? it->second.version + 1 : 1,
             .lease = lease,
             .key = std::string(key),
             .value = std::string(value)};
  RETURN_IF_ERROR(Commit({put}));
  return CasResult{.applied = true, .revision = revision};
}

absl::StatusOr<CasResult> EmbeddedMetadataStore::Impl::CasDelete(absl::string_view key,
                                                                 std::optional<int64_t> expected) {
  RETURN_IF_ERROR(CheckKey(key, 0));
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto it = kvs_.find(key);
  const bool exists = it != kvs_.end();
  if (!exists || (expected.has_value() && *expected != it->second.mod_revision)) {
    return CasResult{.applied = false,
                     .revision = revision_,
                     .current = exists ? std::optional<KeyValue>(it->second) : std::nullopt};
  }
  const int64_t revision = revision_ + 1;
  RETURN_IF_ERROR(
      Commit({{.type = RecordType::kDelete, .revision = revision, .key = std::string(key)}}));
  return CasResult{.applied = true, .revision = revision};
}

absl::StatusOr<LeaseId> EmbeddedMetadataStore::Impl::Grant(int64_t ttl_ms) {
  if (ttl_ms <= 0) return absl::InvalidArgumentError("lease TTL must be positive");
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  const LeaseId id = next_lease_;
  // Persisted so that ids are never reused, even by a later process.
  RETURN_IF_ERROR(Commit({{.type = RecordType::kLeaseGrant, .lease = id, .ttl_ms = ttl_ms}}));
  leases_[id] = Lease{.ttl_ms = ttl_ms, .deadline_ms = options_.clock->MonotonicMs() + ttl_ms};
  return id;
}

absl::Status EmbeddedMetadataStore::Impl::KeepAlive(LeaseId lease) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto it = leases_.find(lease);
  if (it == leases_.end()) return LeaseNotFound(lease);
  it->second.deadline_ms = options_.clock->MonotonicMs() + it->second.ttl_ms;
  return absl::OkStatus();
}

void EmbeddedMetadataStore::Impl::KeepAliveInBackground(LeaseId lease,
                                                        std::function<void(absl::Status)> on_lost) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto it = leases_.find(lease);
  if (it == leases_.end()) {
    callbacks_.Push(0, [on_lost = std::move(on_lost), status = LeaseNotFound(lease)] {
      if (on_lost) on_lost(status);
    });
    return;
  }
  // The holder is this process, so the lease lives exactly as long as the store object.
  it->second.pinned = true;
}

int64_t EmbeddedMetadataStore::Impl::LeaseValidUntilMs(LeaseId lease) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  auto it = leases_.find(lease);
  return it != leases_.end() && it->second.pinned ? std::numeric_limits<int64_t>::max() : 0;
}

absl::Status EmbeddedMetadataStore::Impl::Revoke(LeaseId lease) {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  if (!leases_.contains(lease)) return LeaseNotFound(lease);
  return RevokeLocked(lease);
}

absl::Status EmbeddedMetadataStore::Impl::RevokeLocked(LeaseId lease) {
  auto it = leases_.find(lease);
  std::vector<Record> deletes;
  for (const std::string& key : it->second.keys) {
    int64_t revision = revision_ + 1 + static_cast<int64_t>(deletes.size());
    deletes.push_back({.type = RecordType::kDelete, .revision = revision, .key = key});
  }
  RETURN_IF_ERROR(Commit(deletes));
  leases_.erase(lease);
  return absl::OkStatus();
}

void EmbeddedMetadataStore::Impl::ExpireLocked() {
  const int64_t now_ms = options_.clock->MonotonicMs();
  std::vector<LeaseId> expired;
  for (const auto& [id, lease] : leases_) {
    if (!lease.pinned && lease.deadline_ms <= now_ms) expired.push_back(id);
  }
  for (LeaseId id : expired) {
    LOG_EVENT(Info, "metadata.lease_expired").Kv("lease", id);
    IgnoreError(RevokeLocked(id), "fails only when the store is broken; Open deletes the keys");
  }
}

absl::StatusOr<std::unique_ptr<WatchHandle>> EmbeddedMetadataStore::Impl::Watch(
    absl::string_view prefix, int64_t start_revision, WatchCallback callback) {
  if (start_revision < 0) return absl::InvalidArgumentError("negative watch start revision");
  absl::MutexLock lock(&mu_);
  ExpireLocked();
  const uint64_t id = next_watch_id_++;
  auto cb = std::make_shared<WatchCallback>(std::move(callback));
  int64_t start = start_revision == 0 ? revision_ + 1 : start_revision;
  watchers_[id] = Watcher{.prefix = std::string(prefix), .start_revision = start, .callback = cb};
  if (start < compact_revision_) {
    WatchResponse resync{.resync = true, .revision = compact_revision_ - 1};
    callbacks_.Push(id, [cb, resync] { (*cb)(resync); });
    start = compact_revision_;
  }
  // History is in revision order; replay what the watch missed, then it is live (same lock).
  WatchResponse backlog;
  auto first = std::lower_bound(
      history_.begin(), history_.end(), start,
      [](const WatchEvent& e, int64_t revision) { return e.kv.mod_revision < revision; });
  for (auto it = first; it != history_.end(); ++it) {
    if (absl::StartsWith(it->kv.key, prefix)) backlog.events.push_back(*it);
  }
  if (!backlog.events.empty()) {
    backlog.revision = backlog.events.back().kv.mod_revision;
    callbacks_.Push(id, [cb, backlog = std::move(backlog)] { (*cb)(backlog); });
  }
  return std::make_unique<WatchHandle>([this, id] { CancelWatch(id); });
}

void EmbeddedMetadataStore::Impl::Publish(const std::vector<WatchEvent>& events) {
  if (events.empty()) return;
  const bool overloaded = callbacks_.size() >= options_.max_queued_callbacks;
  for (const auto& [id, watcher] : watchers_) {
    WatchResponse response;
    for (const WatchEvent& event : events) {
      if (event.kv.mod_revision >= watcher.start_revision &&
          absl::StartsWith(event.kv.key, watcher.prefix)) {
        response.events.push_back(event);
      }
    }
    if (response.events.empty()) continue;
    response.revision = response.events.back().kv.mod_revision;
    if (overloaded) {
      // A limit on queued callbacks: this watcher's backlog becomes one resync up to now.
      LOG_EVENT(Warn, "metadata.watch_overflow").Kv("watch", id).Kv("revision", response.revision);
      callbacks_.Drop(id);
      WatchResponse resync{.resync = true, .revision = response.revision};
      callbacks_.Push(id, [cb = watcher.callback, resync] { (*cb)(resync); });
      continue;
    }
    callbacks_.Push(id,
                    [cb = watcher.callback, response = std::move(response)] { (*cb)(response); });
  }
}

void EmbeddedMetadataStore::Impl::CancelWatch(uint64_t id) {
  {
    absl::MutexLock lock(&mu_);
    watchers_.erase(id);
  }
  callbacks_.Cancel(id);
}

absl::Status EmbeddedMetadataStore::Impl::Compact(int64_t revision) {
  absl::MutexLock lock(&mu_);
  if (revision > revision_) {
    return absl::OutOfRangeError(
        absl::StrCat("compact revision ", revision, " is above the current ", revision_));
  }
  if (revision <= compact_revision_) return absl::OkStatus();
  return Commit({{.type = RecordType::kCompact, .revision = revision}});
}

void EmbeddedMetadataStore::Impl::ExpireLeasesNow() {
  absl::MutexLock lock(&mu_);
  ExpireLocked();
}

int64_t EmbeddedMetadataStore::Impl::revision() {
  absl::MutexLock lock(&mu_);
  return revision_;
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<EmbeddedMetadataStore>> EmbeddedMetadataStore::Open(
    const EmbeddedStoreOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("embedded metadata store: no dir");
  auto impl = std::make_unique<Impl>(options);
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<EmbeddedMetadataStore>(new EmbeddedMetadataStore(std::move(impl)));
}

EmbeddedMetadataStore::EmbeddedMetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedMetadataStore::~EmbeddedMetadataStore() = default;

absl::StatusOr<std::optional<KeyValue>> EmbeddedMetadataStore::Get(absl::string_view key) {
  return impl_->Get(key);
}
absl::StatusOr<RangeResult> EmbeddedMetadataStore::GetPrefix(absl::string_view prefix) {
  return impl_->GetPrefix(prefix);
}
absl::StatusOr<int64_t> EmbeddedMetadataStore::Put(absl::string_view key, absl::string_view value,
                                                   LeaseId lease) {
  ASSIGN_OR_RETURN(CasResult r, impl_->Cas(key, std::nullopt, value, lease));
  return r.revision;
}
absl::StatusOr<CasResult> EmbeddedMetadataStore::CompareAndSet(absl::string_view key,
                                                               int64_t expected_mod_revision,
                                                               absl::string_view value,
                                                               LeaseId lease) {
  if (expected_mod_revision < 0) return absl::InvalidArgumentError("negative expected revision");
  return impl_->Cas(key, expected_mod_revision, value, lease);
}
absl::StatusOr<DeleteResult> EmbeddedMetadataStore::Delete(absl::string_view key) {
  ASSIGN_OR_RETURN(CasResult r, impl_->CasDelete(key, std::nullopt));
  return DeleteResult{.deleted = r.applied, .revision = r.revision};
}
absl::StatusOr<CasResult> EmbeddedMetadataStore::CompareAndDelete(absl::string_view key,
                                                                  int64_t expected_mod_revision) {
  if (expected_mod_revision <= 0) {
    return absl::InvalidArgumentError("CompareAndDelete needs a mod_revision > 0");
  }
  return impl_->CasDelete(key, expected_mod_revision);
}
absl::StatusOr<LeaseId> EmbeddedMetadataStore::Grant(int64_t ttl_ms) {
  return impl_->Grant(ttl_ms);
}
absl::Status EmbeddedMetadataStore::KeepAlive(LeaseId lease) { return impl_->KeepAlive(lease); }
void EmbeddedMetadataStore::KeepAliveInBackground(LeaseId lease,
                                                  std::function<void(absl::Status)> on_lost) {
  impl_->KeepAliveInBackground(lease, std::move(on_lost));
}
int64_t EmbeddedMetadataStore::LeaseValidUntilMs(LeaseId lease) {
  return impl_->LeaseValidUntilMs(lease);
}
absl::Status EmbeddedMetadataStore::Revoke(LeaseId lease) { return impl_->Revoke(lease); }
absl::StatusOr<std::unique_ptr<WatchHandle>> EmbeddedMetadataStore::Watch(absl::string_view prefix,
                                                                          int64_t start_revision,
                                                                          WatchCallback callback) {
  return impl_->Watch(prefix, start_revision, std::move(callback));
}
absl::Status EmbeddedMetadataStore::Compact(int64_t revision) { return impl_->Compact(revision); }
void EmbeddedMetadataStore::ExpireLeasesNow() { impl_->ExpireLeasesNow(); }
int64_t EmbeddedMetadataStore::revision() { return impl_->revision(); }

}  // namespace strata
