// ReplicaManager: following the store — topics, roles, fetchers (server/replica_manager.h).
// The leader side (follower fetches, acks=all, ISR changes) is in replica_leader.cc.
#include "server/replica_manager.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/status.h"
#include "server/offsets_topic.h"

namespace strata::server {
namespace {

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The topic id the store names (32 hex digits). A topic written without one (tools, tests) gets
// one derived from its name, the same on every broker.
TopicId ParseTopicId(const std::string& name, const std::string& hex) {
  TopicId id{};
  bool hex_ok = hex.size() == 32 && std::all_of(hex.begin(), hex.end(), [](char c) {
                  return absl::ascii_isxdigit(static_cast<unsigned char>(c));
                });
  if (hex_ok) {
    std::string bytes = absl::HexStringToBytes(hex);
    std::copy(bytes.begin(), bytes.end(), id.begin());
    return id;
  }
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull;
  for (unsigned char c : name) {
    h1 = (h1 ^ c) * 1099511628211ull;
    h2 = (h2 + c) * 6364136223846793005ull + 1442695040888963407ull;
  }
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<uint8_t>(h1 >> (8 * i));
    id[8 + i] = static_cast<uint8_t>(h2 >> (8 * i));
  }
  return id;
}

}  // namespace

ReplicaManager::ReplicaManager(MetadataStore* store, ClusterMembership* membership,
                               PartitionManager* partitions, Options options)
    : store_(store),
      membership_(membership),
      partitions_(partitions),
      options_(std::move(options)) {}

ReplicaManager::~ReplicaManager() { Stop(); }

int64_t ReplicaManager::NowMs() const { return Clock::System()->MonotonicMs(); }

void ReplicaManager::Wake() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

absl::Status ReplicaManager::Start() {
  // Watch first, then sync: a change in between is then not missed (it causes one more sync).
  auto watch = store_->Watch(options_.root, 0, [this](const WatchResponse& w) {
    for (const WatchEvent& e : w.events) {
      const std::string& key = e.kv.key;
      if (key.rfind(options_.root + "topics/", 0) == 0 ||
          key.rfind(options_.root + "partitions/", 0) == 0) {
        return Wake();
      }
    }
    if (w.resync) Wake();
  });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  listener_ = membership_->AddListener([this](const ClusterView&) { Wake(); });
  if (absl::Status s = SyncNow(); !s.ok()) {
    LOG_EVENT(Warn, "replicas.sync_failed").Kv("error", s.ToString());
  }
  thread_ = std::thread([this] { Run(); });
  expiry_thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&wake_mu_);
        auto stop = [this] { return stopping_; };
        if (wake_mu_.AwaitWithTimeout(absl::Condition(&stop), absl::Milliseconds(100))) return;
      }
      ExpireAcks();
      RefreshSession();
      // A sync holding the lock (waiting on an unreachable store, say) resigns at its start;
      // meanwhile SessionAlive() already refuses produce.
      if (!SessionAlive() && sync_mu_.TryLock()) {
        ResignAll();
        sync_mu_.Unlock();
      }
    }
  });
  return absl::OkStatus();
}

void ReplicaManager::Stop() {
  {
    absl::MutexLock lock(&wake_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  if (listener_ >= 0) membership_->RemoveListener(listener_);
  watch_.reset();
  absl::MutexLock lock(&sync_mu_);
  stopped_syncing_ = true;  // a late SyncNow (a request still draining) starts nothing new
  for (auto& [id, fetcher] : fetchers_) fetcher->Stop();
  fetchers_.clear();
  Done done;
  {
    absl::MutexLock l(&mu_);
    stopped_ = true;
    for (auto& [tp, led] : led_) {
      for (AckWait& w : led.waits) {
        done.emplace_back(std::move(w.done), protocol::ErrorCode::kNotLeaderOrFollower);
      }
      led.waits.clear();
      led.partition->set_append_listener(nullptr);
    }
  }
  Finish(done);
}

void ReplicaManager::Run() {
  int64_t next_sync = NowMs() + options_.sync_interval_ms;
  next_imbalance_check_ms_ = NowMs() + options_.leader_imbalance_check_interval_ms;
  while (true) {
    bool wake = false;
    {
      absl::MutexLock lock(&wake_mu_);
      auto ready = [this] { return wake_ || stopping_; };
      wake_mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      if (stopping_) return;
      wake = wake_;
      wake_ = false;
    }
    if (wake || NowMs() >= next_sync) {
      if (absl::Status s = SyncNow(); !s.ok()) {
        LOG_EVENT(Warn, "replicas.sync_failed").Kv("error", s.ToString());
      }
      next_sync = NowMs() + options_.sync_interval_ms;
    }
    MaintainIsr();
    HandOverToPreferred();
  }
}

absl::Status ReplicaManager::SyncNow() {
  absl::MutexLock lock(&sync_mu_);
  return Sync();
}

void ReplicaManager::StopFetching() {
  absl::MutexLock lock(&sync_mu_);
  leaving_ = true;
  for (auto& [id, fetcher] : fetchers_) fetcher->Stop();
  fetchers_.clear();
  absl::MutexLock l(&mu_);
  followed_.clear();
}

absl::Status ReplicaManager::Sync() {
  if (stopped_syncing_) return absl::FailedPreconditionError("the replica manager has stopped");
  RefreshSession();
  if (!SessionAlive()) {
    // Leaderships wait for a new session (the membership registers again and wakes us).
    ResignAll();
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<TopicRecord> topics, ReadTopics(store_, options_.root));
  ASSIGN_OR_RETURN(std::vector<PartitionRecord> records,
                   ReadPartitionStates(store_, options_.root));
  // Let go first of what this sync deletes or replaces: no fetcher may write into a partition
  // directory that is about to go or to belong to another log.
  ReleaseGone(topics, records);
  RETURN_IF_ERROR(SyncTopics(topics));
  ClusterView view = membership_->View();
  std::vector<TopicView> views;
  for (const TopicRecord& t : topics) {
    views.push_back({t.name, ParseTopicId(t.name, t.assignment.id), t.assignment.configs, {}});
  }
  for (const PartitionRecord& rec : records) {
    ApplyState(rec, view);
    auto it = std::find_if(views.begin(), views.end(),
                           [&](const TopicView& v) { return v.name == rec.topic; });
    if (it == views.end()) continue;
    it->partitions.push_back(
        {rec.partition, rec.state.leader, rec.state.leader_epoch, rec.replicas, rec.state.isr});
  }
  absl::MutexLock l(&mu_);
  topics_ = std::move(views);
  return absl::OkStatus();
}

void ReplicaManager::ReleaseGone(const std::vector<TopicRecord>& topics,
                                 const std::vector<PartitionRecord>& records) {
  std::set<std::string> replaced;  // local topics the store no longer has under the same id
  for (const TopicInfo& local : partitions_->Topics()) {
    auto it = std::find_if(topics.begin(), topics.end(),
                           [&](const TopicRecord& t) { return t.name == local.name; });
    if (it == topics.end() || ParseTopicId(it->name, it->assignment.id) != local.id) {
      replaced.insert(local.name);
    }
  }
  auto gone = [&](const TopicPartition& tp) {
    return replaced.count(tp.topic) > 0 ||
           std::none_of(records.begin(), records.end(), [&](const PartitionRecord& r) {
             return r.topic == tp.topic && r.partition == tp.partition;
           });
  };
  std::vector<TopicPartition> release;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [tp, led] : led_) {
      if (gone(tp)) release.push_back(tp);
    }
    for (const auto& [tp, f] : followed_) {
      if (gone(tp)) release.push_back(tp);
    }
  }
  Done done;
  for (const TopicPartition& tp : release) {
    ResignLeadership(tp, done);
    StopFollowing(tp);
  }
  Finish(done);
}

absl::Status ReplicaManager::SyncTopics(const std::vector<TopicRecord>& topics) {
  for (const TopicRecord& t : topics) {
    TopicInfo info{t.name, ParseTopicId(t.name, t.assignment.id),
                   static_cast<int32_t>(t.assignment.partitions.size()), t.assignment.configs};
    auto adopted = partitions_->AdoptTopic(info);
    if (!adopted.ok()) {
      LOG_EVENT(Error, "replicas.adopt_failed")
          .Kv("topic", t.name)
          .Kv("error", adopted.status().ToString());
    }
  }
  for (const TopicRecord& t : topics) seen_in_store_.insert(t.name);
  for (const TopicInfo& local : partitions_->Topics()) {
    bool in_store = std::any_of(topics.begin(), topics.end(),
                                [&](const TopicRecord& t) { return t.name == local.name; });
    // __consumer_offsets exists locally before the cluster creates it (first FindCoordinator).
    if (in_store || local.name == kOffsetsTopicName) continue;
    // Deleted from the cluster while we watched, or empty: it goes. A local topic with data the
    // cluster never had (a single broker's data dir joining a cluster; a topic deleted while
    // this broker was down) is kept on disk, not served, with a warning.
    if (!seen_in_store_.count(local.name) && !IsEmpty(local)) {
      if (warned_local_.insert(local.name).second) {
        LOG_EVENT(Warn, "replicas.local_topic_kept")
            .Kv("topic", local.name)
            .Kv("message",
                "this topic has data here but not in the cluster; it is not served. Delete its "
                "partition directories, or move them away, to drop it");
      }
      continue;
    }
    LOG_EVENT(Info, "replicas.topic_gone").Kv("topic", local.name);
    absl::Status s = partitions_->DeleteTopic(local.name);
    if (!s.ok() && !absl::IsNotFound(s)) {
      LOG_EVENT(Error, "replicas.delete_failed").Kv("topic", local.name).Kv("error", s.ToString());
    }
  }
  return absl::OkStatus();
}

bool ReplicaManager::IsEmpty(const TopicInfo& topic) const {
  for (int32_t p = 0; p < topic.partitions; ++p) {
    auto part = partitions_->Get(topic.name, p);
    if (part != nullptr && part->log().log_end_offset() > Offset(0)) return false;
  }
  return true;
}

void ReplicaManager::ApplyState(const PartitionRecord& rec, const ClusterView& view) {
  TopicPartition tp{rec.topic, rec.partition};
  std::shared_ptr<Partition> p = partitions_->Get(rec.topic, rec.partition);
  if (p == nullptr) return;
  const int32_t leader = rec.state.leader;
  const BrokerInfo* leader_info = view.Find(leader);
  if (!rec.unreadable && Contains(rec.replicas, options_.self) && leader == options_.self &&
      SessionAlive()) {
    return BecomeLeader(rec, std::move(p));
  }
  if (!rec.unreadable && Contains(rec.replicas, options_.self) && leader_info != nullptr) {
    return BecomeFollower(rec, std::move(p), *leader_info);
  }
  Done done;
  ResignLeadership(tp, done);
  Finish(done);
  StopFollowing(tp);
  if (p->role() != Partition::Role::kNone || p->leader_id() != leader) {
    p->SetRole(Partition::Role::kNone, LeaderEpoch(rec.state.leader_epoch), leader);
    if (role_listener_) role_listener_(tp, Partition::Role::kNone);
  }
}

bool ReplicaManager::RefreshLeadership(const PartitionRecord& rec, const Partition* p) {
  Done done;
  bool same = false;
  std::shared_ptr<Partition> wake;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find({rec.topic, rec.partition});
    same = it != led_.end() && it->second.epoch == rec.state.leader_epoch &&
           it->second.partition.get() == p;
    // The controller may have changed the ISR (a dead follower left it).
    if (same && rec.mod_revision > it->second.mod_revision) {
      Led& led = it->second;
      led.state = rec.state;
      led.mod_revision = rec.mod_revision;
      led.replication.SetIsr(rec.state.isr);
      if (AdvanceLocked(led, done)) wake = led.partition;
    }
  }
  Finish(done);
  if (wake) wake->WakeWaiters();
  return same;
}

void ReplicaManager::BecomeLeader(const PartitionRecord& rec, std::shared_ptr<Partition> p) {
  TopicPartition tp{rec.topic, rec.partition};
  if (RefreshLeadership(rec, p.get())) return;
  // A new leadership. Out of service until it is set up, so that no append (as leader of an
  // older epoch, or as follower) lands between the log end read below and the new role.
  if (p->role() != Partition::Role::kNone) {
    p->SetRole(Partition::Role::kNone, p->leader_epoch(), p->leader_id());
  }
  Done done;
  ResignLeadership(tp, done);
  Finish(done);
  StopFollowing(tp);
  Log& log = p->log();
  log.set_high_watermark_follows_end(false);
  const Offset end = log.log_end_offset();
  if (absl::Status s = log.leader_epochs().Assign(LeaderEpoch(rec.state.leader_epoch), end);
      !s.ok()) {
    LOG_EVENT(Error, "replicas.epoch_assign_failed")
        .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
        .Kv("error", s.ToString());
    return;  // stays out of service; the next sync tries again
  }
  {
    absl::MutexLock lock(&mu_);
    LeaderReplicaState::Init init{.self = options_.self,
                                  .replicas = rec.replicas,
                                  .isr = rec.state.isr,
                                  .leader_end = end,
                                  .high_watermark = std::min(log.high_watermark(), end),
                                  .epoch_start = end};
    led_.erase(tp);
    auto [it, inserted] = led_.emplace(tp, Led{.partition = p,
                                               .epoch = rec.state.leader_epoch,
                                               .replicas = rec.replicas,
                                               .state = rec.state,
                                               .mod_revision = rec.mod_revision,
                                               .replication = LeaderReplicaState(init, NowMs()),
                                               .waits = {}});
    (void)inserted;
    p->set_append_listener(this);
    AdvanceLocked(it->second, done);
  }
  // Not under mu_: an append holds the role lock while it reports to OnLeaderAppend (mu_).
  p->SetRole(Partition::Role::kLeader, LeaderEpoch(rec.state.leader_epoch), options_.self);
  Finish(done);
  p->WakeWaiters();
  LOG_EVENT(Info, "replicas.became_leader")
      .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
      .Kv("epoch", rec.state.leader_epoch)
      .Kv("log_end", end.value())
      .Kv("isr", absl::StrJoin(rec.state.isr, ","));
  if (role_listener_) role_listener_(tp, Partition::Role::kLeader);
}

void ReplicaManager::BecomeFollower(const PartitionRecord& rec, std::shared_ptr<Partition> p,
                                    const BrokerInfo& leader) {
  TopicPartition tp{rec.topic, rec.partition};
  Done done;
  const bool was_leader = p->is_leader();
  ResignLeadership(tp, done);
  Finish(done);
  const std::string address = absl::StrCat(leader.host, ":", leader.port);
  if (leaving_) {
    p->SetRole(Partition::Role::kFollower, LeaderEpoch(rec.state.leader_epoch), leader.id);
    if (was_leader && role_listener_) role_listener_(tp, Partition::Role::kFollower);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = followed_.find(tp);
    if (it != followed_.end() && it->second.leader == leader.id &&
        it->second.epoch == rec.state.leader_epoch && it->second.address == address &&
        it->second.partition == p) {
      return;
    }
  }
  StopFollowing(tp);
  auto& fetcher = fetchers_[leader.id];
  if (fetcher != nullptr && fetcher_address_[leader.id] != address) {
    // The leader came back on another address: its old fetcher's partitions re-add on the next
    // sync (their followed_ entries go).
    fetcher->Stop();
    fetcher.reset();
    absl::MutexLock lock(&mu_);
    std::erase_if(followed_, [&](const auto& e) { return e.second.leader == leader.id; });
  }
  if (fetcher == nullptr) {
    ReplicaFetcher::Options o = options_.fetch;
    o.replica_id = options_.self;
    o.leader = {leader.host, leader.port};
    fetcher = std::make_unique<ReplicaFetcher>(o);
    fetcher->Start();
    fetcher_address_[leader.id] = address;
  }
  p->SetRole(Partition::Role::kFollower, LeaderEpoch(rec.state.leader_epoch), leader.id);
  fetcher->AddPartition({.topic = tp.topic,
                         .partition = tp.partition,
                         .log = p->shared_log(),
                         .leader_epoch = rec.state.leader_epoch});
  {
    absl::MutexLock lock(&mu_);
    followed_[tp] = {leader.id, rec.state.leader_epoch, address, p};
  }
  LOG_EVENT(Info, "replicas.became_follower")
      .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
      .Kv("leader", leader.id)
      .Kv("epoch", rec.state.leader_epoch)
      .Kv("log_end", p->log().log_end_offset().value());
  if (was_leader && role_listener_) role_listener_(tp, Partition::Role::kFollower);
}

void ReplicaManager::StopFollowing(const TopicPartition& tp) {
  int32_t leader = kNoLeader;
  {
    absl::MutexLock lock(&mu_);
    auto it = followed_.find(tp);
    if (it == followed_.end()) return;
    leader = it->second.leader;
    followed_.erase(it);
  }
  auto f = fetchers_.find(leader);
  if (f != fetchers_.end()) f->second->RemovePartition(tp.topic, tp.partition);
}

void ReplicaManager::RefreshSession() {
  session_until_ms_.store(membership_->SessionValidUntilMs(), std::memory_order_release);
}

void ReplicaManager::ResignAll() {
  std::vector<std::shared_ptr<Partition>> led;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [tp, l] : led_) led.push_back(l.partition);
  }
  if (led.empty()) return;
  Done done;
  for (const auto& p : led) {
    ResignLeadership(p->tp(), done);
    p->SetRole(Partition::Role::kNone, p->leader_epoch(), kNoLeader);
  }
  Finish(done);  // acks=all waits: NOT_LEADER_OR_FOLLOWER
  LOG_EVENT(Warn, "replicas.resigned_without_session")
      .Kv("partitions", led.size())
      .Kv("message",
          "this broker's session in the metadata store may have expired: it leads nothing until "
          "it has registered again and read the partition states");
  if (role_listener_) {
    for (const auto& p : led) role_listener_(p->tp(), Partition::Role::kNone);
  }
}

void ReplicaManager::ResignLeadership(const TopicPartition& tp, Done& done) {
  absl::MutexLock lock(&mu_);
  auto it = led_.find(tp);
  if (it == led_.end()) return;
  for (AckWait& w : it->second.waits) {
    done.emplace_back(std::move(w.done), protocol::ErrorCode::kNotLeaderOrFollower);
  }
  it->second.partition->set_append_listener(nullptr);
  led_.erase(it);
}

std::vector<ReplicaManager::TopicView> ReplicaManager::Topics() const {
  absl::MutexLock lock(&mu_);
  return topics_;
}

std::optional<ReplicaManager::TopicView> ReplicaManager::Topic(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const TopicView& t : topics_) {
    if (t.name == name) return t;
  }
  return std::nullopt;
}

void ReplicaManager::Finish(Done& done) {
  for (auto& [fn, code] : done) fn(code);
  done.clear();
}

}  // namespace strata::server
