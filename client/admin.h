// Admin: topic, config and consumer-group management over the Kafka admin APIs.
//
//   ASSIGN_OR_RETURN(auto admin, Admin::Create({.bootstrap = {{"127.0.0.1", 9092}}}));
//   RETURN_IF_ERROR(admin->CreateTopic({.name = "orders", .partitions = 6,
//                                       .configs = {{"retention.ms", "86400000"}}}));
//   ASSIGN_OR_RETURN(TopicMetadata t, admin->DescribeTopic("orders"));
//   RETURN_IF_ERROR(admin->AlterTopicConfigs("orders", {{"retention.ms", ConfigOp::kDelete}}));
//   ASSIGN_OR_RETURN(OffsetAndTimestamp end, admin->LatestOffset({"orders", 0}));
//   ASSIGN_OR_RETURN(GroupDescription g, admin->DescribeGroup("billing"));
//
// Topic creation, deletion and partition changes go to the controller; DescribeConfigs and
// IncrementalAlterConfigs to any broker; DeleteRecords and ListOffsets to partition leaders.
// Results that are per topic come back as a map of Status (the call itself fails only when no
// broker answers); the single-topic helpers return that topic's Status. Kafka errors keep their
// names (client/errors.h): creating an existing topic is AlreadyExists "TOPIC_ALREADY_EXISTS".
// Group calls go to the group's coordinator, with retries while it loads or moves; their
// semantics are documented in client/group_admin.h.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cluster.h"
#include "client/group_admin.h"
#include "client/offsets.h"

namespace strata::client {

struct AdminOptions {
  std::vector<HostPort> bootstrap;
  std::string client_id = "strata-admin";
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 30'000;
  // Group calls: the first wait before retrying a coordinator that is loading or moved.
  int64_t retry_backoff_ms = 50;
  // Group calls: called with the error before each retry (for logging); may be empty.
  std::function<void(const absl::Status&)> on_retry;
};

struct NewTopic {
  std::string name;
  int32_t partitions = -1;          // -1: the broker's num.partitions
  int16_t replication_factor = -1;  // -1: the broker's default
  std::map<std::string, std::string> configs;
};

// DescribeConfigs config_source values (Kafka's ConfigSource).
enum class ConfigSource : int8_t {
  kUnknown = 0,
  kTopic = 1,
  kDynamicBroker = 2,
  kDynamicDefaultBroker = 3,
  kStaticBroker = 4,
  kDefault = 5,
};

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  bool is_default = false;
  bool read_only = false;
  bool is_sensitive = false;
  ConfigSource source = ConfigSource::kUnknown;
};

// IncrementalAlterConfigs operations.
enum class ConfigOp : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };

struct AlterConfigOp {
  std::string name;
  ConfigOp op = ConfigOp::kSet;
  std::optional<std::string> value;  // unused by kDelete
};

using TopicResults = std::map<std::string, absl::Status>;

class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(AdminOptions options);

  absl::StatusOr<TopicResults> CreateTopics(const std::vector<NewTopic>& topics,
                                            bool validate_only = false);
  absl::Status CreateTopic(const NewTopic& topic, bool validate_only = false);
  absl::StatusOr<TopicResults> DeleteTopics(const std::vector<std::string>& topics);
  absl::Status DeleteTopic(const std::string& topic);
  // Raises the partition count of `topic` to `total` (partitions cannot be removed).
  absl::Status CreatePartitions(const std::string& topic, int32_t total,
                                bool validate_only = false);

  // Topic names, sorted; internal topics (names starting "__") only when asked.
  absl::StatusOr<std::vector<std::string>> ListTopics(bool include_internal = false);
  // Fresh metadata for one topic (partitions, leaders, replicas).
  absl::StatusOr<TopicMetadata> DescribeTopic(const std::string& topic);

  // A topic's configs (every config when `names` is empty).
  absl::StatusOr<std::vector<ConfigEntry>> DescribeTopicConfigs(
      const std::string& topic, const std::vector<std::string>& names = {});
  absl::StatusOr<std::vector<ConfigEntry>> DescribeBrokerConfigs(int32_t broker_id);
  absl::Status AlterTopicConfigs(const std::string& topic, const std::vector<AlterConfigOp>& ops,
                                 bool validate_only = false);

  // Deletes records below the given offsets (-1: the high watermark) of a topic's partitions;
  // returns each partition's new log start offset, or its error.
  absl::StatusOr<std::map<int32_t, absl::StatusOr<int64_t>>> DeleteRecords(
      const std::string& topic, const std::map<int32_t, int64_t>& before_offsets);

  absl::StatusOr<OffsetAndTimestamp> EarliestOffset(const TopicPartition& tp);
  absl::StatusOr<OffsetAndTimestamp> LatestOffset(const TopicPartition& tp);
  // The first offset with a timestamp >= timestamp_ms; offset -1 when there is none.
  absl::StatusOr<OffsetAndTimestamp> OffsetForTimestamp(const TopicPartition& tp,
                                                        int64_t timestamp_ms);
  absl::StatusOr<OffsetResults> ListOffsets(const std::map<TopicPartition, int64_t>& specs);

  // Consumer groups (client/group_admin.h).
  absl::StatusOr<BrokerMetadata> FindCoordinator(const std::string& group) {
    return groups_->FindCoordinator(group);
  }
  absl::StatusOr<std::vector<GroupListing>> ListGroups() { return groups_->ListGroups(); }
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group) {
    return groups_->DescribeGroup(group);
  }
  absl::StatusOr<GroupOffsets> FetchGroupOffsets(const std::string& group) {
    return groups_->FetchOffsets(group);
  }
  // A "simple" commit: refused per partition while the group has members.
  absl::StatusOr<PartitionResults> CommitGroupOffsets(
      const std::string& group, const std::map<TopicPartition, int64_t>& offsets) {
    return groups_->CommitOffsets(group, offsets);
  }
  absl::Status DeleteGroup(const std::string& group) { return groups_->DeleteGroup(group); }

  Cluster& cluster() { return *cluster_; }

 private:
  explicit Admin(AdminOptions options) : options_(std::move(options)) {}
  // Sends `request` to the controller at min(max_version, what it supports).
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallController(const Request& request, int16_t max_version);
  absl::StatusOr<std::vector<ConfigEntry>> DescribeConfigs(int8_t resource_type,
                                                           const std::string& name,
                                                           const std::vector<std::string>& keys,
                                                           int32_t broker_id = -1);

  const AdminOptions options_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<GroupAdmin> groups_;  // over *cluster_
};

}  // namespace strata::client
