// ReplicaManager: this broker's part in replication (cluster mode only). It follows the topics
// and partition states the cluster keeps in the metadata store (replication/partition_state.h)
// and makes every local replica what its state says:
//
//   topics/<t>            local topics are created (with the cluster's topic id), grown,
//                         re-configured and deleted to match;
//   leader == this broker the partition takes produce and fetch requests (role kLeader), its
//                         epoch is assigned in the leader-epoch cache at the log end, and a
//                         LeaderReplicaState tracks the followers: high watermark = the smallest
//                         log end over the ISR;
//   leader == another     role kFollower: a ReplicaFetcher for that leader copies the partition
//                         (truncating first, see replication/replica_fetcher.h);
//   no leader             role kNone: requests get NOT_LEADER_OR_FOLLOWER.
//
// As leader it shrinks the ISR (a follower not caught up for replica.lag.time.max.ms) and expands
// it (a follower reached the high watermark and the epoch's start, and its broker is live in the
// store: as KIP-841, a broker cut off from the store never joins an ISR), each change a
// compare-and-set on the partition state's version, at most one a second per partition: if the
// state moved on meanwhile (a new leader, the controller's change) the write fails and the next
// sync applies the new state. acks=all produce waits here (WaitForAcks) until the high watermark
// passes its batch. A broker leads only while its session in the store is certainly alive
// (SessionAlive).
//
//   ReplicaManager replicas(store, membership, partitions, {.self = 1, .root = "/strata/"});
//   RETURN_IF_ERROR(replicas.Start());  // syncs once, then follows the store on its thread
//   ... partitions->Get(t, p)->is_leader() ...
//   replicas.Stop();
//
// Thread safety: every method may be called from any thread. Store I/O happens on the manager's
// thread only, never on the request path.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "protocol/errors.h"
#include "replication/cluster_membership.h"
#include "replication/metadata_store.h"
#include "replication/partition_state.h"
#include "replication/replica_fetcher.h"
#include "replication/replica_state.h"
#include "server/partition_manager.h"

namespace strata::server {

class ReplicaManager : public AppendListener {
 public:
  struct Options {
    int32_t self = 0;
    std::string root = "/strata/";
    int64_t replica_lag_time_max_ms = 30'000;  // replica.lag.time.max.ms
    int64_t sync_interval_ms = 1'000;          // full re-read even without store events
    // Preferred leader election, the leader's own: every interval, a partition led here whose
    // first (preferred) replica is another broker, live, in the ISR and caught up is handed to
    // it. Appends pause (NOT_LEADER_OR_FOLLOWER, which clients retry) until that replica has
    // everything, then one compare-and-set names it leader with the epoch bumped; nothing is cut.
    // A handover not done within handover_timeout_ms is given up and appends resume.
    bool auto_leader_rebalance = true;  // auto.leader.rebalance.enable
    int64_t leader_imbalance_check_interval_ms =
        300'000;  // leader.imbalance.check.interval.seconds
    int64_t handover_timeout_ms = 2'000;
    // Fetch settings for followers (replica_id and leader are set per leader).
    ReplicaFetcher::Options fetch;
  };

  // A partition as the cluster has it (Metadata).
  struct PartitionView {
    int32_t partition = 0;
    int32_t leader = kNoLeader;
    int32_t leader_epoch = 0;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
  };
  struct TopicView {
    std::string name;
    TopicId id{};
    std::map<std::string, std::string> configs;
    std::vector<PartitionView> partitions;
  };

  ReplicaManager(MetadataStore* store, ClusterMembership* membership, PartitionManager* partitions,
                 Options options);
  ~ReplicaManager() override;  // Stop()

  // One sync now (so a started broker knows its roles), then the thread follows the store.
  absl::Status Start();
  // Stops the fetchers and the thread. Partitions keep their last role.
  void Stop();
  // Re-reads the store and applies it now (after this broker changed a topic, in tests).
  absl::Status SyncNow();
  // Controlled shutdown, before leadership moves away: stops copying from leaders for good (a
  // follower that keeps fetching would rejoin the ISRs it is about to leave). Later syncs still
  // apply roles, so requests for partitions this broker led get NOT_LEADER_OR_FOLLOWER.
  void StopFetching();

  // Whether this broker may act as leader now: its session in the metadata store is certainly
  // alive (ClusterMembership::SessionValidUntilMs, read every 100 ms and before every sync). A
  // broker whose session has expired may already have been replaced as leader: it takes no
  // produce (NOT_LEADER_OR_FOLLOWER), Metadata stops naming it leader, and it resigns every
  // leadership until it has registered again and read the current partition states.
  bool SessionAlive() const { return NowMs() < session_until_ms_.load(std::memory_order_acquire); }

  // The cluster's topics as of the last sync.
  std::vector<TopicView> Topics() const;
  std::optional<TopicView> Topic(const std::string& name) const;

  // ---- leader side (called by request handlers) ----
  // Follower `replica` fetched `tp` from `fetch_offset` (it has everything below it).
  void OnFollowerFetch(const TopicPartition& tp, int32_t replica, Offset fetch_offset);
  void OnLeaderAppend(const TopicPartition& tp, Offset log_end) override;
  // acks=all before the append: false when the ISR is smaller than `min_insync`.
  bool EnoughReplicas(const TopicPartition& tp, int32_t min_insync) const;
  // Whether this broker leads `tp` and `replica` is another of its assigned replicas.
  bool IsFollower(const TopicPartition& tp, int32_t replica) const;
  // acks=all after the append, as leader at `epoch`, of a batch ending before `end`: `done` runs
  // (on some thread) with kNone once the high watermark reaches `end` with at least
  // `min_insync` in the ISR, NOT_ENOUGH_REPLICAS_AFTER_APPEND if it got there with fewer,
  // REQUEST_TIMED_OUT after `timeout_ms`, NOT_LEADER_OR_FOLLOWER if this broker stopped leading
  // meanwhile or leads at another epoch now (the batch may have been cut and its offsets
  // reused while it led elsewhere).
  void WaitForAcks(const TopicPartition& tp, LeaderEpoch epoch, Offset end, int32_t min_insync,
                   int64_t timeout_ms, std::function<void(protocol::ErrorCode)> done);

  // Called after every leadership change of a partition (on the manager's thread), e.g. for
  // the group coordinator to load or unload a __consumer_offsets partition.
  using RoleListener = std::function<void(const TopicPartition&, Partition::Role)>;
  void set_role_listener(RoleListener l) { role_listener_ = std::move(l); }

 private:
  struct AckWait {
    Offset end;
    int32_t min_insync;
    int64_t deadline_ms;  // steady clock
    std::function<void(protocol::ErrorCode)> done;
  };
  // A partition this broker leads.
  struct Led {
    std::shared_ptr<Partition> partition;
    int32_t epoch = 0;
    std::vector<int32_t> replicas;
    PartitionState state;      // as last written or read
    int64_t mod_revision = 0;  // of the state: the version for compare-and-set
    LeaderReplicaState replication;
    std::vector<AckWait> waits;
    int64_t isr_retry_at_ms = 0;     // no ISR write before (steady clock): 1 s after the last one
    int isr_failures = 0;            // consecutive failed ISR writes (logged at the first)
    int32_t handing_to = kNoLeader;  // a preferred-leader handover in progress: to this replica
    int64_t handover_deadline_ms = 0;
    bool handed_over = false;  // the store names `handing_to` leader: draining until the sync
  };
  // A partition this broker follows.
  struct Followed {
    int32_t leader = kNoLeader;
    int32_t epoch = -1;
    std::string address;  // host:port the fetcher talks to
    // A re-created topic has new Partition objects (held, so that an address is never reused
    // for a new one while this entry names the old).
    std::shared_ptr<Partition> partition;
  };
  using Done =
      std::vector<std::pair<std::function<void(protocol::ErrorCode)>, protocol::ErrorCode>>;

  void Run();
  absl::Status Sync() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Resigns or stops following the partitions that the store's `topics` and `records` no
  // longer have, or whose topic has another id there (deleted and created again).
  void ReleaseGone(const std::vector<TopicRecord>& topics,
                   const std::vector<PartitionRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  absl::Status SyncTopics(const std::vector<TopicRecord>& topics)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  bool IsEmpty(const TopicInfo& topic) const;
  void ApplyState(const PartitionRecord& rec, const ClusterView& view)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // The same leadership as already held (epoch and Partition object): takes the state's newer
  // ISR, if any, and returns true.
  bool RefreshLeadership(const PartitionRecord& rec, const Partition* p);
  void BecomeLeader(const PartitionRecord& rec, std::shared_ptr<Partition> p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void BecomeFollower(const PartitionRecord& rec, std::shared_ptr<Partition> p,
                      const BrokerInfo& leader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void StopFollowing(const TopicPartition& tp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void ResignLeadership(const TopicPartition& tp, Done& done);
  // Reads the session's deadline from the membership (the SessionAlive() cache).
  void RefreshSession();
  // Without a session: every partition led here goes out of service (role kNone).
  void ResignAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Leader upkeep on the thread: ISR shrink and expand by compare-and-set, expired acks.
  void MaintainIsr();
  // acks=all waits past their timeout get REQUEST_TIMED_OUT (its own thread: a sync stuck on an
  // unreachable store must not hold them up).
  void ExpireAcks();
  // Preferred leader election (Options::auto_leader_rebalance): starts handovers every
  // leader_imbalance_check_interval_ms, completes or gives up those in progress.
  void HandOverToPreferred();
  // The compare-and-set that names `target` leader of `tp`, from the state at `computed_at`.
  void HandOver(const TopicPartition& tp, int32_t target, int64_t computed_at);
  void EndHandover(const TopicPartition& tp);
  // Compare-and-set of a new ISR computed from the state at version `computed_at`.
  absl::Status WriteIsr(const TopicPartition& tp, std::vector<int32_t> isr, int64_t computed_at);
  // After the leader's view changed: moves the log's high watermark and collects finished
  // waits. Returns whether the mark moved.
  bool AdvanceLocked(Led& led, Done& done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Finish(Done& done);
  void Wake();
  int64_t NowMs() const;

  MetadataStore* store_;
  ClusterMembership* membership_;
  PartitionManager* partitions_;
  const Options options_;
  RoleListener role_listener_;

  std::atomic<int64_t> session_until_ms_{0};  // SessionValidUntilMs, as last read
  mutable absl::Mutex mu_;
  std::map<TopicPartition, Led> led_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, Followed> followed_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // new acks=all waits are refused
  std::vector<TopicView> topics_ ABSL_GUARDED_BY(mu_);

  absl::Mutex sync_mu_;  // one sync at a time (the thread, SyncNow)
  // One per leader followed since the start. A fetcher left without partitions stays (and holds
  // no connection): stopping it here, under sync_mu_, could wait out a leader that accepts but
  // does not answer yet, and locks the fetcher's connection under sync_mu_.
  std::map<int32_t, std::unique_ptr<ReplicaFetcher>> fetchers_ ABSL_GUARDED_BY(sync_mu_);
  std::map<int32_t, std::string> fetcher_address_ ABSL_GUARDED_BY(sync_mu_);
  bool leaving_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool stopped_syncing_ ABSL_GUARDED_BY(sync_mu_) = false;         // Stop ran: no more syncs
  std::set<std::string> seen_in_store_ ABSL_GUARDED_BY(sync_mu_);  // topics the cluster had
  std::set<std::string> warned_local_ ABSL_GUARDED_BY(sync_mu_);

  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::unique_ptr<WatchHandle> watch_;
  int listener_ = -1;
  int64_t next_imbalance_check_ms_ = 0;  // the manager's thread only
  std::thread thread_;
  std::thread expiry_thread_;
};

}  // namespace strata::server
