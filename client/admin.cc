#include "client/admin.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "protocol/create_partitions.h"
#include "protocol/create_topics.h"
#include "protocol/delete_topics.h"
#include "protocol/errors.h"

namespace strata::client {

namespace {

int32_t TimeoutMs(int64_t ms) { return static_cast<int32_t>(std::min<int64_t>(ms, INT32_MAX)); }

absl::Status Single(const absl::StatusOr<TopicResults>& results, const std::string& topic) {
  if (!results.ok()) return results.status();
  auto it = results->find(topic);
  if (it == results->end()) {
    return absl::InternalError(absl::StrCat("no result for ", topic, " in the response"));
  }
  return it->second;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(AdminOptions options) {
  std::unique_ptr<Admin> admin(new Admin(std::move(options)));
  ASSIGN_OR_RETURN(admin->cluster_, Cluster::Connect(ClusterOptionsFor(admin->options_)));
  admin->groups_ = std::make_unique<GroupAdmin>(
      admin->cluster_.get(),
      GroupAdminOptions{.request_timeout_ms = admin->options_.request_timeout_ms,
                        .retry_backoff_ms = admin->options_.retry_backoff_ms,
                        .on_retry = admin->options_.on_retry});
  return admin;
}

template <typename Request, typename Response>
absl::StatusOr<Response> Admin::CallController(const Request& request, int16_t max_version) {
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, cluster_->ControllerConnection());
  ASSIGN_OR_RETURN(int16_t version,
                   conn->PickVersion(static_cast<protocol::ApiKey>(Request::kApiKey), max_version));
  return conn->Call<Request, Response>(request, version);
}

absl::StatusOr<TopicResults> Admin::CreateTopics(const std::vector<NewTopic>& topics,
                                                 bool validate_only) {
  protocol::CreateTopicsRequest req;
  req.timeout_ms = TimeoutMs(options_.request_timeout_ms);
  req.validate_only = validate_only;
  for (const NewTopic& t : topics) {
    auto& ct = req.topics.emplace_back();
    ct.name = t.name;
    ct.num_partitions = t.partitions;
    ct.replication_factor = t.replication_factor;
    for (const auto& [name, value] : t.configs) ct.configs.push_back({name, value});
  }
  ASSIGN_OR_RETURN(
      auto resp,
      (CallController<protocol::CreateTopicsRequest, protocol::CreateTopicsResponse>(req, 7)));
  TopicResults out;
  for (const auto& t : resp.topics) {
    cluster_->Invalidate(t.name);
    out[t.name] =
        t.error_code == 0
            ? absl::OkStatus()
            : KafkaError(t.error_code, absl::StrCat("CreateTopics ", t.name), t.error_message);
  }
  return out;
}

absl::Status Admin::CreateTopic(const NewTopic& topic, bool validate_only) {
  return Single(CreateTopics({topic}, validate_only), topic.name);
}

absl::StatusOr<TopicResults> Admin::DeleteTopics(const std::vector<std::string>& topics) {
  protocol::DeleteTopicsRequest req;
  req.timeout_ms = TimeoutMs(options_.request_timeout_ms);
  for (const std::string& t : topics) {
    // v6+ encodes only `topics`, v0-5 only `topic_names`.
    req.topics.push_back({.name = t, .topic_id = {}});
    req.topic_names.push_back(t);
  }
  ASSIGN_OR_RETURN(
      auto resp,
      (CallController<protocol::DeleteTopicsRequest, protocol::DeleteTopicsResponse>(req, 6)));
  TopicResults out;
  for (const auto& t : resp.responses) {
    std::string name = t.name.value_or("");
    cluster_->Invalidate(name);
    out[name] = t.error_code == 0 ? absl::OkStatus()
                                  : KafkaError(t.error_code, absl::StrCat("DeleteTopics ", name),
                                               t.error_message);
  }
  return out;
}

absl::Status Admin::DeleteTopic(const std::string& topic) {
  return Single(DeleteTopics({topic}), topic);
}

absl::Status Admin::CreatePartitions(const std::string& topic, int32_t total, bool validate_only) {
  protocol::CreatePartitionsRequest req;
  req.timeout_ms = TimeoutMs(options_.request_timeout_ms);
  req.validate_only = validate_only;
  req.topics.push_back({.name = topic, .count = total, .assignments = std::nullopt});
  ASSIGN_OR_RETURN(
      auto resp,
      (CallController<protocol::CreatePartitionsRequest, protocol::CreatePartitionsResponse>(req,
                                                                                             3)));
  cluster_->Invalidate(topic);
  for (const auto& r : resp.results) {
    if (r.name != topic) continue;
    if (r.error_code == 0) return absl::OkStatus();
    return KafkaError(r.error_code, absl::StrCat("CreatePartitions ", topic), r.error_message);
  }
  return absl::InternalError(absl::StrCat("no result for ", topic, " in the response"));
}

absl::StatusOr<std::vector<std::string>> Admin::ListTopics(bool include_internal) {
  ASSIGN_OR_RETURN(std::vector<TopicMetadata> all, cluster_->AllTopics());
  std::vector<std::string> names;
  for (const TopicMetadata& t : all) {
    if (t.error_code != 0) continue;
    if (!include_internal && (t.is_internal || absl::StartsWith(t.name, "__"))) continue;
    names.push_back(t.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<TopicMetadata> Admin::DescribeTopic(const std::string& topic) {
  cluster_->Invalidate(topic);
  return cluster_->Topic(topic);
}

absl::StatusOr<OffsetAndTimestamp> Admin::EarliestOffset(const TopicPartition& tp) {
  return ListOffset(*cluster_, tp, kEarliestOffsetSpec);
}

absl::StatusOr<OffsetAndTimestamp> Admin::LatestOffset(const TopicPartition& tp) {
  return ListOffset(*cluster_, tp, kLatestOffsetSpec);
}

absl::StatusOr<OffsetAndTimestamp> Admin::OffsetForTimestamp(const TopicPartition& tp,
                                                             int64_t timestamp_ms) {
  if (timestamp_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative timestamp ", timestamp_ms));
  }
  return ListOffset(*cluster_, tp, timestamp_ms);
}

absl::StatusOr<OffsetResults> Admin::ListOffsets(const std::map<TopicPartition, int64_t>& specs) {
  return client::ListOffsets(*cluster_, specs);
}

}  // namespace strata::client
