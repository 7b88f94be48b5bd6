// EtcdMetadataStore: the MetadataStore of a cluster, backed by etcd v3 (Debian's etcd-server,
// 3.4) through its JSON gateway (POST /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/kv/deleterange,
// /v3/kv/compaction, /v3/lease/grant|keepalive|revoke, and the streaming /v3/watch) over libcurl.
// Why the gateway and not gRPC: see the README's dependency table.
//
//   ASSIGN_OR_RETURN(auto store, EtcdMetadataStore::Open({.endpoint = "http://127.0.0.1:2379"}));
//
// Every request is bounded by request_timeout_ms; when etcd is down or slow the call returns
// Unavailable after at most that long. A mutation that timed out may still have applied (retry
// with compare-and-set). Revisions, versions and leases are etcd's own, so several brokers see
// one history. Lease TTLs are whole seconds on etcd (rounded up; etcd raises TTLs below its
// minimum). Watches run one thread each (replication/etcd_watch.h) and reconnect by themselves;
// KeepAliveInBackground leases share one keep-alive thread.
//
// Watch(prefix, 0, ...) reads etcd's current revision first, so it fails with Unavailable when
// etcd is down; a watch with an explicit start revision starts at once and connects when it can.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "replication/metadata_store.h"

namespace strata {

struct EtcdStoreOptions {
  std::string endpoint;  // "http://HOST:PORT"
  int64_t request_timeout_ms = 5'000;
  int64_t connect_timeout_ms = 1'000;
};

class EtcdMetadataStore final : public MetadataStore {
 public:
  // Does not contact etcd.
  static absl::StatusOr<std::unique_ptr<EtcdMetadataStore>> Open(const EtcdStoreOptions& options);
  ~EtcdMetadataStore() override;

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

  class Impl;

 private:
  explicit EtcdMetadataStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
