// Broker: meta.properties and cluster membership (--metadata etcd://HOST:PORT).
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "replication/partition_state.h"
#include "server/broker.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {

std::string NewClusterId() {
  std::mt19937_64 rng(std::random_device{}());
  std::string raw(16, '\0');
  for (char& c : raw) c = static_cast<char>(rng());
  return absl::WebSafeBase64Escape(raw);
}

// The cluster's id: `proposal` if this broker is the first to say, else the one stored.
absl::StatusOr<std::string> SharedClusterId(MetadataStore* store, const std::string& root,
                                            const std::string& proposal) {
  ASSIGN_OR_RETURN(CasResult r, store->CompareAndSet(root + "cluster_id", 0, proposal));
  if (r.applied) return proposal;
  if (!r.current.has_value()) return absl::UnavailableError("cluster id vanished; retry");
  return r.current->value;
}

thread_local bool on_admin_thread = false;

}  // namespace

bool Broker::WritesClusterMetadata(protocol::ApiKey key) {
  using protocol::ApiKey;
  return key == ApiKey::kCreateTopics || key == ApiKey::kDeleteTopics ||
         key == ApiKey::kCreatePartitions || key == ApiKey::kAlterConfigs ||
         key == ApiKey::kIncrementalAlterConfigs;
}

bool Broker::DeferToAdminThread(const RequestContext& ctx, const protocol::Reader& body) {
  // Shutting down, the admin thread has stopped: the request runs here (a late one).
  if (admin_ == nullptr || on_admin_thread || shutting_down_.load()) return false;
  auto copy = std::make_shared<std::vector<uint8_t>>(body.rest().begin(), body.rest().end());
  RunOnAdminThread([this, c = ctx, copy]() mutable {
    protocol::Reader r(*copy);
    Route(c, r);
  });
  return true;
}

void Broker::RunOnAdminThread(std::function<void()> fn) {
  admin_->Schedule(0, [fn = std::move(fn)] {
    on_admin_thread = true;
    fn();
  });
}

bool Broker::NeedsClusterAutoCreate(const protocol::MetadataRequest& req) const {
  if (replicas_ == nullptr || !config_.auto_create_topics || !req.topics.has_value()) return false;
  for (const auto& t : *req.topics) {
    const std::string name = t.name.value_or("");
    if (ValidateTopicName(name).ok() && !replicas_->Topic(name).has_value()) return true;
  }
  return false;
}

bool Broker::ClusterAutoCreate(const std::string& topic, bool allowed) {
  if (replicas_->Topic(topic).has_value()) return true;
  if (!allowed || !config_.auto_create_topics) return false;
  if (!on_admin_thread) {
    // On a reactor (Produce): queued, and "unknown" for now; the client asks again.
    absl::MutexLock lock(&auto_create_mu_);
    if (auto_creating_.insert(topic).second) {
      RunOnAdminThread([this, topic] {
        ClusterAutoCreate(topic, true);
        absl::MutexLock l(&auto_create_mu_);
        auto_creating_.erase(topic);
      });
    }
    return false;
  }
  TopicChange c = CreateClusterTopic({.name = topic, .partitions = config_.num_partitions});
  if (c.error == ErrorCode::kNone || c.error == ErrorCode::kTopicAlreadyExists) return true;
  LOG_EVENT(Warn, "topic.auto_create_failed").Kv("topic", topic).Kv("error", c.message);
  return false;
}

absl::Status Broker::OpenClusterStore() {
  if (config_.metadata == "embedded") return absl::OkStatus();
  MetadataStoreOptions options{.data_dir = config_.data_dir, .fs = fs_, .clock = clock_};
  ASSIGN_OR_RETURN(metadata_store_, OpenMetadataStore(config_.metadata, options));
  return absl::OkStatus();
}

void Broker::ShareProducerIds() {
  if (metadata_store_ == nullptr) return;
  producer_ids_->set_block_source(
      [store = metadata_store_.get(), key = config_.metadata_root + "producer_id_block"](
          int64_t min_start, int64_t size) { return ClaimIdBlock(store, key, size, min_start); });
}

absl::Status Broker::LoadMetaProperties() {
  std::string path = JoinPath(config_.data_dir, "meta.properties");
  const bool exists = fs_->Exists(path);
  if (exists) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs_, path));
    int32_t id = -1;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::ConsumePrefix(&line, "cluster.id=")) cluster_id_ = std::string(line);
      if (absl::ConsumePrefix(&line, "broker.id=") && !absl::SimpleAtoi(line, &id)) id = -1;
    }
    if (id != config_.broker_id || cluster_id_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " belongs to broker.id ", id, " (cluster ", cluster_id_, "); this broker is ",
          config_.broker_id, ". Use another --data-dir or the matching --broker-id."));
    }
  }
  std::string proposal = exists ? cluster_id_ : NewClusterId();
  if (metadata_store_ != nullptr) {
    auto shared = SharedClusterId(metadata_store_.get(), config_.metadata_root, proposal);
    if (!shared.ok()) {
      return absl::Status(shared.status().code(),
                          absl::StrCat("reading the cluster id from ", config_.metadata, ": ",
                                       shared.status().message()));
    }
    if (exists && *shared != cluster_id_) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " belongs to cluster ", cluster_id_, " but ", config_.metadata, " holds cluster ",
          *shared, ". Use another --data-dir or the cluster's own metadata store."));
    }
    proposal = *shared;
  }
  cluster_id_ = proposal;
  if (exists) return absl::OkStatus();
  return WriteFileAtomically(
      fs_, path,
      absl::StrCat("version=0\nbroker.id=", config_.broker_id, "\ncluster.id=", cluster_id_, "\n"));
}

absl::Status Broker::UntilStoreAnswers(absl::string_view step_name,
                                       const std::function<absl::Status()>& step,
                                       const std::function<bool()>& cancelled) {
  int64_t backoff_ms = 250;
  int64_t next_log_ms = 0;
  while (true) {
    absl::Status s = step();
    if (s.ok() || metadata_store_ == nullptr ||
        !(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s))) {
      return s;
    }
    const int64_t now_ms = Clock::System()->MonotonicMs();
    if (now_ms >= next_log_ms) {
      LOG_EVENT(Warn, "broker.waiting_for_metadata")
          .Kv("metadata", config_.metadata)
          .Kv("step", step_name)
          .Kv("error", s.ToString())
          .Kv("message", "not serving until the metadata store answers; retrying");
      next_log_ms = now_ms + 30'000;
    }
    for (int64_t waited = 0; waited < backoff_ms; waited += 100) {
      if (cancelled && cancelled()) {
        return absl::CancelledError(
            absl::StrCat("stopped while waiting for the metadata store (", step_name, ")"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 5'000);
  }
}

absl::Status Broker::JoinCluster() {
  absl::Status s = JoinClusterOnce();
  if (!s.ok()) AbandonJoin();
  return s;
}

void Broker::AbandonJoin() {
  if (controller_) controller_->Stop();
  controller_.reset();
  if (replicas_) replicas_->Stop();
  replicas_.reset();
  if (admin_) admin_->Stop();
  admin_.reset();
  if (membership_) membership_->Stop();
  membership_.reset();
}

absl::Status Broker::JoinClusterOnce() {
  if (metadata_store_ == nullptr) return absl::OkStatus();
  ClusterMembership::Options options;
  options.self = {.id = config_.broker_id,
                  .host = config_.advertised.host,
                  .port = config_.advertised.port,
                  .rack = config_.rack};
  options.root = config_.metadata_root;
  options.session_timeout_ms = config_.broker_session_timeout_ms;
  // A restarted broker waits for its crashed predecessor's session to run out.
  options.registration_wait_ms = config_.broker_session_timeout_ms + 5'000;
  ASSIGN_OR_RETURN(membership_, ClusterMembership::Start(metadata_store_.get(), options));
  admin_ = std::make_unique<ThreadScheduler>(Clock::System());
  ReplicaManager::Options replica_options{
      .self = config_.broker_id,
      .root = config_.metadata_root,
      .replica_lag_time_max_ms = config_.replica_lag_time_max_ms,
      .sync_interval_ms = 1'000,
      .auto_leader_rebalance = config_.auto_leader_rebalance,
      .leader_imbalance_check_interval_ms = config_.leader_imbalance_check_interval_ms,
      .fetch = {.max_wait_ms = config_.replica_fetch_wait_max_ms,
                .min_bytes = config_.replica_fetch_min_bytes,
                .max_bytes = config_.replica_fetch_response_max_bytes,
                .partition_max_bytes = config_.replica_fetch_max_bytes,
                .backoff_ms = config_.replica_fetch_backoff_ms}};
  replicas_ = std::make_unique<ReplicaManager>(metadata_store_.get(), membership_.get(),
                                               partitions_.get(), replica_options);
  replicas_->set_role_listener(
      [this](const TopicPartition& tp, Partition::Role role) { OnRoleChange(tp, role); });
  offsets_topic_->set_replication_wait([this](const TopicPartition& tp, LeaderEpoch epoch,
                                              Offset end, std::function<void(absl::Status)> done) {
    auto config = partitions_->EffectiveConfig(tp.topic);
    replicas_->WaitForAcks(
        tp, epoch, end, config.ok() ? config->min_insync_replicas : 1,
        config_.group.offset_commit_timeout_ms, [done = std::move(done)](protocol::ErrorCode e) {
          done(e == protocol::ErrorCode::kNone ? absl::OkStatus()
                                               : absl::UnavailableError(protocol::ErrorName(e)));
        });
  });
  RETURN_IF_ERROR(replicas_->Start());
  ASSIGN_OR_RETURN(LogConfig defaults, config_.TopicConfig({}));
  controller_ = std::make_unique<Controller>(
      metadata_store_.get(), membership_.get(),
      Controller::Options{.root = config_.metadata_root,
                          .unclean_leader_election = defaults.unclean_leader_election});
  RETURN_IF_ERROR(controller_->Start());
  ClusterView view = membership_->View();
  LOG_EVENT(Info, "broker.joined_cluster")
      .Kv("metadata", config_.metadata)
      .Kv("brokers", view.brokers.size())
      .Kv("controller", view.controller_id)
      .Kv("controller_epoch", view.controller_epoch);
  return absl::OkStatus();
}

void Broker::OnRoleChange(const TopicPartition& tp, Partition::Role role) {
  if (tp.topic != kOffsetsTopicName || tp.partition >= offsets_topic_->partition_count()) return;
  // One queue for both directions, so a load in progress cannot finish after an unload; the
  // coordinator serves a partition only while this broker leads it either way.
  (void)role;
  offsets_topic_->Reload(coordinator_.get(), tp.partition);
}

bool Broker::ReadsToLogEnd(const TopicPartition& tp, int32_t replica_id) const {
  if (replica_id < 0) return false;
  return replicas_ == nullptr || replicas_->IsFollower(tp, replica_id);
}

ClusterView Broker::FreshView() {
  auto fresh = ReadClusterView(metadata_store_.get(), config_.metadata_root);
  return fresh.ok() ? *fresh : membership_->View();
}

void Broker::LeaveCluster() {
  if (membership_ == nullptr) return;
  // Topic changes in progress finish; queued ones are dropped (their connections close).
  if (admin_ != nullptr) admin_->Stop();
  if (config_.controlled_shutdown) {
    replicas_->StopFetching();
    auto view = ReadClusterView(metadata_store_.get(), config_.metadata_root);
    if (!view.ok()) {
      // Every further store call would wait out its timeout too.
      LOG_EVENT(Warn, "broker.controlled_shutdown_skipped")
          .Kv("error", view.status().ToString())
          .Kv("message",
              "the metadata store is unreachable: leaderships move once this "
              "broker's session expires");
    } else {
      auto moved = MoveLeadershipAway(metadata_store_.get(), config_.metadata_root,
                                      config_.broker_id, view->BrokerIds(), view->controller_epoch);
      LOG_EVENT(Info, "broker.controlled_shutdown")
          .Kv("leaders_moved", moved.ok() ? absl::StrCat(*moved) : moved.status().ToString());
      // Apply the moves now: requests to the partitions we led get NOT_LEADER_OR_FOLLOWER
      // (which clients retry at the new leader) instead of waiting for a broker that is going
      // away.
      if (absl::Status s = replicas_->SyncNow(); !s.ok()) {
        LOG_EVENT(Warn, "broker.controlled_shutdown_sync").Kv("error", s.ToString());
      }
    }
  }
  replicas_->Stop();
  if (controller_) controller_->Stop();
  membership_->Stop();
}

}  // namespace strata::server
