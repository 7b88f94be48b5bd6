// Controller (replication/controller.h): leader election and ISR upkeep over the store.
#include "replication/controller.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/log_config.h"

namespace strata {
namespace {

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// `isr` restricted to `alive`, with `leader` first.
std::vector<int32_t> LiveIsr(const std::vector<int32_t>& isr, const std::vector<int32_t>& alive,
                             int32_t leader) {
  std::vector<int32_t> out;
  if (leader != kNoLeader) out.push_back(leader);
  for (int32_t r : isr) {
    if (r != leader && Contains(alive, r)) out.push_back(r);
  }
  return out;
}

// Writes `next` over `rec` with compare-and-set; false when another writer got there first.
absl::StatusOr<bool> WriteState(MetadataStore* store, const std::string& root,
                                const PartitionRecord& rec, const PartitionState& next,
                                const char* why) {
  ASSIGN_OR_RETURN(CasResult r, store->CompareAndSet(PartitionKey(root, rec.topic, rec.partition),
                                                     rec.mod_revision, EncodePartitionState(next)));
  if (!r.applied) return false;
  LOG_EVENT(Info, "controller.partition_changed")
      .Kv("partition", absl::StrCat(rec.topic, "-", rec.partition))
      .Kv("why", why)
      .Kv("leader", absl::StrCat(rec.state.leader, "->", next.leader))
      .Kv("leader_epoch", next.leader_epoch)
      .Kv("isr", absl::StrJoin(next.isr, ","));
  return true;
}

// unclean.leader.election.enable of each topic: its override, else the broker's default.
std::map<std::string, bool> UncleanElection(const std::vector<TopicRecord>& topics,
                                            bool default_value) {
  std::map<std::string, bool> out;
  for (const TopicRecord& t : topics) {
    LogConfig config;
    config.unclean_leader_election = default_value;
    auto it = t.assignment.configs.find("unclean.leader.election.enable");
    // Validated when the topic was created or altered; a bad value keeps the default.
    if (it != t.assignment.configs.end()) (void)config.Set(it->first, it->second);
    out[t.name] = config.unclean_leader_election;
  }
  return out;
}

}  // namespace

Controller::Controller(MetadataStore* store, ClusterMembership* membership, Options options)
    : store_(store), membership_(membership), options_(std::move(options)) {}

Controller::~Controller() { Stop(); }

PartitionState Controller::Next(const PartitionRecord& rec, const std::vector<int32_t>& alive,
                                bool unclean) const {
  PartitionState next = rec.state;
  if (rec.state.leader != kNoLeader && Contains(alive, rec.state.leader)) {
    next.isr = LiveIsr(rec.state.isr, alive, rec.state.leader);
    return next;
  }
  std::optional<int32_t> leader = ChooseLeader(rec, alive, unclean);
  if (!leader.has_value()) {
    // Offline. The ISR stays: its members are the ones that may lead again without loss.
    if (rec.state.leader != kNoLeader) {
      next.leader = kNoLeader;
      next.leader_epoch = rec.state.leader_epoch + 1;
    }
    return next;
  }
  next.leader = *leader;
  next.leader_epoch = rec.state.leader_epoch + 1;
  next.isr = Contains(rec.state.isr, *leader) ? LiveIsr(rec.state.isr, alive, *leader)
                                              : std::vector<int32_t>{*leader};  // unclean
  return next;
}

absl::StatusOr<ControllerPass> Controller::Reconcile() {
  ControllerPass pass;
  if (!membership_->IsController()) return pass;
  absl::MutexLock pass_lock(&pass_mu_);
  ASSIGN_OR_RETURN(std::vector<TopicRecord> topics, ReadTopics(store_, options_.root));
  const std::map<std::string, bool> unclean =
      UncleanElection(topics, options_.unclean_leader_election);
  // Partitions first, then the brokers: every broker a state names registered before that
  // state was written, so it is in the (newer) broker read unless it died since.
  ASSIGN_OR_RETURN(std::vector<PartitionRecord> records,
                   ReadPartitionStates(store_, options_.root));
  ASSIGN_OR_RETURN(ClusterView view, ReadClusterView(store_, options_.root));
  if (view.controller_id != membership_->id()) return pass;  // deposed meanwhile
  pass.active = true;
  // A broker that re-registered since the last pass restarted: for this pass it is dead (it
  // loses leadership and leaves ISRs, with the epoch bumped); the next pass sees it alive.
  std::vector<int32_t> alive;
  for (const auto& [id, revision] : view.registered_at) {
    auto seen = seen_registrations_.find(id);
    if (seen == seen_registrations_.end() || seen->second == revision) alive.push_back(id);
  }
  for (const PartitionRecord& rec : records) {
    ++pass.partitions;
    if (rec.unreadable) continue;
    if (rec.mod_revision == 0) {
      // The topic's creation stopped between its assignment and this state: finish it.
      ASSIGN_OR_RETURN(bool created, CreateMissingState(rec, view.controller_epoch));
      pass.conflicts += !created;
      continue;
    }
    auto topic_unclean = unclean.find(rec.topic);
    PartitionState next = Next(
        rec, alive,
        topic_unclean != unclean.end() ? topic_unclean->second : options_.unclean_leader_election);
    if (next.leader == kNoLeader) ++pass.offline;
    if (next == rec.state) continue;
    next.controller_epoch = view.controller_epoch;
    const bool leader_changed = next.leader != rec.state.leader;
    ASSIGN_OR_RETURN(bool applied, WriteState(store_, options_.root, rec, next,
                                              leader_changed ? "leader gone" : "replica gone"));
    if (!applied) {
      ++pass.conflicts;
    } else if (leader_changed) {
      ++pass.leaders_changed;
    } else {
      ++pass.isr_changed;
    }
  }
  seen_registrations_ = view.registered_at;
  return pass;
}

absl::StatusOr<bool> Controller::CreateMissingState(const PartitionRecord& rec,
                                                    int64_t controller_epoch) {
  if (rec.replicas.empty()) return true;
  PartitionState s{.leader = rec.replicas.front(),
                   .leader_epoch = 0,
                   .isr = rec.replicas,
                   .controller_epoch = controller_epoch};
  ASSIGN_OR_RETURN(CasResult r,
                   store_->CompareAndSet(PartitionKey(options_.root, rec.topic, rec.partition), 0,
                                         EncodePartitionState(s)));
  if (r.applied) {
    LOG_EVENT(Warn, "controller.state_created")
        .Kv("partition", absl::StrCat(rec.topic, "-", rec.partition))
        .Kv("leader", s.leader);
  }
  return r.applied;
}

absl::Status Controller::Start() {
  auto wake = [this](const WatchResponse&) {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  };
  ASSIGN_OR_RETURN(watch_, store_->Watch(options_.root, 0, wake));
  listener_ = membership_->AddListener([this](const ClusterView&) {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  });
  {
    absl::MutexLock lock(&mu_);
    wake_ = true;  // a first pass at once
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Controller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watch_.reset();
  if (listener_ >= 0) membership_->RemoveListener(listener_);
  listener_ = -1;
  if (thread_.joinable()) thread_.join();
}

void Controller::Run() {
  // Passes are cheap (a couple of prefix reads); a failed one retries after this long, and a
  // pass runs at least this often without events (a safety net).
  constexpr int64_t kRetryMs = 1'000;
  constexpr int64_t kIdlePassMs = 30'000;
  bool retry = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready),
                           absl::Milliseconds(retry ? kRetryMs : kIdlePassMs));
      if (stopping_) return;
      wake_ = false;
    }
    auto pass = Reconcile();
    retry = !pass.ok() || pass->conflicts > 0;
    if (!pass.ok()) {
      LOG_EVENT(Warn, "controller.pass_failed").Kv("error", pass.status().ToString());
    } else if (pass->leaders_changed + pass->isr_changed > 0) {
      LOG_EVENT(Info, "controller.pass")
          .Kv("partitions", pass->partitions)
          .Kv("leaders_changed", pass->leaders_changed)
          .Kv("isr_changed", pass->isr_changed)
          .Kv("offline", pass->offline)
          .Kv("conflicts", pass->conflicts);
    }
  }
}

absl::StatusOr<int> MoveLeadershipAway(MetadataStore* store, const std::string& root,
                                       int32_t broker_id, const std::vector<int32_t>& alive,
                                       int64_t controller_epoch) {
  std::vector<int32_t> others;
  for (int32_t id : alive) {
    if (id != broker_id) others.push_back(id);
  }
  int moved = 0;
  // A conflict means the state moved under us (the controller, a leader): re-read and retry.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(std::vector<PartitionRecord> records, ReadPartitionStates(store, root));
    bool conflict = false;
    for (const PartitionRecord& rec : records) {
      if (rec.mod_revision == 0 || !Contains(rec.state.isr, broker_id)) continue;
      PartitionState next = rec.state;
      if (rec.state.leader == broker_id) {
        PartitionRecord without = rec;
        std::optional<int32_t> leader = ChooseLeader(without, others, false);
        if (!leader.has_value()) continue;  // the only in-sync replica keeps leading
        next.leader = *leader;
        next.leader_epoch = rec.state.leader_epoch + 1;
      }
      next.isr = LiveIsr(rec.state.isr, others, next.leader);
      if (next == rec.state) continue;
      next.controller_epoch = controller_epoch;
      ASSIGN_OR_RETURN(bool applied, WriteState(store, root, rec, next, "controlled shutdown"));
      conflict |= !applied;
      moved += applied && next.leader != rec.state.leader;
    }
    if (!conflict) return moved;
  }
  return absl::AbortedError(
      absl::StrCat("controlled shutdown: partition states kept changing "
                   "under it; ",
                   moved, " leaderships moved"));
}

PartitionHealth HealthOf(const std::vector<PartitionRecord>& records,
                         const std::vector<int32_t>& alive) {
  PartitionHealth h;
  for (const PartitionRecord& rec : records) {
    ++h.partitions;
    if (rec.state.leader == kNoLeader || !Contains(alive, rec.state.leader)) ++h.offline;
    if (rec.state.isr.size() < rec.replicas.size()) ++h.under_replicated;
  }
  return h;
}

}  // namespace strata
