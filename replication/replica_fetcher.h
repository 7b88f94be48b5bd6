// ReplicaFetcher: a follower's copy loop for the partitions it follows on one leader broker.
// It fetches with the ordinary Fetch API (replica id = this broker), appends the leader's
// batches exactly as they arrive (the leader's offsets, leader epochs and bytes: followers are
// byte-identical copies), and keeps the follower's high watermark at
// min(leader's high watermark, local log end).
//
//   ReplicaFetcher fetcher({.replica_id = 2, .leader = {"127.0.0.1", 9092}});
//   fetcher.AddPartition({.topic = "orders", .partition = 0, .log = log, .leader_epoch = 4});
//   fetcher.Start();                     // its own thread, long-polling the leader
//   ... fetcher.Status("orders", 0) ...  // log end, high watermark, last error
//   fetcher.Stop();
//
// Truncation (KIP-101): a partition added (or re-added after a leader change) first asks the
// leader where its latest local epoch ends (OffsetForLeaderEpoch) and cuts the local log there
// if it runs past it — the unreplicated tail a crashed leader wrote. With no local epoch there
// is nothing to compare and nothing is cut. A fetch answered OFFSET_OUT_OF_RANGE cuts the log to
// the leader's end (when ahead of it) or restarts it at the leader's log start (when behind).
//
// A partition error (NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION —
// the leader has not caught up with the new state yet — or a failed local append) shows in its
// Status and is retried after replica.fetch.backoff.ms; a failed append compares epochs with the
// leader again first. FENCED_LEADER_EPOCH (the leader is on a newer epoch than this follower
// was told) is logged (replica.fenced) and the partition waits to be re-added with the new
// state, comparing epochs with the leader again every 5 s meanwhile. Connection errors back off
// and reconnect. Re-adding a partition (even after removing it) discards the results of every
// request sent before it.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/connection.h"
#include "log/log.h"

namespace strata {

namespace protocol {
struct FetchRequest;
}  // namespace protocol

class ReplicaFetcher {
 public:
  struct Options {
    int32_t replica_id = 0;
    client::HostPort leader;
    int32_t max_wait_ms = 500;              // replica.fetch.wait.max.ms
    int32_t min_bytes = 1;                  // replica.fetch.min.bytes
    int32_t max_bytes = 10 << 20;           // replica.fetch.response.max.bytes
    int32_t partition_max_bytes = 1 << 20;  // replica.fetch.max.bytes
    int64_t backoff_ms = 1'000;             // replica.fetch.backoff.ms
  };
  struct PartitionToFetch {
    std::string topic;
    int32_t partition = 0;
    std::shared_ptr<Log> log;
    int32_t leader_epoch = -1;  // the leader's epoch as the follower knows it (-1: unknown)
  };
  struct PartitionStatus {
    Offset log_end{0};
    Offset high_watermark{0};
    int64_t fetches = 0;            // fetch responses applied
    int64_t truncated_records = 0;  // cut from the local log by truncations
    std::string error;              // empty while healthy
  };

  explicit ReplicaFetcher(Options options);
  ~ReplicaFetcher();  // Stop()

  // Starts (or restarts, after a leader change) following `p`: truncation first, then fetches.
  // The log's high watermark stops following its end: the fetcher sets it from now on.
  void AddPartition(PartitionToFetch p);
  void RemovePartition(const std::string& topic, int32_t partition);
  std::optional<PartitionStatus> Status(const std::string& topic, int32_t partition) const;

  void Start();
  void Stop();
  // One round on the calling thread: connect if needed, truncate what needs it, one Fetch.
  absl::Status RunOnce();

 private:
  friend class ReplicaFetcherTestPeer;  // drives one fetch round in two halves
  using Key = std::pair<std::string, int32_t>;
  struct State {
    PartitionToFetch p;
    uint64_t generation = 0;  // bumped by AddPartition: older responses are ignored
    bool needs_truncation = true;
    int64_t retry_at_ms = 0;  // steady clock; after an error
    PartitionStatus status;
  };

  absl::StatusOr<std::shared_ptr<client::Connection>> Connected();
  absl::Status Truncate(client::Connection& conn, const Key& key, State& s);
  // One Fetch of every partition ready for it (truncated, not backing off), and
  // the generation each was asked at.
  protocol::FetchRequest BuildRequest(std::map<Key, uint64_t>* generations);
  absl::Status FetchRound(client::Connection& conn);
  // Applies one partition's fetch response (records, high watermark, error) if the partition
  // is still at `generation`.
  void Apply(const Key& key, uint64_t generation, int16_t error, int64_t high_watermark,
             std::span<const uint8_t> records);
  absl::Status ResetOutOfRange(client::Connection& conn, const Key& key);
  // Records a partition error in `s`, retried after the back-off; `fenced` (FENCED_LEADER_EPOCH):
  // logged, and retried (with epochs compared first) after a longer wait.
  void Fail(const Key& key, State& s, std::string error, bool fenced) const;
  void Run();

  const Options options_;
  absl::Mutex conn_mu_;  // Stop closes the connection to end a long poll at once
  std::shared_ptr<client::Connection> conn_ ABSL_GUARDED_BY(conn_mu_);
  mutable absl::Mutex mu_;
  std::map<Key, State> partitions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace strata
