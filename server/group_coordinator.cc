// GroupCoordinator: membership (Join, Sync, Heartbeat, Leave) and the rebalance state machine.
#include "server/group_coordinator.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace strata::server {

GroupCoordinator::GroupCoordinator(GroupConfig config, Clock* clock, Scheduler* scheduler,
                                   GroupStorage* storage)
    : config_(config), clock_(clock), scheduler_(scheduler), storage_(storage) {
  ScheduleExpiry();
}

GroupCoordinator::~GroupCoordinator() { scheduler_->Cancel(expiry_task_); }

void GroupCoordinator::Flush(Outbox& outbox) {
  for (auto& f : outbox) f();
  outbox.clear();
}

Group* GroupCoordinator::FindLocked(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second;
}

Group& GroupCoordinator::GetOrCreateLocked(const std::string& id) {
  auto [it, inserted] = groups_.try_emplace(id);
  if (inserted) {
    it->second.id = id;
    it->second.state_since_ms = clock_->NowMs();
  }
  return it->second;
}

bool GroupCoordinator::LoadedLocked(const std::string& group) const {
  const int32_t p = CoordinatorPartition(group, config_.num_partitions);
  return loaded_partitions_.count(p) > 0 && (!owns_ || owns_(p));
}

ErrorCode GroupCoordinator::NotLoadedLocked(const std::string& group) const {
  if (owns_ && !owns_(CoordinatorPartition(group, config_.num_partitions))) {
    return ErrorCode::kNotCoordinator;
  }
  return ErrorCode::kCoordinatorLoadInProgress;
}

bool GroupCoordinator::IsLoaded(const std::string& group) const {
  absl::MutexLock lock(&mu_);
  return LoadedLocked(group);
}

JoinResult GroupCoordinator::JoinResultLocked(const Group& g, const std::string& member_id) const {
  JoinResult r;
  r.generation = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol;
  r.leader = g.leader.value_or("");
  r.member_id = member_id;
  if (g.IsLeader(member_id)) {
    for (const auto& [id, m] : g.members) {
      const std::string* metadata = g.protocol.has_value() ? m.Metadata(*g.protocol) : nullptr;
      r.members.push_back({id, m.instance_id, metadata ? *metadata : std::string()});
    }
  }
  return r;
}

ErrorCode GroupCoordinator::ValidateJoinLocked(const JoinRequest& req, Group* group) {
  if (req.group_id.empty()) return ErrorCode::kInvalidGroupId;
  if (!LoadedLocked(req.group_id)) return NotLoadedLocked(req.group_id);
  if (req.session_timeout_ms < config_.min_session_timeout_ms ||
      req.session_timeout_ms > config_.max_session_timeout_ms) {
    return ErrorCode::kInvalidSessionTimeout;
  }
  if (group == nullptr)
    return req.member_id.empty() ? ErrorCode::kNone : ErrorCode::kUnknownMemberId;
  if (group->state == GroupState::kDead) return ErrorCode::kCoordinatorNotAvailable;
  if (!group->SupportsProtocols(req.protocol_type, req.protocols)) {
    return ErrorCode::kInconsistentGroupProtocol;
  }
  return ErrorCode::kNone;
}

void GroupCoordinator::Join(const JoinRequest& req, std::function<void(JoinResult)> done) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(req.group_id);
    ErrorCode error = ValidateJoinLocked(req, g);
    if (error == ErrorCode::kNone && g == nullptr &&
        (req.protocol_type.empty() || req.protocols.empty())) {
      error = ErrorCode::kInconsistentGroupProtocol;
    }
    LOG_EVENT(Debug, "group.join")
        .Kv("group", req.group_id)
        .Kv("member", req.member_id)
        .Kv("state", g != nullptr ? GroupStateName(g->state) : "-")
        .Kv("generation", g != nullptr ? g->generation : -1)
        .Kv("error", protocol::ErrorName(error));
    if (error != ErrorCode::kNone) {
      JoinResult r;
      r.error = error;
      r.member_id = req.member_id;
      out.push_back([done, r] { done(r); });
    } else {
      Group& group = g != nullptr ? *g : GetOrCreateLocked(req.group_id);
      if (req.member_id.empty() && req.group_instance_id.has_value() &&
          group.static_members.count(*req.group_instance_id)) {
        JoinStaticMemberLocked(group, req, std::move(done), out);
      } else if (req.member_id.empty() || group.pending_members.count(req.member_id)) {
        JoinNewMemberLocked(group, req, std::move(done), out);
      } else if (!group.Has(req.member_id)) {
        JoinResult r;
        r.error = ErrorCode::kUnknownMemberId;
        r.member_id = req.member_id;
        out.push_back([done, r] { done(r); });
      } else {
        JoinKnownMemberLocked(group, req, std::move(done), out);
      }
    }
  }
  Flush(out);
}

Member& GroupCoordinator::AddMemberLocked(Group& g, const std::string& member_id,
                                          const JoinRequest& req) {
  Member& m = g.members[member_id];
  m.id = member_id;
  m.instance_id = req.group_instance_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.protocol_type = req.protocol_type;
  m.protocols = req.protocols;
  if (g.members.size() == 1) g.protocol_type = req.protocol_type;
  if (req.group_instance_id.has_value()) g.static_members[*req.group_instance_id] = member_id;
  ScheduleSessionLocked(g, m);
  return m;
}

void GroupCoordinator::JoinNewMemberLocked(Group& g, const JoinRequest& req,
                                           std::function<void(JoinResult)> done, Outbox& out) {
  std::string id = req.member_id;
  if (id.empty()) {
    if (g.members.size() + g.pending_members.size() >= static_cast<size_t>(config_.max_size)) {
      JoinResult r;
      r.error = ErrorCode::kGroupMaxSizeReached;
      out.push_back([done, r] { done(r); });
      return;
    }
    static thread_local std::mt19937_64 rng(std::random_device{}());
    id = absl::StrFormat("%s-%08x-%016x", req.client_id, ++member_counter_, rng());
    if (req.require_known_member_id && !req.group_instance_id.has_value()) {
      // KIP-394: hand out the id first; the member joins again with it.
      g.pending_members.insert(id);
      std::string gid = g.id;
      scheduler_->Schedule(req.session_timeout_ms, [this, gid, id] {
        Outbox o;
        {
          absl::MutexLock lock(&mu_);
          Group* grp = FindLocked(gid);
          if (grp != nullptr && grp->pending_members.erase(id) > 0)
            MaybeCompleteJoinLocked(*grp, o);
        }
        Flush(o);
      });
      JoinResult r;
      r.error = ErrorCode::kMemberIdRequired;
      r.member_id = id;
      out.push_back([done, r] { done(r); });
      return;
    }
  }
  g.pending_members.erase(id);
  Member& m = AddMemberLocked(g, id, req);
  m.awaiting_join = std::move(done);
  LOG_EVENT(Debug, "group.member_joined").Kv("group", g.id).Kv("member", id);
  if (g.state == GroupState::kPreparingRebalance) {
    MaybeCompleteJoinLocked(g, out);
  } else {
    PrepareRebalanceLocked(g, "member joined", out);
  }
}

void GroupCoordinator::JoinKnownMemberLocked(Group& g, const JoinRequest& req,
                                             std::function<void(JoinResult)> done, Outbox& out) {
  Member& m = g.members[req.member_id];
  if (req.group_instance_id.has_value() && m.instance_id != req.group_instance_id) {
    JoinResult r;
    r.error = ErrorCode::kFencedInstanceId;
    r.member_id = req.member_id;
    out.push_back([done, r] { done(r); });
    return;
  }
  bool changed = m.protocols != req.protocols;
  m.protocols = req.protocols;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  ScheduleSessionLocked(g, m);
  bool unchanged_stable = g.state == GroupState::kStable && !changed && !g.IsLeader(m.id);
  bool unchanged_completing = g.state == GroupState::kCompletingRebalance && !changed;
  if (unchanged_stable || unchanged_completing) {
    JoinResult r = JoinResultLocked(g, m.id);
    out.push_back([done, r] { done(r); });
    return;
  }
  if (m.awaiting_join) {
    JoinResult superseded;
    superseded.error = ErrorCode::kUnknownMemberId;  // an older join of the same member
    out.push_back([cb = std::move(m.awaiting_join), superseded] { cb(superseded); });
  }
  m.awaiting_join = std::move(done);
  if (g.state == GroupState::kPreparingRebalance) {
    MaybeCompleteJoinLocked(g, out);
  } else {
    PrepareRebalanceLocked(g, changed ? "member metadata changed" : "leader rejoined", out);
  }
}

// A static member (group.instance.id) rejoining with an empty member id: it takes over its old
// membership under a new id; in a Stable group whose protocol does not change, no rebalance.
void GroupCoordinator::JoinStaticMemberLocked(Group& g, const JoinRequest& req,
                                              std::function<void(JoinResult)> done, Outbox& out) {
  std::string old_id = g.static_members[*req.group_instance_id];
  Member old = std::move(g.members[old_id]);
  g.members.erase(old_id);
  scheduler_->Cancel(old.session_task);
  for (auto* cb : {&old.awaiting_join}) {
    if (*cb) {
      JoinResult fenced;
      fenced.error = ErrorCode::kFencedInstanceId;
      out.push_back([f = std::move(*cb), fenced] { f(fenced); });
    }
  }
  if (old.awaiting_sync) {
    SyncResult fenced;
    fenced.error = ErrorCode::kFencedInstanceId;
    out.push_back([f = std::move(old.awaiting_sync), fenced] { f(fenced); });
  }
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string id = absl::StrFormat("%s-%08x-%016x", req.client_id, ++member_counter_, rng());
  Member& m = AddMemberLocked(g, id, req);
  m.assignment = old.assignment;
  if (g.leader == old_id) g.leader = id;
  bool same_protocol = g.protocol.has_value() && g.SelectProtocol() == g.protocol;
  if (g.state == GroupState::kStable && same_protocol) {
    JoinResult r = JoinResultLocked(g, id);
    r.skip_assignment = g.IsLeader(id);
    GroupValue value = g.ToValue(clock_->NowMs());
    std::string gid = g.id;
    out.push_back([this, gid, value, done, r] {
      storage_->Append(gid, {{EncodeKey(GroupKey{gid}), EncodeGroupValue(value)}},
                       [done, r](absl::Status s) {
                         JoinResult result = r;
                         if (!s.ok()) result.error = ErrorCode::kCoordinatorNotAvailable;
                         done(result);
                       });
    });
    return;
  }
  m.awaiting_join = std::move(done);
  if (g.state == GroupState::kPreparingRebalance) {
    MaybeCompleteJoinLocked(g, out);
  } else {
    PrepareRebalanceLocked(g, "static member rejoined", out);
  }
}

void GroupCoordinator::FailSyncsLocked(Group& g, ErrorCode error, Outbox& out) {
  for (auto& [id, m] : g.members) {
    if (!m.awaiting_sync) continue;
    SyncResult r;
    r.error = error;
    out.push_back([cb = std::move(m.awaiting_sync), r] { cb(r); });
    m.awaiting_sync = nullptr;
  }
}

void GroupCoordinator::PrepareRebalanceLocked(Group& g, const char* reason, Outbox& out) {
  if (g.state == GroupState::kCompletingRebalance) {
    FailSyncsLocked(g, ErrorCode::kRebalanceInProgress, out);
  }
  bool initial = g.state == GroupState::kEmpty;
  g.state = GroupState::kPreparingRebalance;
  g.state_since_ms = clock_->NowMs();
  g.rebalance_started_ms = clock_->MonotonicMs();
  g.initial_rebalance = initial && config_.initial_rebalance_delay_ms > 0;
  g.members_at_delay = g.members.size();
  scheduler_->Cancel(g.join_task);
  int64_t delay = g.initial_rebalance ? std::min<int64_t>(config_.initial_rebalance_delay_ms,
                                                          g.MaxRebalanceTimeoutMs())
                                      : g.MaxRebalanceTimeoutMs();
  std::string gid = g.id;
  int32_t generation = g.generation;
  g.join_task =
      scheduler_->Schedule(delay, [this, gid, generation] { OnJoinDeadline(gid, generation); });
  LOG_EVENT(Info, "group.rebalance")
      .Kv("group", g.id)
      .Kv("generation", g.generation)
      .Kv("members", g.members.size())
      .Kv("reason", reason);
  MaybeCompleteJoinLocked(g, out);
}

void GroupCoordinator::MaybeCompleteJoinLocked(Group& g, Outbox& out) {
  if (g.state != GroupState::kPreparingRebalance || g.initial_rebalance) return;
  if (g.AllMembersJoined()) CompleteJoinLocked(g, out);
}

void GroupCoordinator::OnJoinDeadline(const std::string& group_id, int32_t generation) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    if (g == nullptr || g->state != GroupState::kPreparingRebalance ||
        g->generation != generation) {
      return;
    }
    int64_t elapsed = clock_->MonotonicMs() - g->rebalance_started_ms;
    int64_t remaining = g->MaxRebalanceTimeoutMs() - elapsed;
    if (g->initial_rebalance && g->members.size() > g->members_at_delay && remaining > 0) {
      // Members kept arriving during the initial delay: wait a little longer (Kafka's
      // InitialDelayedJoin), within the rebalance timeout.
      g->members_at_delay = g->members.size();
      int64_t delay = std::min<int64_t>(config_.initial_rebalance_delay_ms, remaining);
      g->join_task = scheduler_->Schedule(
          delay, [this, group_id, generation] { OnJoinDeadline(group_id, generation); });
      return;
    }
    g->initial_rebalance = false;
    // Members that did not rejoin in time leave the group.
    std::vector<std::string> missing;
    for (const auto& [id, m] : g->members) {
      if (!m.awaiting_join) missing.push_back(id);
    }
    g->pending_members.clear();
    for (const std::string& id : missing) RemoveMemberLocked(*g, id, "did not rejoin in time", out);
    if (g->state == GroupState::kPreparingRebalance) CompleteJoinLocked(*g, out);
  }
  Flush(out);
}

void GroupCoordinator::CompleteJoinLocked(Group& g, Outbox& out) {
  scheduler_->Cancel(g.join_task);
  g.join_task = 0;
  g.initial_rebalance = false;
  ++g.generation;
  g.state_since_ms = clock_->NowMs();
  if (g.members.empty()) {
    g.state = GroupState::kEmpty;
    g.protocol.reset();
    g.leader.reset();
    GroupValue value = g.ToValue(clock_->NowMs());
    std::string gid = g.id;
    out.push_back([this, gid, value] {
      storage_->Append(gid, {{EncodeKey(GroupKey{gid}), EncodeGroupValue(value)}},
                       [](absl::Status) {});
    });
    return;
  }
  g.protocol = g.SelectProtocol();
  if (!g.leader.has_value() || !g.Has(*g.leader)) g.leader = g.members.begin()->first;
  g.state = GroupState::kCompletingRebalance;
  LOG_EVENT(Info, "group.generation")
      .Kv("group", g.id)
      .Kv("generation", g.generation)
      .Kv("protocol", g.protocol.value_or(""))
      .Kv("leader", *g.leader)
      .Kv("members", g.members.size());
  for (auto& [id, m] : g.members) {
    ScheduleSessionLocked(g, m);
    if (!m.awaiting_join) continue;
    JoinResult r = JoinResultLocked(g, id);
    out.push_back([cb = std::move(m.awaiting_join), r] { cb(r); });
    m.awaiting_join = nullptr;
  }
}

void GroupCoordinator::ScheduleSessionLocked(Group& g, Member& m) {
  scheduler_->Cancel(m.session_task);
  m.last_heartbeat_ms = clock_->MonotonicMs();
  std::string gid = g.id, mid = m.id;
  m.session_task =
      scheduler_->Schedule(m.session_timeout_ms, [this, gid, mid] { OnSessionTimeout(gid, mid); });
}

void GroupCoordinator::OnSessionTimeout(const std::string& group_id, const std::string& member_id) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    if (g == nullptr || !g->Has(member_id)) return;
    Member& m = g->members[member_id];
    if (m.awaiting_join || m.awaiting_sync) {
      ScheduleSessionLocked(*g, m);  // a member waiting on us is alive
      return;
    }
    if (clock_->MonotonicMs() - m.last_heartbeat_ms < m.session_timeout_ms) return;
    LOG_EVENT(Info, "group.session_expired").Kv("group", group_id).Kv("member", member_id);
    RemoveMemberLocked(*g, member_id, "session timeout", out);
  }
  Flush(out);
}

void GroupCoordinator::RemoveMemberLocked(Group& g, const std::string& member_id,
                                          const char* reason, Outbox& out) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = it->second;
  scheduler_->Cancel(m.session_task);
  if (m.awaiting_join) {
    JoinResult r;
    r.error = ErrorCode::kUnknownMemberId;
    out.push_back([cb = std::move(m.awaiting_join), r] { cb(r); });
  }
  if (m.awaiting_sync) {
    SyncResult r;
    r.error = ErrorCode::kUnknownMemberId;
    out.push_back([cb = std::move(m.awaiting_sync), r] { cb(r); });
  }
  if (m.instance_id.has_value()) g.static_members.erase(*m.instance_id);
  g.members.erase(it);
  if (g.leader == member_id) g.leader.reset();
  if (g.state == GroupState::kStable || g.state == GroupState::kCompletingRebalance) {
    PrepareRebalanceLocked(g, reason, out);
  } else if (g.state == GroupState::kPreparingRebalance) {
    MaybeCompleteJoinLocked(g, out);
  }
}

void GroupCoordinator::Sync(const SyncRequest& req, std::function<void(SyncResult)> done) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(req.group_id);
    ErrorCode error = ErrorCode::kNone;
    if (req.group_id.empty())
      error = ErrorCode::kInvalidGroupId;
    else if (!LoadedLocked(req.group_id))
      error = NotLoadedLocked(req.group_id);
    else if (g == nullptr || !g->Has(req.member_id))
      error = ErrorCode::kUnknownMemberId;
    else if (req.group_instance_id.has_value() &&
             g->members[req.member_id].instance_id != req.group_instance_id) {
      error = ErrorCode::kFencedInstanceId;
    } else if (req.generation != g->generation)
      error = ErrorCode::kIllegalGeneration;
    else if ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
             (req.protocol_name && req.protocol_name != g->protocol)) {
      error = ErrorCode::kInconsistentGroupProtocol;
    } else if (g->state == GroupState::kPreparingRebalance)
      error = ErrorCode::kRebalanceInProgress;
    else if (g->state == GroupState::kEmpty || g->state == GroupState::kDead) {
      error = ErrorCode::kUnknownMemberId;
    }
    LOG_EVENT(Debug, "group.sync")
        .Kv("group", req.group_id)
        .Kv("member", req.member_id)
        .Kv("generation", req.generation)
        .Kv("state", g != nullptr ? GroupStateName(g->state) : "-")
        .Kv("error", protocol::ErrorName(error));
    if (error != ErrorCode::kNone) {
      SyncResult r;
      r.error = error;
      out.push_back([done, r] { done(r); });
    } else if (g->state == GroupState::kStable) {
      Member& m = g->members[req.member_id];
      ScheduleSessionLocked(*g, m);
      SyncResult r{ErrorCode::kNone, g->protocol_type, g->protocol, m.assignment};
      out.push_back([done, r] { done(r); });
    } else {  // CompletingRebalance
      Member& m = g->members[req.member_id];
      ScheduleSessionLocked(*g, m);
      m.awaiting_sync = std::move(done);
      if (g->IsLeader(req.member_id) && !g->persisting) {
        std::map<std::string, std::string> assignments(req.assignments.begin(),
                                                       req.assignments.end());
        PersistAssignmentLocked(*g, std::move(assignments), out);
      }
    }
  }
  Flush(out);
}

void GroupCoordinator::PersistAssignmentLocked(Group& g,
                                               std::map<std::string, std::string> assignments,
                                               Outbox& out) {
  g.persisting = true;
  for (auto& [id, m] : g.members) {
    auto it = assignments.find(id);
    m.assignment = it == assignments.end() ? std::string() : it->second;
  }
  GroupValue value = g.ToValue(clock_->NowMs());
  std::string gid = g.id;
  int32_t generation = g.generation;
  out.push_back([this, gid, generation, value] {
    storage_->Append(
        gid, {{EncodeKey(GroupKey{gid}), EncodeGroupValue(value)}},
        [this, gid, generation](absl::Status s) {
          Outbox o;
          {
            absl::MutexLock lock(&mu_);
            Group* grp = FindLocked(gid);
            if (grp == nullptr) return;
            grp->persisting = false;
            if (grp->generation != generation || grp->state != GroupState::kCompletingRebalance)
              return;
            if (!s.ok()) {
              FailSyncsLocked(*grp, ErrorCode::kCoordinatorNotAvailable, o);
              PrepareRebalanceLocked(*grp, "failed to store the assignment", o);
            } else {
              grp->state = GroupState::kStable;
              grp->state_since_ms = clock_->NowMs();
              for (auto& [id, m] : grp->members) {
                if (!m.awaiting_sync) continue;
                SyncResult r{ErrorCode::kNone, grp->protocol_type, grp->protocol, m.assignment};
                o.push_back([cb = std::move(m.awaiting_sync), r] { cb(r); });
                m.awaiting_sync = nullptr;
              }
            }
          }
          Flush(o);
        });
  });
}

ErrorCode GroupCoordinator::Heartbeat(const std::string& group_id, int32_t generation,
                                      const std::string& member_id,
                                      const std::optional<std::string>& group_instance_id) {
  absl::MutexLock lock(&mu_);
  if (group_id.empty()) return ErrorCode::kInvalidGroupId;
  if (!LoadedLocked(group_id)) return NotLoadedLocked(group_id);
  Group* g = FindLocked(group_id);
  if (g == nullptr || !g->Has(member_id)) return ErrorCode::kUnknownMemberId;
  Member& m = g->members[member_id];
  if (group_instance_id.has_value() && m.instance_id != group_instance_id) {
    return ErrorCode::kFencedInstanceId;
  }
  if (generation != g->generation) return ErrorCode::kIllegalGeneration;
  switch (g->state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return ErrorCode::kUnknownMemberId;
    case GroupState::kPreparingRebalance:
      ScheduleSessionLocked(*g, m);
      return ErrorCode::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      ScheduleSessionLocked(*g, m);
      return ErrorCode::kNone;
  }
  return ErrorCode::kNone;
}

std::pair<ErrorCode, std::vector<ErrorCode>> GroupCoordinator::Leave(
    const std::string& group_id, const std::vector<MemberRef>& members) {
  Outbox out;
  std::pair<ErrorCode, std::vector<ErrorCode>> result{ErrorCode::kNone, {}};
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    if (group_id.empty())
      result.first = ErrorCode::kInvalidGroupId;
    else if (!LoadedLocked(group_id))
      result.first = NotLoadedLocked(group_id);
    else if (g == nullptr)
      result.first = ErrorCode::kUnknownMemberId;
    for (const MemberRef& ref : members) {
      if (result.first != ErrorCode::kNone) {
        result.second.push_back(result.first);
        continue;
      }
      std::string id = ref.member_id;
      if (id.empty() && ref.group_instance_id.has_value()) {
        auto it = g->static_members.find(*ref.group_instance_id);
        if (it != g->static_members.end()) id = it->second;
      }
      ErrorCode e = ErrorCode::kNone;
      if (!g->Has(id))
        e = ErrorCode::kUnknownMemberId;
      else if (ref.group_instance_id.has_value() &&
               g->members[id].instance_id != ref.group_instance_id) {
        e = ErrorCode::kFencedInstanceId;
      } else {
        RemoveMemberLocked(*g, id, "member left", out);
      }
      result.second.push_back(e);
    }
  }
  Flush(out);
  return result;
}

}  // namespace strata::server
