// Broker: topic changes and metadata answers that differ between a single broker (the local
// PartitionManager decides) and a cluster (the metadata store decides; every broker's
// ReplicaManager then applies the change to its local replicas).
#include <random>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "protocol/errors.h"
#include "protocol/metadata.h"
#include "server/broker.h"
#include "server/group_records.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

int32_t RandomStart() {
  static std::mt19937 rng(std::random_device{}());
  static absl::Mutex mu;
  absl::MutexLock lock(&mu);
  return static_cast<int32_t>(rng() % 1024);
}

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TopicChange Broker::CreateClusterTopic(const TopicRequest& t) {
  if (!ValidateTopicName(t.name).ok()) {
    return {ErrorCode::kInvalidTopicException, std::string(ValidateTopicName(t.name).message())};
  }
  const int32_t count =
      t.assignments.empty() ? t.partitions : static_cast<int32_t>(t.assignments.size());
  if (count < 1 || count > 100000) {
    return {ErrorCode::kInvalidPartitions, absl::StrCat("invalid partition count ", count)};
  }
  if (auto c = config_.TopicConfig(t.configs); !c.ok()) {
    return {ErrorCode::kInvalidConfig, std::string(c.status().message())};
  }
  if (replicas_->Topic(t.name).has_value()) {
    return {ErrorCode::kTopicAlreadyExists, absl::StrCat("Topic '", t.name, "' already exists.")};
  }
  ClusterView view = FreshView();
  std::vector<std::vector<int32_t>> assignment;
  if (!t.assignments.empty()) {
    for (const auto& replicas : t.assignments) {
      for (int32_t id : replicas) {
        if (view.Find(id) == nullptr || std::count(replicas.begin(), replicas.end(), id) > 1) {
          return {ErrorCode::kInvalidReplicaAssignment,
                  absl::StrCat("broker ", id, " is not alive or appears twice")};
        }
      }
      if (replicas.empty()) return {ErrorCode::kInvalidReplicaAssignment, "no replicas"};
    }
    assignment = t.assignments;
  } else {
    const int32_t rf =
        t.replication_factor == -1 ? config_.default_replication_factor : t.replication_factor;
    auto assigned = AssignReplicas(view.brokers, count, rf, RandomStart());
    if (rf < 1 || !assigned.ok()) {
      return {ErrorCode::kInvalidReplicationFactor,
              absl::StrCat("Replication factor: ", rf,
                           " larger than available brokers: ", view.brokers.size(), ".")};
    }
    assignment = std::move(*assigned);
  }
  TopicInfo info{t.name, TopicStore::NewId(), count, t.configs};
  TopicChange out{ErrorCode::kNone, "", info, static_cast<int16_t>(assignment.front().size())};
  if (t.validate_only) return out;
  TopicAssignment a{assignment, TopicIdHex(info.id), t.configs};
  auto created = CreateTopicAssignment(metadata_store_.get(), config_.metadata_root, t.name, a);
  if (!created.ok()) {
    return {absl::IsAlreadyExists(created.status()) ? ErrorCode::kTopicAlreadyExists
                                                    : ErrorCode::kRequestTimedOut,
            std::string(created.status().message())};
  }
  LOG_EVENT(Info, "topic.created_in_cluster")
      .Kv("topic", t.name)
      .Kv("partitions", count)
      .Kv("replication_factor", out.replication_factor);
  if (absl::Status s = replicas_->SyncNow(); !s.ok()) {
    LOG_EVENT(Warn, "replicas.sync_failed").Kv("error", s.ToString());
  }
  return out;
}

absl::Status Broker::DeleteTopicAnywhere(const std::string& name) {
  if (replicas_ == nullptr) return partitions_->DeleteTopic(name);
  RETURN_IF_ERROR(DeleteTopicState(metadata_store_.get(), config_.metadata_root, name));
  return replicas_->SyncNow();
}

absl::Status Broker::CreatePartitionsAnywhere(const std::string& name, int32_t total,
                                              bool validate_only) {
  if (replicas_ == nullptr) return partitions_->CreatePartitions(name, total, validate_only);
  ASSIGN_OR_RETURN(std::vector<TopicRecord> topics,
                   ReadTopics(metadata_store_.get(), config_.metadata_root));
  auto it = std::find_if(topics.begin(), topics.end(),
                         [&](const TopicRecord& t) { return t.name == name; });
  if (it == topics.end()) return absl::NotFoundError(absl::StrCat("topic '", name, "' not found"));
  const auto current = static_cast<int32_t>(it->assignment.partitions.size());
  if (total <= current) {
    return absl::InvalidArgumentError(absl::StrCat("topic '", name, "' has ", current,
                                                   " partitions; the new count must be larger"));
  }
  if (total > 100000) return absl::InvalidArgumentError("too many partitions");
  const auto rf = static_cast<int32_t>(it->assignment.partitions.front().size());
  ASSIGN_OR_RETURN(
      auto more, AssignReplicas(FreshView().brokers, total - current, rf, RandomStart(), current));
  if (validate_only) return absl::OkStatus();
  RETURN_IF_ERROR(AddPartitionsState(metadata_store_.get(), config_.metadata_root, name,
                                     it->mod_revision, more));
  return replicas_->SyncNow();
}

absl::Status Broker::SetTopicConfigsAnywhere(const std::string& name,
                                             const std::map<std::string, std::string>& configs,
                                             bool validate_only) {
  if (replicas_ == nullptr) return partitions_->SetTopicConfigs(name, configs, validate_only);
  RETURN_IF_ERROR(config_.TopicConfig(configs).status());
  if (validate_only) return absl::OkStatus();
  RETURN_IF_ERROR(
      SetTopicConfigsState(metadata_store_.get(), config_.metadata_root, name, configs));
  return replicas_->SyncNow();
}

CoordinatorAnswer Broker::CoordinatorFor(const std::string& key, int8_t key_type) {
  if (key_type != 0) {
    return {ErrorCode::kCoordinatorNotAvailable, "transactions are not supported", -1, "", -1};
  }
  if (replicas_ == nullptr) {
    return {ErrorCode::kNone, "", config_.broker_id, config_.advertised.host,
            config_.advertised.port};
  }
  ClusterView view = membership_->View();
  std::optional<ReplicaManager::TopicView> topic = replicas_->Topic(kOffsetsTopicName);
  if (!topic.has_value()) {
    // Kafka's way: created at the first FindCoordinator, once enough brokers are up.
    const int16_t rf = config_.group.replication_factor;
    if (static_cast<int64_t>(view.brokers.size()) < rf) view = FreshView();
    if (static_cast<int64_t>(view.brokers.size()) < rf) {
      return {ErrorCode::kCoordinatorNotAvailable,
              absl::StrCat(kOffsetsTopicName, " needs ", rf,
                           " live brokers (offsets.topic.replication.factor); ",
                           view.brokers.size(), " are up"),
              -1, "", -1};
    }
    TopicChange c = CreateClusterTopic({.name = kOffsetsTopicName,
                                        .partitions = offsets_topic_->partition_count(),
                                        .replication_factor = rf,
                                        .configs = OffsetsTopicConfigs(config_.group)});
    if (c.error != ErrorCode::kNone && c.error != ErrorCode::kTopicAlreadyExists) {
      return {ErrorCode::kCoordinatorNotAvailable, c.message, -1, "", -1};
    }
    topic = replicas_->Topic(kOffsetsTopicName);
  }
  const int32_t p = CoordinatorPartition(key, offsets_topic_->partition_count());
  if (topic.has_value() && p < static_cast<int32_t>(topic->partitions.size())) {
    if (const BrokerInfo* leader = view.Find(topic->partitions[p].leader)) {
      return {ErrorCode::kNone, "", leader->id, leader->host, leader->port};
    }
  }
  return {ErrorCode::kCoordinatorNotAvailable, "the group's partition has no leader", -1, "", -1};
}

void Broker::FillClusterTopic(protocol::MetadataResponse::MetadataResponseTopic& topic,
                              const std::vector<int32_t>& alive) {
  std::optional<ReplicaManager::TopicView> info = replicas_->Topic(topic.name.value_or(""));
  if (!info.has_value()) {
    topic.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
    return;
  }
  topic.topic_id = info->id;
  for (const auto& p : info->partitions) {
    auto& part = topic.partitions.emplace_back();
    part.partition_index = p.partition;
    const bool led = p.leader != kNoLeader && Contains(alive, p.leader);
    part.error_code = Code(led ? ErrorCode::kNone : ErrorCode::kLeaderNotAvailable);
    part.leader_id = led ? p.leader : -1;
    part.leader_epoch = p.leader_epoch;
    part.replica_nodes = p.replicas;
    part.isr_nodes = p.isr;
    for (int32_t r : p.replicas) {
      if (!Contains(alive, r)) part.offline_replicas.push_back(r);
    }
  }
}

}  // namespace strata::server
