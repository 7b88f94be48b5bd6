// Internal to replication/: the state of an EmbeddedMetadataStore, split across
// embedded_store.cc (the MetadataStore operations, leases, watches) and embedded_store_log.cc
// (recovery, appending records, rewriting the log).
//
// One mutex guards everything, including the file appends: metadata changes are rare and small,
// and holding it across the fsync is what keeps revisions, the file and the watchers in one order.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "replication/callback_queue.h"
#include "replication/embedded_store.h"
#include "replication/metadata_log.h"

namespace strata {

class EmbeddedMetadataStore::Impl {
 public:
  explicit Impl(const EmbeddedStoreOptions& options);
  ~Impl();

  // Recovers (or creates) the log, deletes the previous process's leased keys, starts the timer.
  absl::Status Open();

  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key);
  absl::StatusOr<RangeResult> GetPrefix(absl::string_view prefix);
  absl::StatusOr<CasResult> Cas(absl::string_view key, std::optional<int64_t> expected,
                                absl::string_view value, LeaseId lease);
  absl::StatusOr<CasResult> CasDelete(absl::string_view key, std::optional<int64_t> expected);
  absl::StatusOr<LeaseId> Grant(int64_t ttl_ms);
  absl::Status KeepAlive(LeaseId lease);
  void KeepAliveInBackground(LeaseId lease, std::function<void(absl::Status)> on_lost);
  int64_t LeaseValidUntilMs(LeaseId lease);
  absl::Status Revoke(LeaseId lease);
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                     int64_t start_revision,
                                                     WatchCallback callback);
  absl::Status Compact(int64_t revision);
  void ExpireLeasesNow();
  int64_t revision();

 private:
  struct Lease {
    int64_t ttl_ms = 0;
    int64_t deadline_ms = 0;  // on clock->MonotonicMs()
    bool pinned = false;      // KeepAliveInBackground: lives as long as this process
    std::set<std::string> keys;
  };
  struct Watcher {
    std::string prefix;
    int64_t start_revision = 0;  // events before it are not the watcher's
    std::shared_ptr<WatchCallback> callback;
  };
  using Record = metadata_log::Record;

  // embedded_store_log.cc
  absl::Status CreateLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends and fsyncs `records`, then applies them and notifies watchers.
  absl::Status Commit(const std::vector<Record>& records) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one record to memory; appends the watch event it makes (if any) to `events`.
  void Apply(const Record& record, std::vector<WatchEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyPut(const Record& record, std::vector<WatchEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyDelete(const Record& record, std::vector<WatchEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddHistory(const WatchEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropHistoryBefore(int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Snapshot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MaybeRewrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenForAppend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // embedded_store.cc
  void Publish(const std::vector<WatchEvent>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the keys of `lease` (one revision each) and forgets the lease.
  absl::Status RevokeLocked(LeaseId lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelWatch(uint64_t id);
  void TimerLoop();

  const EmbeddedStoreOptions options_;
  const std::string path_;  // <dir>/metadata.log

  absl::Mutex mu_;
  std::unique_ptr<File> file_ ABSL_GUARDED_BY(mu_);
  uint64_t file_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rewrite_at_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // A failed append or fsync: the file's tail is unknown, so mutations stop until reopened.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, KeyValue, std::less<>> kvs_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
  // History holds every event with revision in [compact_revision_, revision_].
  int64_t compact_revision_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<WatchEvent> history_ ABSL_GUARDED_BY(mu_);
  LeaseId next_lease_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<LeaseId, Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  internal::CallbackQueue callbacks_;
  std::thread timer_;
};

}  // namespace strata
