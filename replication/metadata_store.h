// MetadataStore: the small, strongly consistent key/value store the cluster is coordinated
// through (broker registrations, controller election, partition state with its ISR). It is the
// subset of etcd v3 that Strata needs, with the same meaning of every number, so the two
// implementations behave alike:
//
//   EmbeddedMetadataStore (replication/embedded_store.h)  single broker, the default: an
//       append-only, CRC-checked log under <data-dir>/metadata/, no other process needed.
//   EtcdMetadataStore (replication/etcd_store.h)  a cluster: etcd v3 through its JSON gateway.
//
//   ASSIGN_OR_RETURN(auto store, OpenMetadataStore("etcd://127.0.0.1:2379", options));
//   ASSIGN_OR_RETURN(LeaseId lease, store->Grant(/*ttl_ms=*/10'000));
//   store->KeepAliveInBackground(lease, [](absl::Status lost) { /* re-register */ });
//   ASSIGN_OR_RETURN(CasResult r, store->CompareAndSet("/brokers/1", 0, info, lease));
//   if (!r.applied) { /* another broker 1 is registered: r.current says which */ }
//   auto watch = store->Watch("/partitions/", from_revision, [](const WatchResponse& w) {...});
//
// Revisions and versions (etcd's meaning):
//   - The store has one revision counter. Every change (put or delete) creates a new revision;
//     revisions only grow, survive restarts, and are never reused. A fresh store is at revision 1,
//     so the first change has revision 2.
//   - KeyValue::mod_revision is the revision of the key's last change. It is the key's *version*
//     for compare-and-set: CompareAndSet(key, expected_mod_revision, ...) applies only if the key's
//     mod_revision is still `expected_mod_revision`; 0 means "the key must not exist".
//   - KeyValue::create_revision is the revision that created the key (stays across updates; a
//     deleted and re-created key gets a new one). KeyValue::version counts puts since creation.
//
// Leases (sessions): Grant(ttl_ms) returns a lease; keys put with that lease are deleted (with
// ordinary delete events) when the lease expires or is revoked. A lease expires `ttl_ms` after
// its grant or its last KeepAlive. KeepAliveInBackground makes the store refresh it until Revoke
// or until it is lost (the callback then runs once). Leases do not outlive their holder: after an
// embedded store is reopened every lease of the previous process is gone with its keys; an etcd
// lease expires on the server when its holder stops refreshing it.
//
// Watches: Watch(prefix, start_revision, callback) delivers every put and delete of a key under
// `prefix` with revision >= start_revision (0 = changes after the call), in revision order,
// exactly once, on a store-owned thread (one callback at a time per watch; never on the caller's
// thread). If the watch's connection is lost (etcd restart) it reconnects by itself and resumes
// after the last revision it delivered, so no event is lost or repeated. If the revisions it
// needs were compacted away (or, embedded, its callback fell so far behind that the store's
// limit on queued responses was reached), the callback gets a response with `resync` set: the
// caller must re-read its state with GetPrefix and ignore later events whose mod_revision is <= the
// revision GetPrefix returned (events continue after WatchResponse::revision). Destroying the
// WatchHandle cancels the watch; once the destructor returns the callback is not running and will
// not run again (so do not destroy a handle from inside its own callback). A WatchHandle must be
// destroyed before the store that made it.
//
// Errors: absl::Status. kUnavailable when the store cannot be reached or did not answer within
// its timeout (retry later; a mutation that timed out may or may not have applied, so retry with
// compare-and-set), kNotFound for an unknown or expired lease, kInvalidArgument for bad input,
// kDataLoss/kInternal for a broken embedded log. No call blocks longer than the store's request
// timeout.
//
// Thread safety: every method may be called from any thread concurrently, including from watch
// and keep-alive callbacks (except destroying the calling watch's own handle).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/file.h"

namespace strata {

// A lease (session) id. 0 is "no lease".
using LeaseId = int64_t;
inline constexpr LeaseId kNoLease = 0;

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision that created the key
  int64_t mod_revision = 0;     // revision of the last change: the key's version for CAS
  int64_t version = 0;          // number of puts since creation (1 after the first)
  LeaseId lease = kNoLease;     // the lease the key is attached to, if any

  bool operator==(const KeyValue&) const = default;
};

// A consistent read: the keys and the store revision they were read at.
struct RangeResult {
  std::vector<KeyValue> kvs;  // ordered by key (bytewise)
  int64_t revision = 0;       // store revision of the read
};

struct CasResult {
  bool applied = false;
  // applied: the revision of this change. Not applied: the store revision of the comparison.
  int64_t revision = 0;
  // Not applied only: the key as it is now (nullopt if it does not exist).
  std::optional<KeyValue> current;
};

struct DeleteResult {
  bool deleted = false;  // false: the key did not exist
  int64_t revision = 0;  // deleted: the revision of the delete; else the store revision
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // kPut: the key after the change. kDelete: key and mod_revision (the delete's revision) only.
  KeyValue kv;

  bool operator==(const WatchEvent&) const = default;
};

struct WatchResponse {
  std::vector<WatchEvent> events;  // in revision order; empty when resync
  // Events were lost to compaction: re-read with GetPrefix (see the header comment).
  bool resync = false;
  // resync: events continue after this revision. Otherwise the revision of the last event.
  int64_t revision = 0;
};

using WatchCallback = std::function<void(const WatchResponse&)>;

// Owns a watch. Destroying it cancels the watch and waits for a running callback to finish.
class WatchHandle {
 public:
  explicit WatchHandle(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  ~WatchHandle() {
    if (cancel_) cancel_();
  }
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;

 private:
  std::function<void()> cancel_;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // The key, or nullopt if it does not exist.
  virtual absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key) = 0;
  // Every key starting with `prefix` ("" = all keys), ordered by key.
  virtual absl::StatusOr<RangeResult> GetPrefix(absl::string_view prefix) = 0;

  // Creates or replaces `key`; returns the new revision. `lease` attaches the key to a live lease
  // (NotFound if it is not) or detaches it (kNoLease).
  virtual absl::StatusOr<int64_t> Put(absl::string_view key, absl::string_view value,
                                      LeaseId lease = kNoLease) = 0;
  // Puts only if the key's mod_revision equals `expected_mod_revision` (0: key must not exist).
  virtual absl::StatusOr<CasResult> CompareAndSet(absl::string_view key,
                                                  int64_t expected_mod_revision,
                                                  absl::string_view value,
                                                  LeaseId lease = kNoLease) = 0;
  virtual absl::StatusOr<DeleteResult> Delete(absl::string_view key) = 0;
  // Deletes only if the key exists with mod_revision `expected_mod_revision` (must be > 0).
  virtual absl::StatusOr<CasResult> CompareAndDelete(absl::string_view key,
                                                     int64_t expected_mod_revision) = 0;

  // Grants a lease that expires `ttl_ms` after now unless kept alive. Implementations may round
  // the TTL up (etcd: to whole seconds, at least its minimum TTL, 2 s by default).
  virtual absl::StatusOr<LeaseId> Grant(int64_t ttl_ms) = 0;
  // Refreshes the lease to its full TTL. NotFound if it expired or was revoked.
  virtual absl::Status KeepAlive(LeaseId lease) = 0;
  // Keeps the lease alive from a store-owned thread (etcd: a KeepAlive every TTL/3) until Revoke
  // or the store's destruction. If the lease is lost instead (etcd: it expired, or could not be
  // refreshed for a whole TTL) `on_lost` runs once on a store-owned thread with the reason;
  // transient errors are retried meanwhile. Embedded: the lease then lives as long as the store
  // object (its holder is this process).
  virtual void KeepAliveInBackground(LeaseId lease, std::function<void(absl::Status)> on_lost) = 0;
  // For a lease kept alive by KeepAliveInBackground: a time (Clock::System()->MonotonicMs())
  // before which the store certainly still holds it, so its holder may act on it (lead) until
  // then. etcd: the send time of the last successful grant or refresh plus 90% of the TTL it set
  // (the server counts from the later receipt). 0 once the lease is lost or revoked, or for a
  // lease not kept alive here. Embedded: the lease lives as long as the store object, so
  // INT64_MAX while it is kept alive.
  virtual int64_t LeaseValidUntilMs(LeaseId lease) = 0;
  // Ends the lease now and deletes its keys. NotFound if it is already gone.
  virtual absl::Status Revoke(LeaseId lease) = 0;

  // Streams changes under `prefix` from `start_revision` (0 = from now) to `callback`.
  virtual absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(absl::string_view prefix,
                                                             int64_t start_revision,
                                                             WatchCallback callback) = 0;

  // Discards the history before `revision` (watches from older revisions then resync).
  // OutOfRange if `revision` is above the current revision; OK if already compacted that far.
  virtual absl::Status Compact(int64_t revision) = 0;
};

struct MetadataStoreOptions {
  // Embedded store: its files live in <data_dir>/metadata/.
  std::string data_dir;
  FileSystem* fs = FileSystem::Default();
  // Lease expiry (embedded). etcd keeps time itself.
  Clock* clock = Clock::System();
  // etcd: the longest any request may take before it fails with Unavailable.
  int64_t request_timeout_ms = 5'000;
  // etcd: the longest a connection attempt may take (part of request_timeout_ms).
  int64_t connect_timeout_ms = 1'000;
};

// Opens the store named by `uri`:
//   "" or "embedded"       EmbeddedMetadataStore in options.data_dir (the default)
//   "etcd://HOST:PORT"     EtcdMetadataStore talking to http://HOST:PORT
// InvalidArgument for anything else. Opening etcd does not contact it (a later call does).
absl::StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(
    absl::string_view uri, const MetadataStoreOptions& options);

// The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix
// read); "" when there is none (prefix empty or all 0xff), meaning "to the end".
std::string PrefixEnd(absl::string_view prefix);

}  // namespace strata
