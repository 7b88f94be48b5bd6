#include "server/broker_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/status.h"

namespace strata::server {
namespace {

// Broker property -> (topic config, multiplier to milliseconds or 1).
struct LogDefault {
  const char* topic_name;
  int64_t multiplier;
};
const std::map<std::string, LogDefault, std::less<>>& LogDefaults() {
  static const auto* m = new std::map<std::string, LogDefault, std::less<>>{
      {"log.segment.bytes", {"segment.bytes", 1}},
      {"log.roll.ms", {"segment.ms", 1}},
      {"log.roll.hours", {"segment.ms", 3600000}},
      {"log.retention.ms", {"retention.ms", 1}},
      {"log.retention.minutes", {"retention.ms", 60000}},
      {"log.retention.hours", {"retention.ms", 3600000}},
      {"log.retention.bytes", {"retention.bytes", 1}},
      {"log.index.interval.bytes", {"index.interval.bytes", 1}},
      {"log.index.size.max.bytes", {"segment.index.bytes", 1}},
      {"log.flush.interval.messages", {"flush.messages", 1}},
      {"log.flush.interval.ms", {"flush.ms", 1}},
      {"log.cleanup.policy", {"cleanup.policy", 0}},
      {"log.message.timestamp.type", {"message.timestamp.type", 0}},
      {"message.max.bytes", {"max.message.bytes", 1}},
      {"min.insync.replicas", {"min.insync.replicas", 1}},
      {"compression.type", {"compression.type", 0}},
      {"log.cleaner.delete.retention.ms", {"delete.retention.ms", 1}},
      {"log.cleaner.min.compaction.lag.ms", {"min.compaction.lag.ms", 1}},
      {"log.cleaner.max.compaction.lag.ms", {"max.compaction.lag.ms", 1}},
      {"log.cleaner.min.cleanable.ratio", {"min.cleanable.dirty.ratio", 0}},
      {"unclean.leader.election.enable", {"unclean.leader.election.enable", 0}},
      {"producer.id.expiration.ms", {"producer.id.expiration.ms", 1}},
      {"log.message.timestamp.difference.max.ms", {"message.timestamp.difference.max.ms", 1}},
  };
  return *m;
}

absl::Status Bad(absl::string_view name, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", name, "=", value, ": ", why));
}

template <typename T>
absl::Status Int(absl::string_view name, absl::string_view v, T min, T max, T* out) {
  int64_t x;
  if (!absl::SimpleAtoi(v, &x) || x < static_cast<int64_t>(min) || x > static_cast<int64_t>(max)) {
    return Bad(name, v, absl::StrCat("expected an integer in [", min, ", ", max, "]"));
  }
  *out = static_cast<T>(x);
  return absl::OkStatus();
}

absl::Status Bool(absl::string_view name, absl::string_view v, bool* out) {
  if (v == "true")
    *out = true;
  else if (v == "false")
    *out = false;
  else
    return Bad(name, v, "expected true or false");
  return absl::OkStatus();
}

}  // namespace

std::string HostPort::ToString() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (size_t comma = text.find(','); comma != absl::string_view::npos) text = text.substr(0, comma);
  if (size_t scheme = text.find("://"); scheme != absl::string_view::npos) {
    text = text.substr(scheme + 3);
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("expected HOST:PORT, got '", text, "'"));
  }
  HostPort hp;
  hp.host = std::string(text.substr(0, colon));
  if (absl::StartsWith(hp.host, "[") && absl::EndsWith(hp.host, "]")) {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (!absl::SimpleAtoi(text.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  return hp;
}

BrokerConfig::BrokerConfig() = default;

absl::StatusOr<BrokerConfig> BrokerConfig::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(FileSystem::Default(), path));
  BrokerConfig config;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    size_t eq = line.find_first_of("=:");
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": expected key=value"));
    }
    absl::Status s = config.Set(absl::StripAsciiWhitespace(line.substr(0, eq)),
                                absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", s.message()));
  }
  return config;
}

absl::Status BrokerConfig::Set(absl::string_view name, absl::string_view value) {
  if (auto it = LogDefaults().find(name); it != LogDefaults().end()) {
    std::string v(value);
    if (it->second.multiplier > 1) {
      int64_t n;
      if (!absl::SimpleAtoi(value, &n)) return Bad(name, value, "expected an integer");
      v = absl::StrCat(n < 0 ? n : n * it->second.multiplier);
    }
    LogConfig probe;
    RETURN_IF_ERROR(probe.Set(it->second.topic_name, v));
    log_defaults_[it->second.topic_name] = v;
    return absl::OkStatus();
  }
  if (name == "broker.id" || name == "node.id") return Int(name, value, 0, INT32_MAX, &broker_id);
  if (name == "strata.metadata") {
    if (value != "embedded" && !absl::StartsWith(value, "etcd://")) {
      return Bad(name, value, "expected embedded or etcd://HOST:PORT");
    }
    metadata = std::string(value);
    return absl::OkStatus();
  }
  if (name == "strata.metadata.root") {
    if (!absl::StartsWith(value, "/") || !absl::EndsWith(value, "/")) {
      return Bad(name, value, "expected a key prefix that starts and ends with /");
    }
    metadata_root = std::string(value);
    return absl::OkStatus();
  }
  if (name == "broker.rack") {
    rack = value.empty() ? std::nullopt : std::optional<std::string>(value);
    return absl::OkStatus();
  }
  if (name == "broker.session.timeout.ms") {
    return Int<int64_t>(name, value, 1000, INT32_MAX, &broker_session_timeout_ms);
  }
  if (name == "auto.leader.rebalance.enable") {
    return Bool(name, value, &auto_leader_rebalance);
  }
  if (name == "controlled.shutdown.enable") {
    return Bool(name, value, &controlled_shutdown);
  }
  if (name == "replica.lag.time.max.ms") {
    return Int<int64_t>(name, value, 100, INT32_MAX, &replica_lag_time_max_ms);
  }
  if (name == "replica.fetch.wait.max.ms") {
    return Int<int32_t>(name, value, 0, INT32_MAX, &replica_fetch_wait_max_ms);
  }
  if (name == "replica.fetch.min.bytes") {
    return Int<int32_t>(name, value, 1, INT32_MAX, &replica_fetch_min_bytes);
  }
  if (name == "replica.fetch.max.bytes") {
    return Int<int32_t>(name, value, 1024, INT32_MAX, &replica_fetch_max_bytes);
  }
  if (name == "replica.fetch.response.max.bytes") {
    return Int<int32_t>(name, value, 1024, INT32_MAX, &replica_fetch_response_max_bytes);
  }
  if (name == "replica.fetch.backoff.ms") {
    return Int<int64_t>(name, value, 0, INT32_MAX, &replica_fetch_backoff_ms);
  }
  if (name == "leader.imbalance.check.interval.seconds") {
    int64_t seconds;
    RETURN_IF_ERROR(Int<int64_t>(name, value, 1, INT32_MAX, &seconds));
    leader_imbalance_check_interval_ms = seconds * 1000;
    return absl::OkStatus();
  }
  if (name == "listeners") {
    ASSIGN_OR_RETURN(listen, ParseHostPort(value));
    return absl::OkStatus();
  }
  if (name == "advertised.listeners") {
    ASSIGN_OR_RETURN(advertised, ParseHostPort(value));
    return absl::OkStatus();
  }
  if (name == "log.dirs" || name == "log.dir") {
    data_dir = std::string(value.substr(0, value.find(',')));
    return absl::OkStatus();
  }
  if (name == "num.partitions") return Int(name, value, 1, 100000, &num_partitions);
  if (name == "auto.create.topics.enable") return Bool(name, value, &auto_create_topics);
  if (name == "default.replication.factor") {
    return Int<int16_t>(name, value, 1, 1000, &default_replication_factor);
  }
  if (name == "socket.request.max.bytes") {
    return Int<int64_t>(name, value, 1024, INT32_MAX, &socket_request_max_bytes);
  }
  if (name == "connections.max.idle.ms") {
    return Int<int64_t>(name, value, 1, INT64_MAX, &connections_max_idle_ms);
  }
  if (name == "num.network.threads") return Int(name, value, 0, 256, &network_threads);
  if (name == "strata.connection.max.inflight.requests") {
    return Int(name, value, 1, 100000, &max_inflight_per_connection);
  }
  if (name == "strata.connection.max.buffered.bytes") {
    return Int<int64_t>(name, value, 1 << 20, INT64_MAX, &max_buffered_per_connection);
  }
  if (name == "strata.fetch.send.mode") {
    if (value != "sendfile" && value != "copy") return Bad(name, value, "sendfile or copy");
    fetch_copy_mode = value == "copy";
    return absl::OkStatus();
  }
  if (name == "strata.fetch.sendfile.chunk.bytes") {
    return Int<int64_t>(name, value, 4096, 64 << 20, &sendfile_chunk_bytes);
  }
  if (name == "log.retention.check.interval.ms") {
    return Int<int64_t>(name, value, 1, INT64_MAX, &retention_check_interval_ms);
  }
  if (name == "log.flush.scheduler.interval.ms") {
    return Int<int64_t>(name, value, 1, INT64_MAX, &flush_scheduler_interval_ms);
  }
  if (name == "log.flush.offset.checkpoint.interval.ms") {
    return Int<int64_t>(name, value, 1, INT64_MAX, &checkpoint_interval_ms);
  }
  if (name == "strata.shutdown.grace.ms") {
    return Int<int64_t>(name, value, 0, INT64_MAX, &shutdown_grace_ms);
  }
  bool known = false;
  RETURN_IF_ERROR(SetGroupProperty(name, value, &known));
  if (!known) RETURN_IF_ERROR(SetCleanerProperty(name, value, &known));
  if (!known) unknown_.push_back(std::string(name));
  return absl::OkStatus();
}

absl::Status BrokerConfig::SetGroupProperty(absl::string_view name, absl::string_view value,
                                            bool* known) {
  *known = true;
  GroupConfig& g = group;
  if (name == "group.min.session.timeout.ms") {
    return Int(name, value, 1, INT32_MAX, &g.min_session_timeout_ms);
  }
  if (name == "group.max.session.timeout.ms") {
    return Int(name, value, 1, INT32_MAX, &g.max_session_timeout_ms);
  }
  if (name == "group.initial.rebalance.delay.ms") {
    return Int(name, value, 0, INT32_MAX, &g.initial_rebalance_delay_ms);
  }
  if (name == "group.max.size") return Int(name, value, 1, INT32_MAX, &g.max_size);
  if (name == "offsets.retention.minutes") {
    int64_t minutes = 0;
    RETURN_IF_ERROR(Int<int64_t>(name, value, 1, INT32_MAX, &minutes));
    g.offsets_retention_ms = minutes * 60000;
    return absl::OkStatus();
  }
  if (name == "offsets.retention.check.interval.ms") {
    return Int<int64_t>(name, value, 1, INT64_MAX, &g.offsets_retention_check_interval_ms);
  }
  if (name == "offset.metadata.max.bytes") {
    return Int(name, value, 0, INT32_MAX, &g.offset_metadata_max_bytes);
  }
  if (name == "offsets.commit.timeout.ms") {
    return Int<int64_t>(name, value, 1, INT32_MAX, &g.offset_commit_timeout_ms);
  }
  if (name == "offsets.topic.replication.factor") {
    return Int<int16_t>(name, value, 1, 1000, &g.replication_factor);
  }
  if (name == "offsets.topic.num.partitions") {
    return Int(name, value, 1, 100000, &g.num_partitions);
  }
  if (name == "offsets.topic.segment.bytes") {
    // Kafka allows any positive size; segment.bytes' own minimum is 14.
    return Int<int64_t>(name, value, 14, INT32_MAX, &g.segment_bytes);
  }
  *known = false;
  return absl::OkStatus();
}

absl::Status BrokerConfig::SetCleanerProperty(absl::string_view name, absl::string_view value,
                                              bool* known) {
  *known = true;
  if (name == "log.cleaner.enable") return Bool(name, value, &cleaner_enable);
  if (name == "log.cleaner.threads") return Int(name, value, 1, 64, &cleaner_threads);
  if (name == "log.cleaner.dedupe.buffer.size") {
    return Int<int64_t>(name, value, 1 << 20, INT64_MAX, &cleaner_dedupe_buffer_bytes);
  }
  if (name == "log.cleaner.io.max.bytes.per.second") {
    double d;
    if (!absl::SimpleAtod(value, &d) || !(d > 0)) return Bad(name, value, "expected a number > 0");
    // Kafka's default is Double.MAX_VALUE: no throttle.
    cleaner_io_max_bytes_per_second = d >= 1e300 ? 0 : d;
    return absl::OkStatus();
  }
  if (name == "log.cleaner.backoff.ms") {
    return Int<int64_t>(name, value, 0, INT64_MAX, &cleaner_backoff_ms);
  }
  *known = false;
  return absl::OkStatus();
}

absl::StatusOr<LogConfig> BrokerConfig::TopicConfig(
    const std::map<std::string, std::string>& overrides) const {
  LogConfig config;
  for (const auto& [name, value] : log_defaults_) RETURN_IF_ERROR(config.Set(name, value));
  for (const auto& [name, value] : overrides) RETURN_IF_ERROR(config.Set(name, value));
  return config;
}

}  // namespace strata::server
