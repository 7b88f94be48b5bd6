// PartitionManager: the topics and partitions this broker serves. Owns the TopicStore (topic
// metadata) and the LogManager (partition logs), loads both at startup and keeps them in step:
// partition directories without metadata (e.g. written by `strata log generate`) are adopted as
// topics, and metadata without directories gets empty logs.
//
// Thread-safe. Partitions are shared: a request keeps its Partition (and so its Log) alive while
// it runs, even if the topic is deleted meanwhile. Topic changes run one at a time and do their
// file work (creating, syncing, deleting directories) without blocking lookups (Get). A new
// topic, or a grown one, is listed only once all of its partitions exist.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/file.h"
#include "log/log_manager.h"
#include "server/broker_config.h"
#include "server/topic_store.h"

namespace strata::server {

// Something waiting for new data in a partition (a long-polling fetch). OnAppend may be called
// from any thread and must be quick (post to your own thread).
class AppendWaiter {
 public:
  virtual ~AppendWaiter() = default;
  virtual void OnAppend() = 0;
};

// What the leader does after an append to one of its partitions (replication: the high
// watermark follows the ISR). Called on the appending thread; must be quick.
class AppendListener {
 public:
  virtual ~AppendListener() = default;
  virtual void OnLeaderAppend(const TopicPartition& tp, Offset log_end) = 0;
};

class Partition {
 public:
  // kLeader: takes produce and fetch requests. kFollower: copies its leader (replication);
  // kNone: no replica here or no leader. A single broker leads every partition at epoch 0.
  enum class Role { kLeader, kFollower, kNone };

  Partition(TopicPartition tp, std::shared_ptr<Log> log, Role role = Role::kLeader)
      : tp_(std::move(tp)), log_(std::move(log)), role_(role) {}
  const TopicPartition& tp() const { return tp_; }
  Log& log() const { return *log_; }
  std::shared_ptr<Log> shared_log() const { return log_; }
  // The leader epoch this broker writes into batches and checks requests against.
  LeaderEpoch leader_epoch() const { return LeaderEpoch(epoch_.load(std::memory_order_acquire)); }
  Role role() const { return role_.load(std::memory_order_acquire); }
  bool is_leader() const { return role() == Role::kLeader; }
  // The leader broker as this broker knows it (-1: none).
  int32_t leader_id() const { return leader_id_.load(std::memory_order_acquire); }
  // Set by the replica manager on every partition state change. Waits for appends that hold
  // role_lock() (shared), so none of them runs under the old role after this returns.
  void SetRole(Role role, LeaderEpoch epoch, int32_t leader_id) {
    absl::WriterMutexLock lock(&role_mu_);
    epoch_.store(epoch.value(), std::memory_order_release);
    leader_id_.store(leader_id, std::memory_order_release);
    role_.store(role, std::memory_order_release);
    draining_.store(false, std::memory_order_release);
  }
  // A leader handing its leadership to another replica (preferred leader election) takes no
  // more appends meanwhile, so that the new leader, once it has copied everything, starts where
  // this one stopped: nothing acknowledged (even with acks=1) is cut. Waits, as SetRole does, for
  // appends in progress. The next SetRole ends it.
  void SetDraining(bool draining) {
    absl::WriterMutexLock lock(&role_mu_);
    draining_.store(draining, std::memory_order_release);
  }
  // Leader and not handing over: appends (produce, offset commits) may go in. Check it under
  // role_lock().
  bool accepts_appends() const { return is_leader() && !draining_.load(std::memory_order_acquire); }
  // Held shared by a leader's append from its role check to its end (Kafka's
  // leaderIsrUpdateLock): a role change cannot slip in between.
  absl::Mutex& role_lock() const ABSL_LOCK_RETURNED(role_mu_) { return role_mu_; }
  void set_append_listener(AppendListener* l) { listener_.store(l, std::memory_order_release); }

  // Registers a waiter until the next append. Register first, then check for data: an append
  // in between then still wakes you.
  void AddWaiter(std::weak_ptr<AppendWaiter> waiter);
  // After an append: tells the append listener (leader) and wakes every registered waiter.
  void NotifyAppend();
  // Wakes (and forgets) every registered waiter (the high watermark moved).
  void WakeWaiters();

 private:
  TopicPartition tp_;
  std::shared_ptr<Log> log_;
  mutable absl::Mutex role_mu_;
  std::atomic<Role> role_;
  std::atomic<int32_t> epoch_{0};
  std::atomic<int32_t> leader_id_{-1};
  std::atomic<bool> draining_{false};
  std::atomic<AppendListener*> listener_{nullptr};
  absl::Mutex mu_;
  std::vector<std::weak_ptr<AppendWaiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

class PartitionManager {
 public:
  static absl::StatusOr<std::unique_ptr<PartitionManager>> Open(FileSystem* fs,
                                                                const BrokerConfig& config,
                                                                Clock* clock);
  ~PartitionManager();

  std::shared_ptr<Partition> Get(absl::string_view topic, int32_t partition) const;
  std::optional<TopicInfo> Topic(absl::string_view name) const;
  std::vector<TopicInfo> Topics() const;

  // Validation comes first (ValidateTopicName, partition count, configs); AlreadyExists when the
  // topic exists. With validate_only nothing changes.
  absl::StatusOr<TopicInfo> CreateTopic(const std::string& name, int32_t partitions,
                                        const std::map<std::string, std::string>& configs,
                                        bool validate_only);
  // Cluster mode: makes the local topic match the cluster's (`topic`, from the metadata store):
  // created with its id, grown to its partition count, its configs applied. New partitions
  // start with role kNone. Returns whether anything changed.
  absl::StatusOr<bool> AdoptTopic(const TopicInfo& topic);
  absl::Status DeleteTopic(absl::string_view name);
  // Grows the topic to `total` partitions (never shrinks: InvalidArgument).
  absl::Status CreatePartitions(absl::string_view name, int32_t total, bool validate_only);
  // Replaces the topic's config overrides (validated first) and applies them to its logs.
  absl::Status SetTopicConfigs(absl::string_view name,
                               const std::map<std::string, std::string>& overrides,
                               bool validate_only);
  absl::StatusOr<LogConfig> EffectiveConfig(absl::string_view topic) const;

  const BrokerConfig& broker_config() const { return config_; }
  LogManager& logs() { return *logs_; }
  void StartBackground() { logs_->StartBackground(); }
  // Closes every log cleanly (final flush, checkpoints, clean-shutdown marker).
  absl::Status Shutdown() { return logs_->Shutdown(); }

 private:
  explicit PartitionManager(BrokerConfig config) : config_(std::move(config)) {}
  // The role new partitions start with: kLeader for a single broker, kNone in a cluster (the
  // replica manager decides).
  Partition::Role initial_role() const {
    return config_.metadata == "embedded" ? Partition::Role::kLeader : Partition::Role::kNone;
  }
  absl::Status Reconcile();
  // Opens (creating if needed) the topic's partitions from `from` on that are not open yet.
  absl::Status AddPartitions(const TopicInfo& topic, int32_t from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Closes partitions [from, to) of `topic` and deletes their logs.
  absl::Status DropPartitions(const std::string& topic, int32_t from, int32_t to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  void UpdateLogConfigs(const TopicInfo& topic, const LogConfig& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);

  BrokerConfig config_;
  std::unique_ptr<TopicStore> topics_;
  std::unique_ptr<LogManager> logs_;
  // One topic change at a time (create, adopt, grow, re-configure, delete). Held across the
  // file work; mu_ only for the map, so lookups never wait for a directory sync.
  absl::Mutex change_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Partition>> partitions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
