// PartitionManager: the topics and partitions this broker serves. Owns the TopicStore (topic
// metadata) and the LogManager (partition logs), loads both at startup and keeps them in step:
// partition directories without metadata (e.g. written by `strata log generate`) are adopted as
// topics, and metadata without directories gets empty logs.
//
// Thread-safe. Partitions are shared: a request keeps its Partition (and so its Log) alive while
// it runs, even if the topic is deleted meanwhile.
#pragma once

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

class Partition {
 public:
  Partition(TopicPartition tp, std::shared_ptr<Log> log)
      : tp_(std::move(tp)), log_(std::move(log)) {}
  const TopicPartition& tp() const { return tp_; }
  Log& log() const { return *log_; }
  // The leader epoch this broker writes into batches (single broker: always 0).
  LeaderEpoch leader_epoch() const { return LeaderEpoch(0); }

  // Registers a waiter until the next append. Register first, then check for data: an append
  // in between then still wakes you.
  void AddWaiter(std::weak_ptr<AppendWaiter> waiter);
  // Wakes (and forgets) every registered waiter.
  void NotifyAppend();

 private:
  TopicPartition tp_;
  std::shared_ptr<Log> log_;
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
  absl::Status Reconcile();
  absl::Status AddPartitionsLocked(const TopicInfo& topic, int32_t from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  BrokerConfig config_;
  std::unique_ptr<TopicStore> topics_;
  std::unique_ptr<LogManager> logs_;
  mutable absl::Mutex mu_;
  std::map<TopicPartition, std::shared_ptr<Partition>> partitions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
