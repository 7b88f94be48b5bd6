#include "server/partition_manager.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata::server {

void Partition::AddWaiter(std::weak_ptr<AppendWaiter> waiter) {
  absl::MutexLock lock(&mu_);
  // Drop waiters that are gone, so a long-idle partition does not collect them.
  if (waiters_.size() > 64) {
    std::erase_if(waiters_, [](const auto& w) { return w.expired(); });
  }
  waiters_.push_back(std::move(waiter));
}

void Partition::NotifyAppend() {
  if (AppendListener* l = listener_.load(std::memory_order_acquire)) {
    l->OnLeaderAppend(tp_, log_->log_end_offset());
  }
  WakeWaiters();
}

void Partition::WakeWaiters() {
  std::vector<std::weak_ptr<AppendWaiter>> waiters;
  {
    absl::MutexLock lock(&mu_);
    if (waiters_.empty()) return;
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) {
    if (auto live = w.lock()) live->OnAppend();
  }
}

absl::StatusOr<std::unique_ptr<PartitionManager>> PartitionManager::Open(FileSystem* fs,
                                                                         const BrokerConfig& config,
                                                                         Clock* clock) {
  std::unique_ptr<PartitionManager> pm(new PartitionManager(config));
  ASSIGN_OR_RETURN(pm->topics_, TopicStore::Open(fs, config.data_dir));
  PartitionManager* raw = pm.get();
  LogManager::Options options{
      .data_dir = config.data_dir,
      .flush_check_interval_ms = config.flush_scheduler_interval_ms,
      .retention_check_interval_ms = config.retention_check_interval_ms,
      .checkpoint_interval_ms = config.checkpoint_interval_ms,
      .cleaner =
          {
              .enable = config.cleaner_enable,
              .threads = config.cleaner_threads,
              .dedupe_buffer_bytes = static_cast<uint64_t>(config.cleaner_dedupe_buffer_bytes),
              .io_max_bytes_per_second = config.cleaner_io_max_bytes_per_second,
              .backoff_ms = config.cleaner_backoff_ms,
          },
      .restore_high_watermarks = config.metadata != "embedded"};
  ASSIGN_OR_RETURN(pm->logs_, LogManager::Open(fs, options, clock, [raw](const TopicPartition& tp) {
                     auto c = raw->EffectiveConfig(tp.topic);
                     return c.ok() ? *c : LogConfig();
                   }));
  RETURN_IF_ERROR(pm->Reconcile());
  return pm;
}

PartitionManager::~PartitionManager() = default;

// Loaded logs without metadata become topics; metadata without logs gets empty logs.
absl::Status PartitionManager::Reconcile() {
  std::map<std::string, int32_t> seen;
  for (const TopicPartition& tp : logs_->Partitions()) {
    seen[tp.topic] = std::max(seen[tp.topic], tp.partition + 1);
  }
  for (const auto& [name, count] : seen) {
    std::optional<TopicInfo> topic = topics_->Get(name);
    if (!topic.has_value() && ValidateTopicName(name).ok()) {
      LOG_EVENT(Info, "partitions.adopted_topic").Kv("topic", name).Kv("partitions", count);
      RETURN_IF_ERROR(topics_->Put({name, TopicStore::NewId(), count, {}}));
    } else if (topic.has_value() && topic->partitions < count) {
      topic->partitions = count;
      RETURN_IF_ERROR(topics_->Put(*topic));
    }
  }
  absl::MutexLock lock(&change_mu_);
  for (const TopicInfo& topic : topics_->List()) RETURN_IF_ERROR(AddPartitions(topic, 0));
  absl::MutexLock map_lock(&mu_);
  LOG_EVENT(Info, "partitions.loaded")
      .Kv("topics", topics_->List().size())
      .Kv("partitions", partitions_.size());
  return absl::OkStatus();
}

absl::Status PartitionManager::AddPartitions(const TopicInfo& topic, int32_t from) {
  ASSIGN_OR_RETURN(LogConfig config, config_.TopicConfig(topic.configs));
  for (int32_t p = from; p < topic.partitions; ++p) {
    TopicPartition tp{topic.name, p};
    if (Get(tp.topic, tp.partition) != nullptr) continue;
    // Creating a log syncs directories: not under mu_, which every request's lookup takes.
    ASSIGN_OR_RETURN(auto log, logs_->GetOrCreate(tp, config));
    auto partition = std::make_shared<Partition>(tp, std::move(log), initial_role());
    absl::MutexLock lock(&mu_);
    partitions_[tp] = std::move(partition);
  }
  return absl::OkStatus();
}

absl::Status PartitionManager::DropPartitions(const std::string& topic, int32_t from, int32_t to) {
  for (int32_t p = from; p < to; ++p) {
    TopicPartition tp{topic, p};
    {
      absl::MutexLock lock(&mu_);
      partitions_.erase(tp);
    }
    absl::Status s = logs_->Delete(tp);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

void PartitionManager::UpdateLogConfigs(const TopicInfo& topic, const LogConfig& config) {
  for (int32_t p = 0; p < topic.partitions; ++p) {
    if (auto partition = Get(topic.name, p)) partition->log().UpdateConfig(config);
  }
}

std::shared_ptr<Partition> PartitionManager::Get(absl::string_view topic, int32_t partition) const {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(TopicPartition{std::string(topic), partition});
  return it == partitions_.end() ? nullptr : it->second;
}

std::optional<TopicInfo> PartitionManager::Topic(absl::string_view name) const {
  return topics_->Get(name);
}

std::vector<TopicInfo> PartitionManager::Topics() const { return topics_->List(); }

absl::StatusOr<LogConfig> PartitionManager::EffectiveConfig(absl::string_view topic) const {
  std::optional<TopicInfo> t = topics_->Get(topic);
  return config_.TopicConfig(t.has_value() ? t->configs : std::map<std::string, std::string>());
}

absl::StatusOr<TopicInfo> PartitionManager::CreateTopic(
    const std::string& name, int32_t partitions, const std::map<std::string, std::string>& configs,
    bool validate_only) {
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (partitions < 1 || partitions > 100000) {
    return absl::OutOfRangeError(absl::StrCat("invalid partition count ", partitions));
  }
  RETURN_IF_ERROR(config_.TopicConfig(configs).status());
  absl::MutexLock lock(&change_mu_);
  if (topics_->Get(name).has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("topic '", name, "' already exists"));
  }
  TopicInfo topic{name, TopicStore::NewId(), partitions, configs};
  if (validate_only) return topic;
  // The partitions first, then the topic: whoever sees the topic finds its partitions. A
  // failure leaves neither.
  absl::Status s = AddPartitions(topic, 0);
  if (s.ok()) s = topics_->Put(topic);
  if (!s.ok()) {
    IgnoreError(DropPartitions(name, 0, partitions), "a leftover log is adopted at the next start");
    return s;
  }
  LOG_EVENT(Info, "topic.created").Kv("topic", name).Kv("partitions", partitions);
  return topic;
}

absl::StatusOr<bool> PartitionManager::AdoptTopic(const TopicInfo& topic) {
  RETURN_IF_ERROR(ValidateTopicName(topic.name));
  ASSIGN_OR_RETURN(LogConfig config, config_.TopicConfig(topic.configs));
  absl::MutexLock lock(&change_mu_);
  std::optional<TopicInfo> local = topics_->Get(topic.name);
  if (local.has_value() && local->id == topic.id && local->partitions >= topic.partitions &&
      local->configs == topic.configs) {
    return false;
  }
  auto all_empty = [&] {
    for (int32_t p = 0; p < local->partitions; ++p) {
      auto partition = Get(topic.name, p);
      if (partition != nullptr && partition->log().log_end_offset() > Offset(0)) return false;
    }
    return true;
  };
  if (local.has_value() && local->id != topic.id && !all_empty()) {
    // Another topic of that name (deleted and re-created while this broker was away).
    LOG_EVENT(Warn, "topic.replaced")
        .Kv("topic", topic.name)
        .Kv("old_id", TopicIdHex(local->id))
        .Kv("id", TopicIdHex(topic.id));
    RETURN_IF_ERROR(DropPartitions(topic.name, 0, local->partitions));
    local.reset();
  }
  TopicInfo merged = topic;
  if (local.has_value()) merged.partitions = std::max(local->partitions, topic.partitions);
  RETURN_IF_ERROR(AddPartitions(merged, 0));  // before the topic says they exist
  RETURN_IF_ERROR(topics_->Put(merged));
  UpdateLogConfigs(merged, config);
  LOG_EVENT(Info, "topic.adopted")
      .Kv("topic", topic.name)
      .Kv("partitions", merged.partitions)
      .Kv("id", TopicIdHex(topic.id));
  return true;
}

absl::Status PartitionManager::DeleteTopic(absl::string_view name) {
  absl::MutexLock lock(&change_mu_);
  std::optional<TopicInfo> topic = topics_->Get(name);
  if (!topic.has_value()) return absl::NotFoundError(absl::StrCat("topic '", name, "' not found"));
  RETURN_IF_ERROR(topics_->Remove(name));
  RETURN_IF_ERROR(DropPartitions(topic->name, 0, topic->partitions));
  LOG_EVENT(Info, "topic.deleted").Kv("topic", name);
  return absl::OkStatus();
}

absl::Status PartitionManager::CreatePartitions(absl::string_view name, int32_t total,
                                                bool validate_only) {
  absl::MutexLock lock(&change_mu_);
  std::optional<TopicInfo> topic = topics_->Get(name);
  if (!topic.has_value()) return absl::NotFoundError(absl::StrCat("topic '", name, "' not found"));
  if (total <= topic->partitions) {
    return absl::InvalidArgumentError(absl::StrCat("topic '", name, "' has ", topic->partitions,
                                                   " partitions; the new count must be larger"));
  }
  if (total > 100000) return absl::InvalidArgumentError("too many partitions");
  if (validate_only) return absl::OkStatus();
  int32_t from = topic->partitions;
  topic->partitions = total;
  RETURN_IF_ERROR(AddPartitions(*topic, from));  // before the topic says they exist
  return topics_->Put(*topic);
}

absl::Status PartitionManager::SetTopicConfigs(absl::string_view name,
                                               const std::map<std::string, std::string>& overrides,
                                               bool validate_only) {
  ASSIGN_OR_RETURN(LogConfig config, config_.TopicConfig(overrides));
  absl::MutexLock lock(&change_mu_);
  std::optional<TopicInfo> topic = topics_->Get(name);
  if (!topic.has_value()) return absl::NotFoundError(absl::StrCat("topic '", name, "' not found"));
  if (validate_only) return absl::OkStatus();
  topic->configs = overrides;
  RETURN_IF_ERROR(topics_->Put(*topic));
  UpdateLogConfigs(*topic, config);
  if (config.cleanup_compact) logs_->cleaner().Wake();  // e.g. cleanup.policy became compact
  return absl::OkStatus();
}

}  // namespace strata::server
