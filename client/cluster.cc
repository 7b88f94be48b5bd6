#include "client/cluster.h"

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "common/clock.h"
#include "protocol/errors.h"
#include "protocol/metadata.h"

namespace strata::client {

namespace {

constexpr int16_t kMetadataMaxVersion = 12;

int64_t NowMs() { return Clock::System()->MonotonicMs(); }

TopicMetadata ToTopic(const protocol::MetadataResponse::MetadataResponseTopic& t) {
  TopicMetadata out;
  out.name = t.name.value_or("");
  out.error_code = t.error_code;
  out.id = t.topic_id;
  out.is_internal = t.is_internal;
  for (const auto& p : t.partitions) {
    if (p.partition_index < 0) continue;
    if (out.partitions.size() <= static_cast<size_t>(p.partition_index)) {
      out.partitions.resize(static_cast<size_t>(p.partition_index) + 1);
    }
    PartitionMetadata& pm = out.partitions[static_cast<size_t>(p.partition_index)];
    pm = {p.partition_index, p.error_code,    p.leader_id,
          p.leader_epoch,    p.replica_nodes, p.isr_nodes};
  }
  return out;
}

}  // namespace

std::string TopicPartition::ToString() const { return absl::StrCat(topic, "-", partition); }

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Connect(ClusterOptions options) {
  if (options.bootstrap.empty()) return absl::InvalidArgumentError("no bootstrap servers");
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(options)));
  absl::Status last;
  for (size_t i = 0; i < cluster->options_.bootstrap.size(); ++i) {
    auto conn =
        cluster->OpenConnection(-1 - static_cast<int32_t>(i), cluster->options_.bootstrap[i]);
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    auto fetched = cluster->Fetch(**conn, std::vector<std::string>{});
    if (fetched.ok()) return cluster;
    last = fetched.status();
  }
  return absl::UnavailableError(absl::StrCat("no bootstrap server answered: ", last.message()));
}

absl::StatusOr<std::vector<TopicMetadata>> Cluster::Fetch(
    Connection& conn, const std::optional<std::vector<std::string>>& topics) {
  ASSIGN_OR_RETURN(int16_t version,
                   conn.PickVersion(protocol::ApiKey::kMetadata, kMetadataMaxVersion));
  protocol::MetadataRequest req;
  if (!topics.has_value()) {
    if (version == 0) {
      req.topics->clear();  // v0: empty = all
    } else {
      req.topics.reset();
    }
  } else {
    req.topics->clear();
    for (const std::string& t : *topics) {
      req.topics->push_back({.topic_id = {}, .name = t});
    }
  }
  req.allow_auto_topic_creation = options_.allow_auto_topic_creation;
  ASSIGN_OR_RETURN(
      auto resp, (conn.Call<protocol::MetadataRequest, protocol::MetadataResponse>(req, version)));
  return Store(resp, !topics.has_value());
}

std::vector<TopicMetadata> Cluster::Store(const protocol::MetadataResponse& response,
                                          bool all_topics) {
  std::vector<TopicMetadata> out;
  for (const auto& t : response.topics) out.push_back(ToTopic(t));
  absl::MutexLock lock(&mu_);
  if (!response.brokers.empty()) brokers_.clear();
  for (const auto& b : response.brokers) {
    brokers_[b.node_id] = {b.node_id, HostPort{b.host, b.port}};
  }
  cluster_id_ = response.cluster_id;
  controller_id_ = response.controller_id;
  if (all_topics) topics_.clear();
  int64_t now = NowMs();
  for (const TopicMetadata& t : out) {
    if (t.error_code == 0) {
      topics_[t.name] = {t, now, false};
    } else {
      topics_.erase(t.name);
    }
  }
  return out;
}

absl::StatusOr<std::vector<TopicMetadata>> Cluster::Refresh(
    const std::vector<std::string>& topics) {
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, AnyConnection());
  std::optional<std::vector<std::string>> wanted;
  if (!topics.empty()) wanted = topics;
  auto result = Fetch(*conn, wanted);
  if (!result.ok() && IsRetriableError(result.status())) {
    // The connection may have died since we picked it: try once more on a fresh one.
    ASSIGN_OR_RETURN(conn, AnyConnection());
    result = Fetch(*conn, wanted);
  }
  return result;
}

absl::StatusOr<TopicMetadata> Cluster::Topic(const std::string& topic) {
  std::optional<TopicMetadata> stale;
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) {
      if (!it->second.stale && NowMs() - it->second.fetched_ms < options_.metadata_max_age_ms) {
        return it->second.metadata;
      }
      stale = it->second.metadata;
      // Brokers were unreachable a moment ago: do not try again on every lookup.
      if (NowMs() - last_failed_refresh_ms_ < options_.refresh_backoff_ms) return *stale;
    }
  }
  absl::StatusOr<std::vector<TopicMetadata>> found = Refresh({topic});
  if (!found.ok()) {
    bool retriable = IsRetriableError(found.status());
    if (retriable) {
      absl::MutexLock lock(&mu_);
      last_failed_refresh_ms_ = NowMs();
    }
    // No broker answers right now: what we knew is better than nothing (callers retry).
    if (stale.has_value() && retriable) return *stale;
    return found.status();
  }
  for (TopicMetadata& t : *found) {
    if (t.name != topic) continue;
    if (t.error_code != 0) return KafkaError(t.error_code, absl::StrCat("Metadata ", topic));
    return std::move(t);
  }
  return KafkaError(protocol::ErrorCode::kUnknownTopicOrPartition, absl::StrCat("Metadata ", topic),
                    "not in the broker's answer");
}

absl::StatusOr<int32_t> Cluster::PartitionCount(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicMetadata t, Topic(topic));
  return static_cast<int32_t>(t.partitions.size());
}

void Cluster::Invalidate(const std::string& topic) {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) it->second.stale = true;
}

absl::StatusOr<int32_t> Cluster::Leader(const std::string& topic, int32_t partition) {
  ASSIGN_OR_RETURN(TopicMetadata t, Topic(topic));
  std::string where = absl::StrCat(topic, "-", partition);
  if (partition < 0 || static_cast<size_t>(partition) >= t.partitions.size()) {
    return KafkaError(protocol::ErrorCode::kUnknownTopicOrPartition, where,
                      absl::StrCat("the topic has ", t.partitions.size(), " partitions"));
  }
  const PartitionMetadata& p = t.partitions[static_cast<size_t>(partition)];
  if (p.leader < 0) {
    Invalidate(topic);
    return KafkaError(protocol::ErrorCode::kLeaderNotAvailable, where);
  }
  return p.leader;
}

}  // namespace strata::client
