#include "server/offsets_topic.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/batch_builder.h"
#include "log/record_batch.h"
#include "server/group_records.h"

namespace strata::server {

bool IsInternalTopic(absl::string_view name) { return name == kOffsetsTopicName; }

std::map<std::string, std::string> OffsetsTopicConfigs(const GroupConfig& config) {
  return {{"cleanup.policy", "compact"},
          {"segment.bytes", absl::StrCat(config.segment_bytes)},
          {"compression.type", "producer"}};
}

absl::StatusOr<std::unique_ptr<OffsetsTopic>> OffsetsTopic::Open(PartitionManager* partitions,
                                                                 FlushService* flusher,
                                                                 Clock* clock,
                                                                 GroupConfig& config) {
  std::optional<TopicInfo> info = partitions->Topic(kOffsetsTopicName);
  if (!info.has_value()) {
    ASSIGN_OR_RETURN(info, partitions->CreateTopic(kOffsetsTopicName, config.num_partitions,
                                                   OffsetsTopicConfigs(config),
                                                   /*validate_only=*/false));
    LOG_EVENT(Info, "group.offsets_topic_created").Kv("partitions", info->partitions);
  } else if (info->partitions != config.num_partitions) {
    LOG_EVENT(Warn, "group.offsets_topic_partitions")
        .Kv("configured", config.num_partitions)
        .Kv("existing", info->partitions)
        .Kv("message",
            "offsets.topic.num.partitions differs from the existing topic; using the "
            "existing count");
  }
  config.num_partitions = info->partitions;
  return std::unique_ptr<OffsetsTopic>(
      new OffsetsTopic(partitions, flusher, clock, info->partitions));
}

OffsetsTopic::~OffsetsTopic() { Stop(); }

absl::StatusOr<std::string> OffsetsTopic::BuildBatch(int32_t index, const Partition* partition,
                                                     const RecordList& records) const {
  if (partition == nullptr) {
    return absl::UnavailableError(absl::StrCat(kOffsetsTopicName, "-", index, " is missing"));
  }
  if (!partition->is_leader()) {
    // Cluster mode: leadership of this partition moved; the group's coordinator is elsewhere.
    return absl::UnavailableError(
        absl::StrCat(kOffsetsTopicName, "-", index, " is led by another broker now"));
  }
  if (records.empty()) return std::string();  // nothing to write
  RecordBatchBuilder builder;
  int64_t now = clock_->NowMs();
  for (const auto& [key, value] : records) {
    builder.Add(key, value.has_value() ? std::optional<absl::string_view>(*value) : std::nullopt,
                now);
  }
  return builder.Build();
}

void OffsetsTopic::Append(const std::string& group, RecordList records,
                          std::function<void(absl::Status)> done) {
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  int32_t index = CoordinatorPartition(group, partition_count_);
  std::shared_ptr<Partition> partition = partitions_->Get(kOffsetsTopicName, index);
  absl::StatusOr<std::string> batch = BuildBatch(index, partition.get(), records);
  std::vector<FlushService::Item> flush;
  Offset end{0};
  LeaderEpoch epoch{0};
  std::optional<absl::ReaderMutexLock> role;
  if (partition != nullptr) role.emplace(&partition->role_lock());
  if (partition != nullptr && !partition->accepts_appends() && batch.ok()) {
    batch = absl::UnavailableError(
        absl::StrCat(kOffsetsTopicName, "-", index, " is led by another broker now"));
  }
  {
    absl::MutexLock lock(&order_mu_);
    pending->ready = true;
    if (records.empty()) {
      // Nothing to write: acknowledged in turn.
    } else if (!batch.ok()) {
      pending->status = batch.status();
    } else {
      std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(batch->data()), batch->size());
      epoch = partition->leader_epoch();
      auto info = partition->log().Append(bytes, {.leader_epoch = epoch});
      if (!info.ok()) {
        pending->status = info.status();
      } else {
        end = info->last_offset + 1;
        if (info->flush_due)
          flush.push_back({std::shared_ptr<Log>(partition, &partition->log()), end});
        pending->ready = flush.empty() && !replication_wait_;
      }
    }
    pending_.push_back(pending);
  }
  role.reset();
  if (partition != nullptr && pending->status.ok() && !records.empty()) partition->NotifyAppend();
  if (!pending->status.ok()) {
    LOG_EVENT(Warn, "group.write_failed")
        .Kv("group", group)
        .Kv("error", pending->status.ToString());
  }
  if (!pending->ready) {
    Acknowledge(pending, std::move(flush), {kOffsetsTopicName, index}, epoch, end);
  }
  Drain();
}

void OffsetsTopic::Acknowledge(std::shared_ptr<Pending> pending,
                               std::vector<FlushService::Item> flush, TopicPartition tp,
                               LeaderEpoch epoch, Offset end) {
  auto finish = [this, pending](absl::Status s) {
    {
      absl::MutexLock lock(&order_mu_);
      pending->status = s;
      pending->ready = true;
    }
    Drain();
  };
  // Then, in a cluster, acknowledged once the ISR has it (Kafka's offsets.commit.required.acks).
  auto replicate = [this, finish, tp, epoch, end](absl::Status flushed) {
    if (!flushed.ok() || !replication_wait_) return finish(flushed);
    replication_wait_(tp, epoch, end, finish);
  };
  if (flush.empty()) return replicate(absl::OkStatus());
  flusher_->Submit(std::move(flush), replicate);
}

void OffsetsTopic::Drain() {
  while (true) {
    std::shared_ptr<Pending> head;
    {
      absl::MutexLock lock(&order_mu_);
      if (draining_ || pending_.empty() || !pending_.front()->ready) return;
      draining_ = true;
      head = std::move(pending_.front());
      pending_.pop_front();
    }
    head->done(head->status);
    absl::MutexLock lock(&order_mu_);
    draining_ = false;
  }
}

void OffsetsTopic::StartLoading(GroupCoordinator* coordinator) {
  loader_ = std::thread([this, coordinator] {
    int64_t started = clock_->MonotonicNanos();
    int32_t loaded = 0;
    for (int32_t p = 0; p < partition_count_ && !stop_.load(); ++p) {
      absl::Status s = LoadPartition(coordinator, p);
      if (s.ok()) {
        coordinator->FinishLoading(p);
        ++loaded;
      } else if (!stop_.load()) {
        LOG_EVENT(Error, "group.load_failed")
            .Kv("partition", absl::StrCat(kOffsetsTopicName, "-", p))
            .Kv("error", s.ToString())
            .Kv("message", "groups of this partition stay unavailable until the broker restarts");
      }
    }
    LOG_EVENT(Info, "group.loaded")
        .Kv("partitions", loaded)
        .Kv("of", partition_count_)
        .Kv("ms", (clock_->MonotonicNanos() - started) / 1000000);
    loading_done_.store(true);
  });
}

absl::Status OffsetsTopic::LoadPartition(GroupCoordinator* coordinator, int32_t partition) {
  std::shared_ptr<Partition> part = partitions_->Get(kOffsetsTopicName, partition);
  if (part == nullptr) {
    return absl::NotFoundError(absl::StrCat(kOffsetsTopicName, "-", partition, " is missing"));
  }
  const Log& log = part->log();
  Offset from = log.log_start_offset();
  // A new leader replays everything it has: its log end is what it serves from now on.
  return ForEachBatch(log, from, log.log_end_offset(), [&](const RecordBatchView& batch) {
    if (stop_.load()) return absl::CancelledError("broker is stopping");
    if (batch.is_control()) return absl::OkStatus();
    ASSIGN_OR_RETURN(RecordReader reader, batch.Records());
    Record rec;
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader.Next(&rec));
      if (!more) break;
      if (Offset(rec.offset) < from || !rec.key.has_value()) continue;
      std::optional<absl::string_view> value;
      if (rec.value.has_value()) value = AsStringView(*rec.value);
      coordinator->LoadRecord(partition, AsStringView(*rec.key), value);
    }
    return absl::OkStatus();
  });
}

void OffsetsTopic::Reload(GroupCoordinator* coordinator, int32_t partition) {
  {
    absl::MutexLock lock(&reload_mu_);
    reload_.push_back(partition);
    if (reloader_.joinable()) return;
  }
  reloader_ = std::thread([this, coordinator] {
    while (!stop_.load()) {
      int32_t p = 0;
      {
        absl::MutexLock lock(&reload_mu_);
        auto ready = [this] { return !reload_.empty() || stop_.load(); };
        reload_mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
        if (reload_.empty()) continue;
        p = reload_.front();
        reload_.pop_front();
      }
      coordinator->UnloadPartition(p);
      auto part = partitions_->Get(kOffsetsTopicName, p);
      if (part == nullptr || !part->is_leader()) continue;  // moved on again meanwhile
      int64_t started = clock_->MonotonicNanos();
      absl::Status s = LoadPartition(coordinator, p);
      if (!s.ok()) {
        LOG_EVENT(Error, "group.load_failed")
            .Kv("partition", absl::StrCat(kOffsetsTopicName, "-", p))
            .Kv("error", s.ToString());
        continue;
      }
      coordinator->FinishLoading(p);
      LOG_EVENT(Info, "group.partition_loaded")
          .Kv("partition", absl::StrCat(kOffsetsTopicName, "-", p))
          .Kv("ms", (clock_->MonotonicNanos() - started) / 1000000);
    }
  });
}

void OffsetsTopic::Stop() {
  stop_.store(true);
  if (loader_.joinable()) loader_.join();
  if (reloader_.joinable()) reloader_.join();
}

}  // namespace strata::server
