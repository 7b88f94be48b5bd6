// EmbeddedMetadataStore: the single-broker MetadataStore (the default). Everything lives in this
// process and in one append-only log file, <data-dir>/metadata/metadata.log (format:
// replication/metadata_log.h, docs/formats/metadata-store.md).
//
//   ASSIGN_OR_RETURN(auto store, EmbeddedMetadataStore::Open({.dir = data_dir + "/metadata"}));
//
// Durability: a mutation returns only after its record is fsynced, so an acknowledged change
// survives a crash; after a crash the store holds a prefix of the changes (every acknowledged one,
// plus possibly the one in flight). Revisions and lease ids continue across restarts. If a write
// or fsync fails the store stops accepting mutations (it cannot know what reached the disk) and
// returns that error until it is reopened; reads keep working.
//
// Leases expire on options.clock (a ManualClock in tests): expiry is checked on every call and by
// a store-owned timer thread at least every expiry_check_interval_ms of real time. Leases belong
// to the process that holds the store: on Open, keys attached to the previous process's leases are
// deleted (new revisions, visible to watches from older revisions).
//
// History for watches: the events since the later of the last log rewrite (as of the last
// Open) and max_history_events ago; older start revisions get a resync.
//
// Watch callbacks and on_lost callbacks run on one store-owned dispatcher thread, one at a time,
// in commit order: a slow callback delays the others.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/file.h"
#include "replication/metadata_store.h"

namespace strata {

struct EmbeddedStoreOptions {
  std::string dir;  // the metadata directory, created if missing
  FileSystem* fs = FileSystem::Default();
  Clock* clock = Clock::System();
  // Rewrite the log as a snapshot when it is this large and 4x the live data (or more).
  uint64_t rewrite_min_bytes = 4 << 20;
  // Events kept in memory for watches that start in the past.
  size_t max_history_events = 100'000;
  int64_t expiry_check_interval_ms = 50;
  // Watch responses waiting for slow callbacks, at most. Past it, a watcher that gets another
  // response has its queued ones replaced by one resync (it re-reads, as after a compaction).
  size_t max_queued_callbacks = 100'000;
};

class EmbeddedMetadataStore final : public MetadataStore {
 public:
  // Opens (or creates) the store in options.dir, recovering its log.
  static absl::StatusOr<std::unique_ptr<EmbeddedMetadataStore>> Open(
      const EmbeddedStoreOptions& options);
  ~EmbeddedMetadataStore() override;

  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key) override;
  absl::StatusOr<RangeResult> GetPrefix(absl::string_view prefix) override;
  absl::StatusOr<int64_t> Put(absl::string_view key, absl::string_view value,
                              LeaseId lease = kNoLease) override;
  absl::StatusOr<CasResult> CompareAndSet(absl::string_view key, int64_t expected_mod_revision,
                                          absl::string_view value,
                                          LeaseId lease = kNoLease) override;
  absl::StatusOr<DeleteResult> Delete(absl::string_view key) override;
  absl::StatusOr<CasResult> CompareAndDelete(absl::string_view key,
                                             int64_t expected_mod_revision) override;
  absl::StatusOr<LeaseId> Grant(int64_t ttl_ms) override;
  absl::Status KeepAlive(LeaseId lease) override;
  void KeepAliveInBackground(LeaseId lease, std::function<void(absl::Status)> on_lost) override;
  int64_t LeaseValidUntilMs(LeaseId lease) override;
  absl::Status Revoke(LeaseId lease) override;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                     int64_t start_revision,
                                                     WatchCallback callback) override;
  absl::Status Compact(int64_t revision) override;

  // Expires due leases now (tests call it after advancing a ManualClock; every other call does
  // it too).
  void ExpireLeasesNow();
  // The current revision.
  int64_t revision();

  class Impl;

 private:
  explicit EmbeddedMetadataStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
