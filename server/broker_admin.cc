// Admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "protocol/alter_configs.h"
#include "protocol/create_partitions.h"
#include "protocol/create_topics.h"
#include "protocol/delete_records.h"
#include "protocol/delete_topics.h"
#include "protocol/describe_configs.h"
#include "protocol/errors.h"
#include "protocol/incremental_alter_configs.h"
#include "server/broker.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }
constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;
// DescribeConfigs config_source values.
constexpr int8_t kSourceTopic = 1;
constexpr int8_t kSourceStaticBroker = 4;
constexpr int8_t kSourceDefault = 5;

// Maps a PartitionManager error to the CreateTopics/CreatePartitions code.
ErrorCode TopicErrorCode(const absl::Status& s, bool name_ok) {
  if (absl::IsAlreadyExists(s)) return ErrorCode::kTopicAlreadyExists;
  if (absl::IsNotFound(s)) return ErrorCode::kUnknownTopicOrPartition;
  if (absl::IsOutOfRange(s)) return ErrorCode::kInvalidPartitions;
  if (absl::IsInvalidArgument(s))
    return name_ok ? ErrorCode::kInvalidConfig : ErrorCode::kInvalidTopicException;
  return ErrorCode::kUnknownServerError;
}

// CreateTopics on a single broker: one topic, its answer into `tr`.
struct LocalTopicRequest {
  const protocol::CreateTopicsRequest::CreatableTopic& topic;
  int32_t partitions;
  const std::map<std::string, std::string>& configs;
  bool validate_only;
  int16_t version;
};

void CreateLocalTopic(PartitionManager& manager, int32_t broker_id, const LocalTopicRequest& req,
                      protocol::CreateTopicsResponse::CreatableTopicResult& tr) {
  const auto& t = req.topic;
  if (t.replication_factor != -1 && t.replication_factor != 1) {
    tr.error_code = Code(ErrorCode::kInvalidReplicationFactor);
    tr.error_message = absl::StrCat("replication factor ", t.replication_factor,
                                    " is larger than the 1 available broker");
    return;
  }
  for (const auto& a : t.assignments) {
    if (a.broker_ids != std::vector<int32_t>{broker_id}) {
      tr.error_code = Code(ErrorCode::kInvalidReplicaAssignment);
      tr.error_message = absl::StrCat("replicas must be [", broker_id, "]");
      return;
    }
  }
  bool name_ok = ValidateTopicName(t.name).ok();
  auto created = manager.CreateTopic(t.name, req.partitions, req.configs, req.validate_only);
  if (!created.ok()) {
    tr.error_code = Code(TopicErrorCode(created.status(), name_ok));
    tr.error_message = std::string(created.status().message());
    return;
  }
  tr.topic_id = created->id;
  tr.num_partitions = created->partitions;
  tr.replication_factor = 1;
  if (req.version >= 5) {
    tr.configs.emplace();
    for (const auto& [name, value] : created->configs) {
      tr.configs->push_back({name, value, false, kSourceTopic, false});
    }
  }
}

}  // namespace

void Broker::HandleCreateTopics(RequestContext& ctx, protocol::Reader& r) {
  protocol::CreateTopicsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::CreateTopicsResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    tr.num_partitions = -1;
    tr.replication_factor = -1;
    int32_t partitions = t.num_partitions == -1 ? config_.num_partitions : t.num_partitions;
    if (!t.assignments.empty()) partitions = static_cast<int32_t>(t.assignments.size());
    std::map<std::string, std::string> configs;
    for (const auto& c : t.configs) {
      if (c.value.has_value()) configs[c.name] = *c.value;
    }
    if (replicas_ != nullptr) {
      TopicRequest request{.name = t.name,
                           .partitions = partitions,
                           .replication_factor = t.replication_factor,
                           .configs = configs,
                           .assignments = {},
                           .validate_only = req.validate_only};
      for (const auto& a : t.assignments) request.assignments.push_back(a.broker_ids);
      TopicChange c = CreateClusterTopic(request);
      tr.error_code = Code(c.error);
      if (c.error != ErrorCode::kNone) {
        tr.error_message = c.message;
        continue;
      }
      tr.topic_id = c.info.id;
      tr.num_partitions = c.info.partitions;
      tr.replication_factor = c.replication_factor;
      continue;
    }
    CreateLocalTopic(*partitions_, config_.broker_id,
                     {t, partitions, configs, req.validate_only, ctx.version()}, tr);
  }
  Reply(ctx, resp);
}

void Broker::HandleDeleteTopics(RequestContext& ctx, protocol::Reader& r) {
  protocol::DeleteTopicsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  std::vector<std::string> names = req.topic_names;
  for (const auto& t : req.topics) {
    if (t.name.has_value()) {
      names.push_back(*t.name);
      continue;
    }
    for (const TopicInfo& info : partitions_->Topics()) {
      if (info.id == t.topic_id) names.push_back(info.name);
    }
  }
  protocol::DeleteTopicsResponse resp;
  for (const std::string& name : names) {
    auto& tr = resp.responses.emplace_back();
    tr.name = name;
    if (auto info = partitions_->Topic(name)) tr.topic_id = info->id;
    absl::Status s = IsInternalTopic(name)
                         ? absl::InvalidArgumentError(
                               absl::StrCat(name, " is an internal topic (consumer group state)"))
                         : DeleteTopicAnywhere(name);
    if (!s.ok()) {
      tr.error_code = Code(absl::IsNotFound(s)          ? ErrorCode::kUnknownTopicOrPartition
                           : absl::IsInvalidArgument(s) ? ErrorCode::kInvalidTopicException
                                                        : ErrorCode::kUnknownServerError);
      tr.error_message = std::string(s.message());
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleCreatePartitions(RequestContext& ctx, protocol::Reader& r) {
  protocol::CreatePartitionsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::CreatePartitionsResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.results.emplace_back();
    tr.name = t.name;
    if (IsInternalTopic(t.name)) {
      // More partitions would move groups to other partitions and lose their state.
      tr.error_code = Code(ErrorCode::kInvalidTopicException);
      tr.error_message = t.name + " is an internal topic; its partition count is fixed";
      continue;
    }
    absl::Status s = CreatePartitionsAnywhere(t.name, t.count, req.validate_only);
    if (!s.ok()) {
      tr.error_code = Code(absl::IsNotFound(s) ? ErrorCode::kUnknownTopicOrPartition
                                               : ErrorCode::kInvalidPartitions);
      tr.error_message = std::string(s.message());
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleDeleteRecords(RequestContext& ctx, protocol::Reader& r) {
  protocol::DeleteRecordsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::DeleteRecordsResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.low_watermark = -1;
      auto partition = partitions_->Get(t.name, p.partition_index);
      if (partition == nullptr) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      if (!partition->is_leader()) {
        pr.error_code = Code(ErrorCode::kNotLeaderOrFollower);
        continue;
      }
      Log& log = partition->log();
      Offset target = p.offset == -1 ? log.high_watermark() : Offset(p.offset);
      auto start = p.offset < -1 ? absl::StatusOr<Offset>(absl::OutOfRangeError("negative"))
                                 : log.DeleteRecordsBefore(target);
      if (!start.ok()) {
        pr.error_code = Code(absl::IsOutOfRange(start.status()) ? ErrorCode::kOffsetOutOfRange
                                                                : ErrorCode::kKafkaStorageError);
        continue;
      }
      pr.low_watermark = start->value();
      absl::Status cp = partitions_->logs().WriteCheckpoints();  // the new start must survive
      if (!cp.ok()) pr.error_code = Code(ErrorCode::kKafkaStorageError);
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleDescribeConfigs(RequestContext& ctx, protocol::Reader& r) {
  protocol::DescribeConfigsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::DescribeConfigsResponse resp;
  for (const auto& res : req.resources) {
    auto& rr = resp.results.emplace_back();
    rr.resource_type = res.resource_type;
    rr.resource_name = res.resource_name;
    auto wanted = [&](const std::string& name) {
      return !res.configuration_keys.has_value() ||
             std::find(res.configuration_keys->begin(), res.configuration_keys->end(), name) !=
                 res.configuration_keys->end();
    };
    if (res.resource_type == kBrokerResource) {
      std::vector<std::pair<std::string, std::string>> broker = {
          {"broker.id", absl::StrCat(config_.broker_id)},
          {"log.dirs", config_.data_dir},
          {"num.partitions", absl::StrCat(config_.num_partitions)},
          {"auto.create.topics.enable", config_.auto_create_topics ? "true" : "false"},
          {"socket.request.max.bytes", absl::StrCat(config_.socket_request_max_bytes)},
          {"default.replication.factor", "1"}};
      for (const auto& [name, value] : broker) {
        if (!wanted(name)) continue;
        auto& c = rr.configs.emplace_back();
        c.name = name;
        c.value = value;
        c.read_only = true;
        c.config_source = kSourceStaticBroker;
      }
      continue;
    }
    std::optional<TopicInfo> topic =
        res.resource_type == kTopicResource ? partitions_->Topic(res.resource_name) : std::nullopt;
    if (!topic.has_value()) {
      rr.error_code = Code(res.resource_type == kTopicResource ? ErrorCode::kUnknownTopicOrPartition
                                                               : ErrorCode::kInvalidRequest);
      rr.error_message = absl::StrCat("unknown resource ", res.resource_name);
      continue;
    }
    auto effective = partitions_->EffectiveConfig(topic->name);
    for (const std::string& name : LogConfig::Names()) {
      if (!wanted(name) || name == "producer.id.expiration.ms") continue;
      auto& c = rr.configs.emplace_back();
      c.name = name;
      c.value = effective.ok() ? effective->Get(name).value_or("") : "";
      bool overridden = topic->configs.count(name) > 0;
      c.config_source = overridden                       ? kSourceTopic
                        : config_.IsBrokerOverride(name) ? kSourceStaticBroker
                                                         : kSourceDefault;
      c.is_default = !overridden && !config_.IsBrokerOverride(name);
    }
  }
  Reply(ctx, resp);
}

namespace {

// Applies AlterConfigs / IncrementalAlterConfigs operations to a copy of the overrides.
// op: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (list-valued configs, comma-separated).
absl::Status ApplyOp(std::map<std::string, std::string>& configs, const std::string& name,
                     int8_t op, const std::optional<std::string>& value) {
  switch (op) {
    case 0:
      if (!value.has_value()) return absl::InvalidArgumentError(absl::StrCat(name, ": null value"));
      configs[name] = *value;
      return absl::OkStatus();
    case 1:
      configs.erase(name);
      return absl::OkStatus();
    case 2:
    case 3: {
      if (name != "cleanup.policy") {
        return absl::InvalidArgumentError(absl::StrCat(name, " is not a list config"));
      }
      std::vector<std::string> items = absl::StrSplit(configs[name], ',', absl::SkipEmpty());
      std::vector<std::string> changes = absl::StrSplit(value.value_or(""), ',', absl::SkipEmpty());
      for (const std::string& v : changes) {
        auto it = std::find(items.begin(), items.end(), v);
        if (op == 2 && it == items.end()) items.push_back(v);
        if (op == 3 && it != items.end()) items.erase(it);
      }
      if (items.empty())
        configs.erase(name);
      else
        configs[name] = absl::StrJoin(items, ",");
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown config operation ", op));
  }
}

}  // namespace

template <typename Request, typename Response>
void AlterTopicConfigs(Broker& b, PartitionManager& pm, const RequestContext& ctx,
                       const Request& req, bool incremental) {
  Response resp;
  for (const auto& res : req.resources) {
    auto& rr = resp.responses.emplace_back();
    rr.resource_type = res.resource_type;
    rr.resource_name = res.resource_name;
    std::optional<TopicInfo> topic =
        res.resource_type == kTopicResource ? pm.Topic(res.resource_name) : std::nullopt;
    if (!topic.has_value()) {
      rr.error_code = Code(res.resource_type == kTopicResource ? ErrorCode::kUnknownTopicOrPartition
                                                               : ErrorCode::kInvalidRequest);
      rr.error_message = "only existing topics can be altered";
      continue;
    }
    std::map<std::string, std::string> configs =
        incremental ? topic->configs : std::map<std::string, std::string>();
    absl::Status s;
    for (const auto& c : res.configs) {
      int8_t op = 0;
      if constexpr (requires { c.config_operation; }) op = c.config_operation;
      if (!s.ok()) break;
      s = ApplyOp(configs, c.name, op, c.value);
    }
    if (s.ok()) s = b.SetTopicConfigsAnywhere(topic->name, configs, req.validate_only);
    if (!s.ok()) {
      rr.error_code = Code(ErrorCode::kInvalidConfig);
      rr.error_message = std::string(s.message());
    }
  }
  b.Reply(ctx, resp);
}

void Broker::HandleAlterConfigs(RequestContext& ctx, protocol::Reader& r) {
  protocol::AlterConfigsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  AlterTopicConfigs<protocol::AlterConfigsRequest, protocol::AlterConfigsResponse>(
      *this, *partitions_, ctx, req, /*incremental=*/false);
}

void Broker::HandleIncrementalAlterConfigs(RequestContext& ctx, protocol::Reader& r) {
  protocol::IncrementalAlterConfigsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  AlterTopicConfigs<protocol::IncrementalAlterConfigsRequest,
                    protocol::IncrementalAlterConfigsResponse>(*this, *partitions_, ctx, req,
                                                               /*incremental=*/true);
}

}  // namespace strata::server
