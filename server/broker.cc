#include "server/broker.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "protocol/api.h"
#include "protocol/api_versions.h"
#include "protocol/describe_cluster.h"
#include "protocol/errors.h"
#include "protocol/find_coordinator.h"
#include "protocol/metadata.h"

namespace strata::server {

using protocol::ApiKey;
using protocol::ErrorCode;

namespace {

constexpr ApiRange kSupported[] = {
    // Produce starts at 0 so librdkafka keeps compression on; v0-2 are answered with
    // UNSUPPORTED_FOR_MESSAGE_FORMAT (they carry magic 0/1 message sets).
    {0, 0, 9},   // Produce
    {1, 4, 12},  // Fetch
    {2, 1, 7},   // ListOffsets
    {3, 0, 12},  // Metadata
    {8, 0, 8},   // OffsetCommit
    {9, 0, 8},   // OffsetFetch
    {10, 0, 4},  // FindCoordinator
    {11, 0, 9},  // JoinGroup
    {12, 0, 4},  // Heartbeat
    {13, 0, 5},  // LeaveGroup
    {14, 0, 5},  // SyncGroup
    {15, 0, 5},  // DescribeGroups
    {16, 0, 5},  // ListGroups
    {18, 0, 3},  // ApiVersions
    {19, 0, 7},  // CreateTopics
    {20, 0, 6},  // DeleteTopics
    {21, 0, 2},  // DeleteRecords
    {22, 0, 4},  // InitProducerId
    {23, 0, 4},  // OffsetForLeaderEpoch
    {32, 0, 4},  // DescribeConfigs
    {33, 0, 2},  // AlterConfigs
    {37, 0, 3},  // CreatePartitions
    {42, 0, 2},  // DeleteGroups
    {44, 0, 1},  // IncrementalAlterConfigs
    {47, 0, 0},  // OffsetDelete
    {60, 0, 1},  // DescribeCluster
};

const ApiRange* FindRange(int16_t key) {
  for (const ApiRange& r : kSupported) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

}  // namespace

std::span<const ApiRange> SupportedApis() { return kSupported; }

Response EncodeResponse(std::string frame, const std::vector<protocol::Splice>& splices,
                        const std::vector<FileSlice>& slices) {
  Response r;
  r.bytes = std::move(frame);
  for (const protocol::Splice& s : splices) {
    r.splices.push_back({s.offset, slices[static_cast<size_t>(s.splice_id)]});
  }
  return r;
}

absl::StatusOr<std::unique_ptr<Broker>> Broker::Start(FileSystem* fs, BrokerConfig config,
                                                      Clock* clock,
                                                      const std::function<bool()>& cancelled) {
  std::unique_ptr<Broker> b(new Broker(fs, std::move(config), clock));
  RETURN_IF_ERROR(fs->CreateDirs(b->config_.data_dir));
  RETURN_IF_ERROR(b->OpenClusterStore());
  RETURN_IF_ERROR(b->UntilStoreAnswers(
      "reading the cluster id", [&] { return b->LoadMetaProperties(); }, cancelled));
  ASSIGN_OR_RETURN(b->partitions_, PartitionManager::Open(fs, b->config_, clock));
  ASSIGN_OR_RETURN(b->producer_ids_, ProducerIds::Open(fs, b->config_.data_dir));
  b->ShareProducerIds();
  b->flusher_ = std::make_unique<FlushService>();
  ASSIGN_OR_RETURN(b->offsets_topic_, OffsetsTopic::Open(b->partitions_.get(), b->flusher_.get(),
                                                         clock, b->config_.group));
  b->scheduler_ = std::make_unique<ThreadScheduler>(clock);
  b->coordinator_ = std::make_unique<GroupCoordinator>(b->config_.group, clock, b->scheduler_.get(),
                                                       b->offsets_topic_.get());
  if (b->metadata_store_ == nullptr) {
    b->offsets_topic_->StartLoading(b->coordinator_.get());
  } else {
    // Cluster mode: a group partition loads when this broker becomes its leader.
    b->coordinator_->set_ownership([pm = b->partitions_.get()](int32_t p) {
      auto part = pm->Get(kOffsetsTopicName, p);
      return part != nullptr && part->is_leader();
    });
  }
  ConnectionLimits limits{
      .max_request_bytes = static_cast<uint64_t>(b->config_.socket_request_max_bytes),
      .max_inflight_requests = static_cast<size_t>(b->config_.max_inflight_per_connection),
      .max_buffered_bytes = static_cast<uint64_t>(b->config_.max_buffered_per_connection),
      .idle_timeout_ms = b->config_.connections_max_idle_ms,
      .sendfile_chunk_bytes = static_cast<size_t>(b->config_.sendfile_chunk_bytes),
      .copy_instead_of_sendfile = b->config_.fetch_copy_mode};
  b->network_ =
      std::make_unique<NetworkServer>(NetworkOptions{.host = b->config_.listen.host,
                                                     .port = b->config_.listen.port,
                                                     .reactors = b->config_.network_threads,
                                                     .limits = limits},
                                      b.get());
  // Bound first (the port is registered in a cluster), serving only once the broker has joined
  // it: until then it knows no roles, and clients that connect wait in the backlog.
  RETURN_IF_ERROR(b->network_->Bind());
  b->partitions_->StartBackground();
  HostPort advertised = b->config_.advertised_or_listen();
  if (advertised.port == 0) advertised.port = b->network_->port();
  b->config_.advertised = advertised;
  RETURN_IF_ERROR(b->UntilStoreAnswers(
      "joining the cluster", [&] { return b->JoinCluster(); }, cancelled));
  RETURN_IF_ERROR(b->network_->Start());
  LOG_EVENT(Info, "broker.started")
      .Kv("broker_id", b->config_.broker_id)
      .Kv("listen", HostPort{b->config_.listen.host, b->network_->port()}.ToString())
      .Kv("advertised", advertised.ToString())
      .Kv("data_dir", b->config_.data_dir)
      .Kv("cluster_id", b->cluster_id_)
      .Kv("reactors", b->network_->reactor_count())
      .Kv("topics", b->partitions_->Topics().size());
  for (const auto& name : b->config_.unknown_properties()) {
    LOG_EVENT(Warn, "broker.unknown_property").Kv("name", name);
  }
  return b;
}

Broker::~Broker() {
  absl::Status s = Shutdown();
  if (!s.ok()) LOG_EVENT(Error, "broker.shutdown_failed").Kv("error", s.ToString());
}

absl::Status Broker::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  LOG_EVENT(Info, "broker.stopping").Kv("grace_ms", config_.shutdown_grace_ms);
  shutting_down_.store(true);
  // Leave the cluster first: leadership and the controller role move to other brokers at once.
  LeaveCluster();
  ExpireDelayedFetches();
  if (coordinator_) coordinator_->Unload();
  if (network_) network_->Shutdown(config_.shutdown_grace_ms);
  if (offsets_topic_) offsets_topic_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (flusher_) flusher_->Stop();
  absl::Status s = partitions_ ? partitions_->Shutdown() : absl::OkStatus();
  LOG_EVENT(Info, "broker.stopped").Kv("clean", s.ok() ? "true" : "false");
  return s;
}

void Broker::Reject(const RequestContext& ctx, const absl::Status& why) {
  LOG_EVENT(Warn, "request.rejected")
      .Kv("peer", ctx.connection.peer)
      .Kv("api_key", ctx.header.api_key)
      .Kv("api_version", ctx.header.api_version)
      .Kv("error", why.message());
  ctx.responder.Send(Response::Close());
}

void Broker::HandleFrame(std::span<uint8_t> frame, Responder responder,
                         const ConnectionInfo& info) {
  protocol::Reader r(frame);
  auto header = protocol::RequestHeader::Decode(r);
  if (!header.ok()) {
    LOG_EVENT(Warn, "request.bad_header")
        .Kv("peer", info.peer)
        .Kv("error", header.status().message());
    responder.Send(Response::Close());
    return;
  }
  RequestContext ctx{*header, std::move(responder), info};
  Dispatch(ctx, frame, r);
}

void Broker::Dispatch(RequestContext& ctx, std::span<uint8_t>, protocol::Reader& r) {
  int16_t key = ctx.header.api_key;
  const ApiRange* range = FindRange(key);
  bool supported = range != nullptr && ctx.version() >= range->min && ctx.version() <= range->max;
  if (key == static_cast<int16_t>(ApiKey::kApiVersions) && !supported) {
    // KIP-511: answer with a v0 body (header v0) so any client can read it, then it retries.
    protocol::ApiVersionsResponse resp;
    resp.error_code = Code(ErrorCode::kUnsupportedVersion);
    resp.api_keys.push_back({range->key, range->min, range->max});
    RequestContext v0 = ctx;
    v0.header.api_version = 0;
    return Reply(v0, resp);
  }
  if (!supported) {
    return Reject(ctx, absl::InvalidArgumentError(range == nullptr ? "unsupported API key"
                                                                   : "unsupported API version"));
  }
  if (WritesClusterMetadata(static_cast<ApiKey>(key)) && DeferToAdminThread(ctx, r)) return;
  Route(ctx, r);
}

void Broker::Route(RequestContext& ctx, protocol::Reader& r) {
  switch (static_cast<ApiKey>(ctx.header.api_key)) {
    case ApiKey::kApiVersions:
      return HandleApiVersions(ctx, r);
    case ApiKey::kMetadata:
      return HandleMetadata(ctx, r);
    case ApiKey::kDescribeCluster:
      return HandleDescribeCluster(ctx, r);
    case ApiKey::kFindCoordinator:
      return HandleFindCoordinator(ctx, r);
    case ApiKey::kProduce:
      return HandleProduce(ctx, r);
    case ApiKey::kInitProducerId:
      return HandleInitProducerId(ctx, r);
    case ApiKey::kFetch:
      return HandleFetch(ctx, r);
    case ApiKey::kListOffsets:
      return HandleListOffsets(ctx, r);
    case ApiKey::kOffsetForLeaderEpoch:
      return HandleOffsetForLeaderEpoch(ctx, r);
    case ApiKey::kCreateTopics:
      return HandleCreateTopics(ctx, r);
    case ApiKey::kDeleteTopics:
      return HandleDeleteTopics(ctx, r);
    case ApiKey::kCreatePartitions:
      return HandleCreatePartitions(ctx, r);
    case ApiKey::kDeleteRecords:
      return HandleDeleteRecords(ctx, r);
    case ApiKey::kDescribeConfigs:
      return HandleDescribeConfigs(ctx, r);
    case ApiKey::kAlterConfigs:
      return HandleAlterConfigs(ctx, r);
    case ApiKey::kIncrementalAlterConfigs:
      return HandleIncrementalAlterConfigs(ctx, r);
    case ApiKey::kJoinGroup:
      return HandleJoinGroup(ctx, r);
    case ApiKey::kSyncGroup:
      return HandleSyncGroup(ctx, r);
    case ApiKey::kHeartbeat:
      return HandleHeartbeat(ctx, r);
    case ApiKey::kLeaveGroup:
      return HandleLeaveGroup(ctx, r);
    case ApiKey::kOffsetCommit:
      return HandleOffsetCommit(ctx, r);
    case ApiKey::kOffsetFetch:
      return HandleOffsetFetch(ctx, r);
    case ApiKey::kOffsetDelete:
      return HandleOffsetDelete(ctx, r);
    case ApiKey::kDescribeGroups:
      return HandleDescribeGroups(ctx, r);
    case ApiKey::kListGroups:
      return HandleListGroups(ctx, r);
    case ApiKey::kDeleteGroups:
      return HandleDeleteGroups(ctx, r);
    default:
      return Reject(ctx, absl::InternalError("no handler"));
  }
}

void Broker::HandleApiVersions(RequestContext& ctx, protocol::Reader& r) {
  protocol::ApiVersionsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::ApiVersionsResponse resp;
  for (const ApiRange& range : kSupported) {
    resp.api_keys.push_back({range.key, range.min, range.max});
  }
  Reply(ctx, resp);
}

bool Broker::MaybeAutoCreate(const std::string& topic, bool allowed) {
  if (replicas_ != nullptr) return ClusterAutoCreate(topic, allowed);
  if (partitions_->Topic(topic).has_value()) return true;
  if (!allowed || !config_.auto_create_topics) return false;
  auto created = partitions_->CreateTopic(topic, config_.num_partitions, {}, false);
  if (created.ok() || absl::IsAlreadyExists(created.status())) return true;
  LOG_EVENT(Warn, "topic.auto_create_failed")
      .Kv("topic", topic)
      .Kv("error", created.status().message());
  return false;
}

std::vector<int32_t> Broker::FillBrokers(protocol::MetadataResponse& resp) {
  resp.cluster_id = cluster_id_;
  if (membership_ == nullptr) {
    const HostPort& self = config_.advertised;
    resp.brokers.push_back({config_.broker_id, self.host, self.port, std::nullopt});
    resp.controller_id = config_.broker_id;
    return {};
  }
  ClusterView view = membership_->View();
  resp.controller_id = view.controller_id;
  for (const BrokerInfo& b : view.brokers) resp.brokers.push_back({b.id, b.host, b.port, b.rack});
  std::vector<int32_t> alive = view.BrokerIds();
  // Without a session this broker names itself leader of nothing (it leads nothing).
  if (replicas_ != nullptr && !replicas_->SessionAlive()) std::erase(alive, config_.broker_id);
  return alive;
}

void Broker::HandleMetadata(RequestContext& ctx, protocol::Reader& r) {
  const protocol::Reader body = r;
  protocol::MetadataRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  const bool auto_create = ctx.version() < 4 || req.allow_auto_topic_creation;
  if (auto_create && NeedsClusterAutoCreate(req) && DeferToAdminThread(ctx, body)) return;
  protocol::MetadataResponse resp;
  const std::vector<int32_t> alive = FillBrokers(resp);
  std::vector<std::string> names;
  // v0: an empty list means all topics; v1+: null means all, empty means none.
  bool all = !req.topics.has_value() || (ctx.version() == 0 && req.topics->empty());
  if (all && replicas_ != nullptr) {
    for (const auto& t : replicas_->Topics()) names.push_back(t.name);
  } else if (all) {
    for (const TopicInfo& t : partitions_->Topics()) names.push_back(t.name);
  } else {
    for (const auto& t : *req.topics) names.push_back(t.name.value_or(""));
  }
  for (const std::string& name : names) {
    auto& topic = resp.topics.emplace_back();
    topic.name = name;
    topic.is_internal = IsInternalTopic(name);
    if (!ValidateTopicName(name).ok()) {
      topic.error_code = Code(ErrorCode::kInvalidTopicException);
      continue;
    }
    if (!all && !MaybeAutoCreate(name, auto_create)) {
      topic.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
      continue;
    }
    if (replicas_ != nullptr) {
      FillClusterTopic(topic, alive);
      continue;
    }
    std::optional<TopicInfo> info = partitions_->Topic(name);
    if (!info.has_value()) {
      topic.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
      continue;
    }
    topic.topic_id = info->id;
    for (int32_t p = 0; p < info->partitions; ++p) {
      auto& part = topic.partitions.emplace_back();
      part.partition_index = p;
      part.leader_id = config_.broker_id;
      part.leader_epoch = 0;
      part.replica_nodes = {config_.broker_id};
      part.isr_nodes = {config_.broker_id};
    }
  }
  // Without a session what this broker knows may be stale (it names itself leader of nothing):
  // it answers, then closes the connection, so that the client asks another broker next.
  Reply(ctx, resp, /*close_after=*/replicas_ != nullptr && !replicas_->SessionAlive());
}

// A single broker coordinates every group itself (whether the group's partition of
// __consumer_offsets is loaded shows in the group requests); in a cluster the leader of the
// group's partition does. Transactions have no coordinator.
void Broker::HandleFindCoordinator(RequestContext& ctx, protocol::Reader& r) {
  const protocol::Reader body = r;
  protocol::FindCoordinatorRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  // Cluster mode: the first one creates __consumer_offsets, on the admin thread.
  if (replicas_ != nullptr && req.key_type == 0 && !replicas_->Topic(kOffsetsTopicName) &&
      DeferToAdminThread(ctx, body)) {
    return;
  }
  protocol::FindCoordinatorResponse resp;
  if (ctx.version() < 4) {
    CoordinatorAnswer a = CoordinatorFor(req.key, req.key_type);
    resp.error_code = Code(a.error);
    resp.node_id = a.node_id;
    resp.host = a.host;
    resp.port = a.port;
    if (!a.message.empty()) resp.error_message = a.message;
    return Reply(ctx, resp);
  }
  for (const std::string& key : req.coordinator_keys) {
    CoordinatorAnswer a = CoordinatorFor(key, req.key_type);
    auto& c = resp.coordinators.emplace_back();
    c.key = key;
    c.error_code = Code(a.error);
    c.node_id = a.node_id;
    c.host = a.host;
    c.port = a.port;
    if (!a.message.empty()) c.error_message = a.message;
  }
  Reply(ctx, resp);
}

void Broker::HandleDescribeCluster(RequestContext& ctx, protocol::Reader& r) {
  protocol::DescribeClusterRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::DescribeClusterResponse resp;
  resp.endpoint_type = req.endpoint_type;
  resp.cluster_id = cluster_id_;
  if (membership_ != nullptr) {
    ClusterView view = membership_->View();
    resp.controller_id = view.controller_id;
    for (const BrokerInfo& b : view.brokers) resp.brokers.push_back({b.id, b.host, b.port, b.rack});
    return Reply(ctx, resp);
  }
  resp.controller_id = config_.broker_id;
  resp.brokers.push_back(
      {config_.broker_id, config_.advertised.host, config_.advertised.port, std::nullopt});
  Reply(ctx, resp);
}

}  // namespace strata::server
