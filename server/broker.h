// Broker: a single Kafka-compatible broker. Decodes each request frame, runs the API's handler
// and encodes the response; owns the partitions (PartitionManager), the network front end, the
// flusher thread, producer ids and the group coordinator (with __consumer_offsets).
//
//   ASSIGN_OR_RETURN(auto broker, Broker::Start(FileSystem::Default(), config, Clock::System()));
//   ... serve until SIGTERM ...
//   RETURN_IF_ERROR(broker->Shutdown());  // stop accepting, finish requests, close logs cleanly
//
// Handlers run on reactor threads and must not block for long: fdatasync goes to the flusher,
// long-polling fetches park until an append or their timeout (see DelayedFetch in
// broker_fetch.cc). Kafka error codes are produced here, in server/, and nowhere below it.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/file.h"
#include "protocol/errors.h"
#include "protocol/header.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/reader.h"
#include "replication/cluster_membership.h"
#include "replication/controller.h"
#include "replication/metadata_store.h"
#include "server/broker_config.h"
#include "server/flush_service.h"
#include "server/group_coordinator.h"
#include "server/network_server.h"
#include "server/offsets_topic.h"
#include "server/partition_manager.h"
#include "server/producer_ids.h"
#include "server/replica_manager.h"
#include "server/scheduler.h"

namespace strata::server {

class DelayedFetch;
struct PartitionResult;
struct ProduceWait;

// One request being handled: its header and how to answer it.
struct RequestContext {
  protocol::RequestHeader header;
  Responder responder;
  ConnectionInfo connection;
  int16_t version() const { return header.api_version; }
};

// A topic to create (CreateTopics, auto-creation).
struct TopicRequest {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = -1;  // -1: default.replication.factor
  std::map<std::string, std::string> configs;
  std::vector<std::vector<int32_t>> assignments;  // explicit replicas per partition, if given
  bool validate_only = false;
};
struct TopicChange {
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::string message;
  TopicInfo info;
  int16_t replication_factor = 1;
};

// FindCoordinator's answer for one key.
struct CoordinatorAnswer {
  protocol::ErrorCode error = protocol::ErrorCode::kNone;
  std::string message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

// The API versions this broker advertises in ApiVersions and accepts.
struct ApiRange {
  int16_t key;
  int16_t min;
  int16_t max;
};
std::span<const ApiRange> SupportedApis();

class Broker : public FrameHandler {
 public:
  // In a cluster, a metadata store that does not answer yet (etcd down or cut off) is waited
  // for, with back-off and a log line every 30 s (broker.waiting_for_metadata), serving nothing
  // (the port opens once the cluster id is read), until it answers or `cancelled` returns true
  // (then Cancelled). A data dir of another cluster or a broker id held by another live broker
  // still fail at once.
  static absl::StatusOr<std::unique_ptr<Broker>> Start(
      FileSystem* fs, BrokerConfig config, Clock* clock,
      const std::function<bool()>& cancelled = nullptr);
  ~Broker() override;

  void HandleFrame(std::span<uint8_t> frame, Responder responder,
                   const ConnectionInfo& info) override;

  // Answers requests parked in a rebalance, stops accepting, lets in-flight requests finish (up
  // to shutdown.grace.ms), stops the flusher, closes every log cleanly. Idempotent.
  absl::Status Shutdown();

  int port() const { return network_->port(); }
  const std::string& cluster_id() const { return cluster_id_; }
  const BrokerConfig& config() const { return config_; }
  PartitionManager& partitions() { return *partitions_; }

  // Encodes `body` as the response to `ctx` and sends it (then closes the connection, with
  // `close_after`).
  template <typename Body>
  void Reply(const RequestContext& ctx, const Body& body, bool close_after = false);

 private:
  Broker(FileSystem* fs, BrokerConfig config, Clock* clock)
      : fs_(fs), config_(std::move(config)), clock_(clock) {}
  // Reads (or, for a new data dir, writes) meta.properties as Kafka does: the broker id and
  // cluster id this data dir belongs to; another broker id's data dir is refused. With a cluster
  // store the cluster id is the cluster's (the first broker's), and another cluster's is refused.
  absl::Status LoadMetaProperties();
  // Cluster mode (--metadata etcd://...): opens the store; registration comes after listening.
  absl::Status OpenClusterStore();
  // Registers, starts the replica manager and the controller. On failure it undoes what it
  // started, so that it can be called again.
  absl::Status JoinCluster();
  absl::Status JoinClusterOnce();
  void AbandonJoin();
  // Runs `step` again (with back-off) for as long as it fails because the metadata store does
  // not answer, unless `cancelled`.
  absl::Status UntilStoreAnswers(absl::string_view step_name,
                                 const std::function<absl::Status()>& step,
                                 const std::function<bool()>& cancelled);
  // Cluster mode: producer id blocks come from the store, unique across brokers.
  void ShareProducerIds();
  // SIGTERM in a cluster: hands leadership away (controlled.shutdown.enable), stops the
  // controller and deregisters, so the cluster moves on before this broker stops serving.
  void LeaveCluster();
  // The brokers registered now, read from the store (the watched view can lag a broker that
  // just joined); the watched view if the store does not answer.
  ClusterView FreshView();
  // Whether a Fetch or ListOffsets with `replica_id` reads up to the log end: a follower the
  // partition's assignment names (single broker: any replica id, the log end is the high
  // watermark). Consumers, and clients claiming a replica id they are not, stop at the high
  // watermark.
  bool ReadsToLogEnd(const TopicPartition& tp, int32_t replica_id) const;

  void Dispatch(RequestContext& ctx, std::span<uint8_t> frame, protocol::Reader& body);
  // The handler of the request's API key.
  void Route(RequestContext& ctx, protocol::Reader& body);
  // Cluster mode, on a reactor: copies the request body not read yet and runs the request on
  // the admin thread instead (Route there); returns false on a single broker or when already
  // on the admin thread (the caller goes on).
  bool DeferToAdminThread(const RequestContext& ctx, const protocol::Reader& body);
  // Runs `fn` on the admin thread (which marks itself so).
  void RunOnAdminThread(std::function<void()> fn);
  static bool WritesClusterMetadata(protocol::ApiKey key);
  void HandleApiVersions(RequestContext& ctx, protocol::Reader& r);
  // Metadata's cluster id, controller and brokers; returns the live broker ids in a cluster.
  std::vector<int32_t> FillBrokers(protocol::MetadataResponse& resp);
  void HandleMetadata(RequestContext& ctx, protocol::Reader& r);
  void HandleDescribeCluster(RequestContext& ctx, protocol::Reader& r);
  void HandleFindCoordinator(RequestContext& ctx, protocol::Reader& r);
  void HandleProduce(RequestContext& ctx, protocol::Reader& r);
  // One partition of a produce request: leadership, validation, min.insync.replicas, append.
  PartitionResult ProduceToPartition(const RequestContext& ctx, Partition& partition,
                                     const protocol::Records& records, int16_t acks, int64_t now);
  // acks=all in a cluster: replies once every partition in `waits` is replicated (or failed).
  struct PendingProduce;
  void AwaitReplication(const RequestContext& ctx, protocol::ProduceResponse resp,
                        std::vector<ProduceWait> waits, int64_t timeout_ms);
  // After the appends: flushes what the flush policy wants durable first, then replies (or
  // waits for replication).
  void FinishProduce(const RequestContext& ctx, protocol::ProduceResponse resp,
                     std::vector<FlushService::Item> to_flush, std::vector<ProduceWait> waits,
                     int64_t timeout_ms);
  void HandleInitProducerId(RequestContext& ctx, protocol::Reader& r);
  void HandleFetch(RequestContext& ctx, protocol::Reader& r);
  void HandleListOffsets(RequestContext& ctx, protocol::Reader& r);
  void HandleOffsetForLeaderEpoch(RequestContext& ctx, protocol::Reader& r);
  void HandleCreateTopics(RequestContext& ctx, protocol::Reader& r);
  void HandleDeleteTopics(RequestContext& ctx, protocol::Reader& r);
  void HandleCreatePartitions(RequestContext& ctx, protocol::Reader& r);
  void HandleDeleteRecords(RequestContext& ctx, protocol::Reader& r);
  void HandleDescribeConfigs(RequestContext& ctx, protocol::Reader& r);
  void HandleAlterConfigs(RequestContext& ctx, protocol::Reader& r);
  void HandleIncrementalAlterConfigs(RequestContext& ctx, protocol::Reader& r);
  // broker_groups.cc
  void HandleJoinGroup(RequestContext& ctx, protocol::Reader& r);
  void HandleSyncGroup(RequestContext& ctx, protocol::Reader& r);
  void HandleHeartbeat(RequestContext& ctx, protocol::Reader& r);
  void HandleLeaveGroup(RequestContext& ctx, protocol::Reader& r);
  void HandleOffsetCommit(RequestContext& ctx, protocol::Reader& r);
  void HandleOffsetFetch(RequestContext& ctx, protocol::Reader& r);
  void HandleOffsetDelete(RequestContext& ctx, protocol::Reader& r);
  void HandleDescribeGroups(RequestContext& ctx, protocol::Reader& r);
  void HandleListGroups(RequestContext& ctx, protocol::Reader& r);
  void HandleDeleteGroups(RequestContext& ctx, protocol::Reader& r);

  // ---- topics in a cluster (broker_topics.cc): the store decides, replicas_ applies ----
  TopicChange CreateClusterTopic(const TopicRequest& t);
  // Single broker: the local PartitionManager; cluster: the metadata store.
  absl::Status DeleteTopicAnywhere(const std::string& name);
  absl::Status CreatePartitionsAnywhere(const std::string& name, int32_t total, bool validate_only);
  // Auto-creation in a cluster: synchronous on the admin thread; elsewhere queued there, and
  // false (the topic does not exist yet).
  bool ClusterAutoCreate(const std::string& topic, bool allowed);
  // A Metadata request in a cluster (that allows auto-creation) naming a topic to create: it
  // goes to the admin thread.
  bool NeedsClusterAutoCreate(const protocol::MetadataRequest& req) const;
  CoordinatorAnswer CoordinatorFor(const std::string& key, int8_t key_type);
  // Metadata in a cluster: one topic's partitions as the store has them.
  void FillClusterTopic(protocol::MetadataResponse::MetadataResponseTopic& topic,
                        const std::vector<int32_t>& alive);
  // A __consumer_offsets partition's leadership moved: its groups load here or go away.
  void OnRoleChange(const TopicPartition& tp, Partition::Role role);

 public:
  absl::Status SetTopicConfigsAnywhere(const std::string& name,
                                       const std::map<std::string, std::string>& configs,
                                       bool validate_only);

 private:
  // Auto-creation as Kafka does it for Metadata (and Produce) requests: the topic is created
  // with num.partitions when auto.create.topics.enable is set. Returns whether it exists now.
  bool MaybeAutoCreate(const std::string& topic, bool allowed);
  // The malformed-request path: log it and close the connection.
  void Reject(const RequestContext& ctx, const absl::Status& why);

  // Answers every parked fetch now (shutdown must not wait for their max_wait_ms).
  void ExpireDelayedFetches();

  friend class DelayedFetch;
  absl::Mutex delayed_mu_;
  std::vector<std::weak_ptr<DelayedFetch>> delayed_ ABSL_GUARDED_BY(delayed_mu_);
  FileSystem* fs_;
  BrokerConfig config_;
  Clock* clock_;
  std::string cluster_id_;
  // Cluster mode only; the membership goes before the store it uses.
  std::unique_ptr<MetadataStore> metadata_store_;
  std::unique_ptr<ClusterMembership> membership_;
  std::unique_ptr<Controller> controller_;  // acts only while this broker is the controller
  std::unique_ptr<PartitionManager> partitions_;
  std::unique_ptr<ReplicaManager> replicas_;  // cluster mode: roles, fetchers, ISR
  std::unique_ptr<ProducerIds> producer_ids_;
  std::unique_ptr<FlushService> flusher_;
  // Declared in dependency order: the coordinator goes first, then its timers and storage.
  std::unique_ptr<OffsetsTopic> offsets_topic_;
  std::unique_ptr<ThreadScheduler> scheduler_;
  std::unique_ptr<GroupCoordinator> coordinator_;
  std::unique_ptr<NetworkServer> network_;
  // Cluster mode: requests that write the metadata store (topic changes, auto-creation, the
  // first FindCoordinator) run on this thread, one at a time, never on a reactor, so that a
  // slow or unreachable store cannot stall the other connections of a reactor.
  std::unique_ptr<ThreadScheduler> admin_;
  absl::Mutex auto_create_mu_;
  std::set<std::string> auto_creating_ ABSL_GUARDED_BY(auto_create_mu_);  // queued on admin_
  bool shut_down_ = false;
  std::atomic<bool> shutting_down_{false};  // new fetches answer at once instead of parking
};

// ---- implementation of the template ----

Response EncodeResponse(std::string frame, const std::vector<protocol::Splice>& splices,
                        const std::vector<FileSlice>& slices);

}  // namespace strata::server

#include "protocol/frame.h"

namespace strata::server {

template <typename Body>
void Broker::Reply(const RequestContext& ctx, const Body& body, bool close_after) {
  Response r;
  r.close = close_after;
  protocol::Writer w(&r.bytes);
  protocol::AppendResponseFrame(w, ctx.header.correlation_id, ctx.version(), body);
  ctx.responder.Send(std::move(r));
}

}  // namespace strata::server
