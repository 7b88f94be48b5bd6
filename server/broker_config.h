// The broker's configuration: Kafka's server.properties names, command-line overrides, and the
// topic-config defaults they imply.
//
//   ASSIGN_OR_RETURN(BrokerConfig config, BrokerConfig::Load("server.properties"));
//   RETURN_IF_ERROR(config.Set("log.dirs", "/var/lib/strata"));   // --data-dir
//   LogConfig topic = config.TopicConfig({{"retention.ms", "3600000"}});
//
// Broker-level log settings use Kafka's broker names (log.segment.bytes, log.retention.hours,
// log.flush.interval.messages, message.max.bytes, ...) and become the defaults of the matching
// topic configs (segment.bytes, retention.ms, flush.messages, max.message.bytes, ...). Unknown
// names are kept and reported (Kafka also ignores them with a warning).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log/log_config.h"

namespace strata::server {

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const;
};
// "host:port", "PLAINTEXT://host:port" (first entry of a comma list), "[::1]:9092".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// The group coordinator's settings (Kafka's group.* and offsets.* broker properties).
struct GroupConfig {
  int32_t min_session_timeout_ms = 6000;                  // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;               // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;              // group.initial.rebalance.delay.ms
  int32_t max_size = INT32_MAX;                           // group.max.size
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;  // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;   // offsets.retention.check.interval.ms
  int32_t offset_metadata_max_bytes = 4096;               // offset.metadata.max.bytes
  int32_t num_partitions = 50;                            // offsets.topic.num.partitions
  int16_t replication_factor = 3;           // offsets.topic.replication.factor (cluster mode only)
  int64_t offset_commit_timeout_ms = 5000;  // offsets.commit.timeout.ms (cluster: replication)
  int64_t segment_bytes = 100 << 20;        // offsets.topic.segment.bytes
};

class BrokerConfig {
 public:
  // Defaults only.
  BrokerConfig();
  // Reads a .properties file (key=value, '#' and '!' comments, blank lines).
  static absl::StatusOr<BrokerConfig> Load(const std::string& path);

  // Applies one property; InvalidArgument when the value is bad.
  absl::Status Set(absl::string_view name, absl::string_view value);

  int32_t broker_id = 0;                            // broker.id
  HostPort listen{"127.0.0.1", 9092};               // listeners
  HostPort advertised{"", 0};                       // advertised.listeners (default: listen)
  std::string data_dir = "./data";                  // log.dirs / log.dir
  int32_t num_partitions = 1;                       // num.partitions
  bool auto_create_topics = true;                   // auto.create.topics.enable
  int16_t default_replication_factor = 1;           // default.replication.factor
  int64_t socket_request_max_bytes = 104857600;     // socket.request.max.bytes
  int64_t connections_max_idle_ms = 600000;         // connections.max.idle.ms
  int32_t network_threads = 0;                      // num.network.threads (0 = one per core)
  int32_t max_inflight_per_connection = 128;        // strata.connection.max.inflight.requests
  int64_t max_buffered_per_connection = 256 << 20;  // strata.connection.max.buffered.bytes
  bool fetch_copy_mode = false;                     // strata.fetch.send.mode=copy|sendfile
  // 1 MiB: fewer EAGAIN/poll round trips on a non-blocking socket (perf/broker_bench.cc).
  int64_t sendfile_chunk_bytes = 1024 * 1024;    // strata.fetch.sendfile.chunk.bytes
  int64_t retention_check_interval_ms = 300000;  // log.retention.check.interval.ms
  int64_t flush_scheduler_interval_ms = 1000;    // log.flush.scheduler.interval.ms
  int64_t checkpoint_interval_ms = 60000;        // log.flush.offset.checkpoint.interval.ms
  int64_t shutdown_grace_ms = 30000;             // strata.shutdown.grace.ms
  // Log compaction (log/cleaner_manager.h). The topic-config defaults
  // log.cleaner.{min.cleanable.ratio, delete.retention.ms, min.compaction.lag.ms,
  // max.compaction.lag.ms} go to TopicConfig like the other log.* defaults.
  bool cleaner_enable = true;                       // log.cleaner.enable
  int32_t cleaner_threads = 1;                      // log.cleaner.threads
  int64_t cleaner_dedupe_buffer_bytes = 134217728;  // log.cleaner.dedupe.buffer.size
  double cleaner_io_max_bytes_per_second = 0;       // log.cleaner.io.max.bytes.per.second
  int64_t cleaner_backoff_ms = 15000;               // log.cleaner.backoff.ms
  GroupConfig group;                                // group.*, offsets.*
  // Cluster membership (replication/cluster_membership.h). "embedded": a single broker with its
  // metadata in the data dir (the default); "etcd://HOST:PORT": a cluster coordinated by etcd.
  std::string metadata = "embedded";                    // strata.metadata (serve --metadata)
  std::string metadata_root = "/strata/";               // strata.metadata.root (key prefix in etcd)
  std::optional<std::string> rack;                      // broker.rack
  int64_t broker_session_timeout_ms = 9000;             // broker.session.timeout.ms
  bool auto_leader_rebalance = true;                    // auto.leader.rebalance.enable
  int64_t leader_imbalance_check_interval_ms = 300000;  // leader.imbalance.check.interval.seconds
  bool controlled_shutdown = true;                      // controlled.shutdown.enable
  // Replication (server/replica_manager.h, replication/replica_fetcher.h).
  int64_t replica_lag_time_max_ms = 30000;              // replica.lag.time.max.ms
  int32_t replica_fetch_wait_max_ms = 500;              // replica.fetch.wait.max.ms
  int32_t replica_fetch_min_bytes = 1;                  // replica.fetch.min.bytes
  int32_t replica_fetch_max_bytes = 1048576;            // replica.fetch.max.bytes
  int32_t replica_fetch_response_max_bytes = 10485760;  // replica.fetch.response.max.bytes
  int64_t replica_fetch_backoff_ms = 1000;              // replica.fetch.backoff.ms

  const HostPort& advertised_or_listen() const {
    return advertised.port != 0 ? advertised : listen;
  }

  // Topic defaults from the broker's log.* settings, with `overrides` (topic configs) on top.
  absl::StatusOr<LogConfig> TopicConfig(const std::map<std::string, std::string>& overrides) const;
  // Where a topic config's default comes from: the broker file ("STATIC_BROKER_CONFIG") or
  // Strata's built-in default ("DEFAULT_CONFIG").
  bool IsBrokerOverride(const std::string& topic_config_name) const {
    return log_defaults_.count(topic_config_name) > 0;
  }
  const std::vector<std::string>& unknown_properties() const { return unknown_; }

 private:
  absl::Status SetGroupProperty(absl::string_view name, absl::string_view value, bool* known);
  absl::Status SetCleanerProperty(absl::string_view name, absl::string_view value, bool* known);

  std::map<std::string, std::string> log_defaults_;  // topic config name -> value
  std::vector<std::string> unknown_;
};

}  // namespace strata::server
