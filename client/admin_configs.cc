// Admin: DescribeConfigs, IncrementalAlterConfigs and DeleteRecords.
#include "absl/strings/str_cat.h"
#include "client/admin.h"
#include "client/errors.h"
#include "protocol/delete_records.h"
#include "protocol/describe_configs.h"
#include "protocol/incremental_alter_configs.h"

namespace strata::client {

namespace {

constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> Admin::DescribeConfigs(
    int8_t resource_type, const std::string& name, const std::vector<std::string>& keys,
    int32_t broker_id) {
  // Broker configs are asked of that broker.
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn,
                   broker_id >= 0 ? cluster_->ConnectionTo(broker_id) : cluster_->AnyConnection());
  ASSIGN_OR_RETURN(int16_t version, conn->PickVersion(protocol::ApiKey::kDescribeConfigs, 4));
  protocol::DescribeConfigsRequest req;
  auto& res = req.resources.emplace_back();
  res.resource_type = resource_type;
  res.resource_name = name;
  if (keys.empty()) {
    res.configuration_keys.reset();  // null: every config
  } else {
    res.configuration_keys = keys;
  }
  ASSIGN_OR_RETURN(auto resp,
                   (conn->Call<protocol::DescribeConfigsRequest, protocol::DescribeConfigsResponse>(
                       req, version)));
  for (const auto& r : resp.results) {
    if (r.error_code != 0) {
      return KafkaError(r.error_code, absl::StrCat("DescribeConfigs ", name), r.error_message);
    }
    std::vector<ConfigEntry> out;
    for (const auto& c : r.configs) {
      auto source = static_cast<ConfigSource>(c.config_source);
      // v0 has no config_source; is_default is the v0 field.
      bool is_default = version == 0 ? c.is_default : source == ConfigSource::kDefault;
      out.push_back({c.name, c.value, is_default, c.read_only, c.is_sensitive, source});
    }
    return out;
  }
  return absl::InternalError(absl::StrCat("no result for ", name, " in the response"));
}

absl::StatusOr<std::vector<ConfigEntry>> Admin::DescribeTopicConfigs(
    const std::string& topic, const std::vector<std::string>& names) {
  return DescribeConfigs(kTopicResource, topic, names);
}

absl::StatusOr<std::vector<ConfigEntry>> Admin::DescribeBrokerConfigs(int32_t broker_id) {
  return DescribeConfigs(kBrokerResource, absl::StrCat(broker_id), {}, broker_id);
}

absl::Status Admin::AlterTopicConfigs(const std::string& topic,
                                      const std::vector<AlterConfigOp>& ops, bool validate_only) {
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, cluster_->AnyConnection());
  ASSIGN_OR_RETURN(int16_t version,
                   conn->PickVersion(protocol::ApiKey::kIncrementalAlterConfigs, 1));
  protocol::IncrementalAlterConfigsRequest req;
  req.validate_only = validate_only;
  auto& res = req.resources.emplace_back();
  res.resource_type = kTopicResource;
  res.resource_name = topic;
  for (const AlterConfigOp& op : ops) {
    res.configs.push_back({op.name, static_cast<int8_t>(op.op),
                           op.op == ConfigOp::kDelete ? std::nullopt : op.value});
  }
  ASSIGN_OR_RETURN(auto resp,
                   (conn->Call<protocol::IncrementalAlterConfigsRequest,
                               protocol::IncrementalAlterConfigsResponse>(req, version)));
  for (const auto& r : resp.responses) {
    if (r.error_code != 0) {
      return KafkaError(r.error_code, absl::StrCat("IncrementalAlterConfigs ", topic),
                        r.error_message);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<int32_t, absl::StatusOr<int64_t>>> Admin::DeleteRecords(
    const std::string& topic, const std::map<int32_t, int64_t>& before_offsets) {
  std::map<int32_t, absl::StatusOr<int64_t>> out;
  std::map<int32_t, std::vector<std::pair<int32_t, int64_t>>> by_leader;
  for (const auto& [partition, offset] : before_offsets) {
    absl::StatusOr<int32_t> leader = cluster_->Leader(topic, partition);
    if (!leader.ok()) {
      out.insert_or_assign(partition, leader.status());
    } else {
      by_leader[*leader].emplace_back(partition, offset);
    }
  }
  for (const auto& [leader, parts] : by_leader) {
    ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, cluster_->ConnectionTo(leader));
    ASSIGN_OR_RETURN(int16_t version, conn->PickVersion(protocol::ApiKey::kDeleteRecords, 2));
    protocol::DeleteRecordsRequest req;
    req.timeout_ms =
        static_cast<int32_t>(std::min<int64_t>(options_.request_timeout_ms, INT32_MAX));
    auto& t = req.topics.emplace_back();
    t.name = topic;
    for (const auto& [partition, offset] : parts) t.partitions.push_back({partition, offset});
    ASSIGN_OR_RETURN(auto resp,
                     (conn->Call<protocol::DeleteRecordsRequest, protocol::DeleteRecordsResponse>(
                         req, version)));
    for (const auto& rt : resp.topics) {
      for (const auto& p : rt.partitions) {
        if (p.error_code != 0) {
          out.insert_or_assign(p.partition_index,
                               KafkaError(p.error_code, absl::StrCat("DeleteRecords ", topic, "-",
                                                                     p.partition_index)));
        } else {
          out.insert_or_assign(p.partition_index, p.low_watermark);
        }
      }
    }
  }
  return out;
}

}  // namespace strata::client
