// OffsetsTopic: __consumer_offsets, where the group coordinator keeps its state (records and
// their formats: server/group_records.h, docs/formats/consumer-offsets.md).
//
//   ASSIGN_OR_RETURN(auto topic, OffsetsTopic::Open(partitions, flusher, clock, config.group));
//   GroupCoordinator coordinator(config.group, clock, &scheduler, topic.get());
//   topic->StartLoading(&coordinator);   // replays every partition on a background thread
//   ...
//   topic->Stop();                       // before the coordinator goes away
//
// The topic is created on first start with offsets.topic.num.partitions partitions,
// cleanup.policy=compact and offsets.topic.segment.bytes; an existing topic keeps its partition
// count (a changed setting would move groups to other partitions, so it is ignored with a
// warning). Clients see it as an internal topic: they may read it but not write, delete or grow
// it.
//
// Acknowledgements are ordered: `done` callbacks run in the order the records entered the log,
// even when a flush policy (flush.messages) makes one wait for the flusher, so the coordinator's
// memory always matches what a replay of the log would build.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "server/flush_service.h"
#include "server/group_coordinator.h"
#include "server/partition_manager.h"

namespace strata::server {

inline constexpr char kOffsetsTopicName[] = "__consumer_offsets";

// The topic configs of __consumer_offsets.
std::map<std::string, std::string> OffsetsTopicConfigs(const GroupConfig& config);

// Topics clients may not produce to, delete or add partitions to.
bool IsInternalTopic(absl::string_view name);

class OffsetsTopic final : public GroupStorage {
 public:
  // Creates the topic when it is missing. `config.num_partitions` is updated to the partition
  // count in use, which the coordinator must be built with.
  static absl::StatusOr<std::unique_ptr<OffsetsTopic>> Open(PartitionManager* partitions,
                                                            FlushService* flusher, Clock* clock,
                                                            GroupConfig& config);
  ~OffsetsTopic() override;

  int32_t partition_count() const { return partition_count_; }

  void Append(const std::string& group, RecordList records,
              std::function<void(absl::Status)> done) override;

  // Replays partition 0, 1, ... into the coordinator on a background thread, calling
  // FinishLoading after each. A partition that cannot be read stays unloaded (its groups get
  // COORDINATOR_LOAD_IN_PROGRESS) and the error is logged.
  void StartLoading(GroupCoordinator* coordinator);
  // Cluster mode, after a leadership change of `partition`: forgets its groups and, if this
  // broker leads it (checked when its turn comes), replays it, on a background thread.
  // Changes queue up in order, so a replay never finishes after a later unload.
  void Reload(GroupCoordinator* coordinator, int32_t partition);
  // Cluster mode: appends are acknowledged only once `wait(tp, epoch, end, done)` calls `done`
  // (the high watermark passed `end` while this broker still leads at `epoch`, the epoch of
  // the append), so a committed offset survives a failover. Set before use.
  using ReplicationWait = std::function<void(const TopicPartition&, LeaderEpoch epoch, Offset end,
                                             std::function<void(absl::Status)> done)>;
  void set_replication_wait(ReplicationWait wait) { replication_wait_ = std::move(wait); }
  // Whether every partition has been replayed (or failed).
  bool loading_done() const { return loading_done_.load(); }
  // Stops and joins the loader.
  void Stop();

 private:
  OffsetsTopic(PartitionManager* partitions, FlushService* flusher, Clock* clock, int32_t count)
      : partitions_(partitions), flusher_(flusher), clock_(clock), partition_count_(count) {}
  absl::Status LoadPartition(GroupCoordinator* coordinator, int32_t partition);
  struct Pending {
    std::function<void(absl::Status)> done;
    absl::Status status;
    bool ready = false;
  };
  // After the local append: flushed if the policy wants it, then replicated (cluster mode),
  // then ready.
  void Acknowledge(std::shared_ptr<Pending> pending, std::vector<FlushService::Item> flush,
                   TopicPartition tp, LeaderEpoch epoch, Offset end);
  // The records as one batch for partition `index`, or why they cannot be written here.
  absl::StatusOr<std::string> BuildBatch(int32_t index, const Partition* partition,
                                         const RecordList& records) const;
  // Runs the callbacks at the head of pending_ that are ready, in order, one thread at a time.
  void Drain();

  PartitionManager* partitions_;
  FlushService* flusher_;
  Clock* clock_;
  int32_t partition_count_;
  // Appends in log order whose callbacks have not run yet.
  absl::Mutex order_mu_;
  std::deque<std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(order_mu_);
  bool draining_ ABSL_GUARDED_BY(order_mu_) = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> loading_done_{false};
  std::thread loader_;
  ReplicationWait replication_wait_;
  absl::Mutex reload_mu_;
  std::deque<int32_t> reload_ ABSL_GUARDED_BY(reload_mu_);
  std::thread reloader_;  // started by the first Reload
};

}  // namespace strata::server
