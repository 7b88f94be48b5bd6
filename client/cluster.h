// Cluster: what a client knows about the brokers — bootstrap servers, a metadata cache
// (topics → partitions → leader; broker id → host:port) and one Connection per broker.
//
//   ClusterOptions options{.bootstrap = {{"127.0.0.1", 9092}}};
//   ASSIGN_OR_RETURN(auto cluster, Cluster::Connect(options));
//   ASSIGN_OR_RETURN(TopicMetadata t, cluster->Topic("orders"));       // fetched on first use
//   ASSIGN_OR_RETURN(auto conn, cluster->LeaderConnection("orders", 0));
//   ...
//   cluster->Invalidate("orders");   // after NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION
//
// Metadata is fetched on demand (a topic not cached, or cached longer than
// metadata_max_age_ms, or invalidated) with a Metadata request to any reachable broker. When no
// broker answers, a topic's last known metadata is returned (callers retry against it); a
// broker saying the topic does not exist removes it.
// Connections are opened lazily and replaced when they close. Connect() tries the bootstrap
// servers in order until one answers a Metadata request.
//
// Thread-safe. No lock is held during network I/O, so Connection callbacks may call
// Invalidate() without deadlocking against a thread that is refreshing metadata.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/connection.h"
#include "protocol/types.h"

namespace strata::protocol {
struct MetadataResponse;
}

namespace strata::client {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string ToString() const;  // "topic-3"
};

struct ClusterOptions {
  std::vector<HostPort> bootstrap;
  ConnectionOptions connection;
  // Metadata requests for a named topic ask the broker to create it when it does not exist
  // (and auto.create.topics.enable allows). Producers want this; admin and consumers do not.
  bool allow_auto_topic_creation = false;
  int64_t metadata_max_age_ms = 300'000;
  // After a refresh found no broker, stale metadata is used for this long without retrying.
  int64_t refresh_backoff_ms = 100;
};

// The ClusterOptions for a client's options (anything with bootstrap, client_id,
// connect_timeout_ms and request_timeout_ms: ProducerOptions, ConsumerOptions, AdminOptions).
template <typename ClientOptions>
ClusterOptions ClusterOptionsFor(const ClientOptions& o) {
  return {.bootstrap = o.bootstrap,
          .connection = {.client_id = o.client_id,
                         .connect_timeout_ms = o.connect_timeout_ms,
                         .request_timeout_ms = o.request_timeout_ms}};
}

struct PartitionMetadata {
  int32_t partition = 0;
  int16_t error_code = 0;
  int32_t leader = -1;  // broker id; -1 = no leader
  int32_t leader_epoch = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

struct TopicMetadata {
  std::string name;
  int16_t error_code = 0;  // as the broker reported it (Refresh returns failed topics too)
  protocol::Uuid id{};
  bool is_internal = false;
  std::vector<PartitionMetadata> partitions;  // indexed by partition number
};

struct BrokerMetadata {
  int32_t id = -1;
  HostPort address;
};

class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Connect(ClusterOptions options);

  const ClusterOptions& options() const { return options_; }

  // The topic's metadata, from the cache or fetched now. NotFound (UNKNOWN_TOPIC_OR_PARTITION)
  // when the broker does not know it.
  absl::StatusOr<TopicMetadata> Topic(const std::string& topic);
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic);
  // Fetches metadata for `topics` now (empty: every topic) and caches it. Returns the topics
  // the broker described; per-topic errors are not an error of the call.
  absl::StatusOr<std::vector<TopicMetadata>> Refresh(const std::vector<std::string>& topics);
  // Every topic the cluster has (fetched now).
  absl::StatusOr<std::vector<TopicMetadata>> AllTopics() { return Refresh({}); }
  // Marks a topic's metadata stale; the next lookup fetches it again.
  void Invalidate(const std::string& topic);

  // The leader's broker id for a partition, fetching metadata when needed.
  absl::StatusOr<int32_t> Leader(const std::string& topic, int32_t partition);
  // A connection to a broker (opened now if there is none or the last one closed).
  absl::StatusOr<std::shared_ptr<Connection>> ConnectionTo(int32_t broker_id);
  absl::StatusOr<std::shared_ptr<Connection>> LeaderConnection(const std::string& topic,
                                                               int32_t partition);
  // Any live connection: a known broker's, else a bootstrap server's.
  absl::StatusOr<std::shared_ptr<Connection>> AnyConnection();
  // The controller (where CreateTopics and friends go); falls back to any broker.
  absl::StatusOr<std::shared_ptr<Connection>> ControllerConnection();

  std::vector<BrokerMetadata> Brokers() const;
  std::optional<std::string> cluster_id() const;
  int32_t controller_id() const;

 private:
  struct CachedTopic {
    TopicMetadata metadata;
    int64_t fetched_ms = 0;
    bool stale = false;  // Invalidate()d: refreshed before use, used only if that fails
  };

  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  // Opens a connection to `address`, keeps it under `key` (a broker id; -1-i for bootstrap i).
  absl::StatusOr<std::shared_ptr<Connection>> OpenConnection(int32_t key, const HostPort& address);
  // Sends one Metadata request: `topics` nullopt = all topics, empty = none (brokers only).
  absl::StatusOr<std::vector<TopicMetadata>> Fetch(
      Connection& conn, const std::optional<std::vector<std::string>>& topics);
  std::vector<TopicMetadata> Store(const protocol::MetadataResponse& response, bool all_topics);

  const ClusterOptions options_;
  mutable absl::Mutex mu_;
  std::map<int32_t, BrokerMetadata> brokers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, CachedTopic> topics_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> cluster_id_ ABSL_GUARDED_BY(mu_);
  int32_t controller_id_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t last_failed_refresh_ms_ ABSL_GUARDED_BY(mu_) = INT64_MIN / 2;
};

}  // namespace strata::client
