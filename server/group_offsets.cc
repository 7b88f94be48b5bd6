// GroupCoordinator: committed offsets, administration, expiry and loading.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/group_coordinator.h"

namespace strata::server {

namespace {

// Who may commit: a "simple" consumer (no generation) while the group has no members, or a
// member of the current generation outside of CompletingRebalance.
ErrorCode CheckCommitter(Group* g, int32_t generation, const std::string& member_id,
                         const std::optional<std::string>& instance_id) {
  if (g == nullptr) return generation < 0 ? ErrorCode::kNone : ErrorCode::kIllegalGeneration;
  if (g->state == GroupState::kDead) return ErrorCode::kCoordinatorNotAvailable;
  if (generation < 0 && g->state == GroupState::kEmpty) return ErrorCode::kNone;
  if (instance_id.has_value()) {
    auto it = g->static_members.find(*instance_id);
    if (it != g->static_members.end() && it->second != member_id)
      return ErrorCode::kFencedInstanceId;
  }
  if (g->state == GroupState::kCompletingRebalance) return ErrorCode::kRebalanceInProgress;
  if (!g->Has(member_id)) return ErrorCode::kUnknownMemberId;
  if (generation != g->generation) return ErrorCode::kIllegalGeneration;
  return ErrorCode::kNone;
}

}  // namespace

// Runs in log order (storage callbacks run in append order), so memory stays what a replay of
// the log builds: a group deleted after this commit was decided but before it was written comes
// back with these offsets, exactly as a replay would bring it back.
void GroupCoordinator::ApplyCommit(const std::string& group_id,
                                   const std::vector<OffsetCommitEntry>& entries, int64_t now,
                                   const absl::Status& written, std::vector<ErrorCode>& errors) {
  absl::MutexLock lock(&mu_);
  Group* g = written.ok() ? &GetOrCreateLocked(group_id) : nullptr;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (errors[i] != ErrorCode::kNone) continue;
    if (g == nullptr) {
      errors[i] = ErrorCode::kCoordinatorNotAvailable;
      continue;
    }
    const OffsetCommitEntry& e = entries[i];
    g->offsets[{e.topic, e.partition}] = {e.offset, e.leader_epoch, e.metadata.value_or(""), now};
  }
}

void GroupCoordinator::CommitOffsets(const std::string& group_id, int32_t generation,
                                     const std::string& member_id,
                                     const std::optional<std::string>& group_instance_id,
                                     std::vector<OffsetCommitEntry> entries,
                                     std::function<void(ErrorCode, std::vector<ErrorCode>)> done) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    ErrorCode error = group_id.empty() ? ErrorCode::kInvalidGroupId
                      : !LoadedLocked(group_id)
                          ? NotLoadedLocked(group_id)
                          : CheckCommitter(g, generation, member_id, group_instance_id);
    if (error != ErrorCode::kNone) {
      out.push_back(
          [done, error, n = entries.size()] { done(error, std::vector<ErrorCode>(n, error)); });
    } else {
      Group& group = g != nullptr ? *g : GetOrCreateLocked(group_id);
      if (group.Has(member_id)) ScheduleSessionLocked(group, group.members[member_id]);
      std::vector<ErrorCode> errors;
      GroupStorage::RecordList records;
      int64_t now = clock_->NowMs();
      for (const auto& e : entries) {
        bool too_big = e.metadata.has_value() &&
                       e.metadata->size() > static_cast<size_t>(config_.offset_metadata_max_bytes);
        errors.push_back(too_big ? ErrorCode::kOffsetMetadataTooLarge : ErrorCode::kNone);
        if (too_big) continue;
        records.push_back(
            {EncodeKey(OffsetKey{group_id, e.topic, e.partition}),
             EncodeOffsetValue({e.offset, e.leader_epoch, e.metadata.value_or(""), now, -1})});
      }
      out.push_back([this, group_id, entries = std::move(entries), errors,
                     records = std::move(records), done, now]() mutable {
        storage_->Append(group_id, std::move(records),
                         [this, group_id, entries, errors, done, now](absl::Status s) mutable {
                           ApplyCommit(group_id, entries, now, s, errors);
                           done(ErrorCode::kNone, errors);
                         });
      });
    }
  }
  Flush(out);
}

std::pair<ErrorCode, std::vector<OffsetFetchEntry>> GroupCoordinator::FetchOffsets(
    const std::string& group_id,
    const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions) {
  absl::MutexLock lock(&mu_);
  std::pair<ErrorCode, std::vector<OffsetFetchEntry>> out{ErrorCode::kNone, {}};
  if (group_id.empty()) {
    out.first = ErrorCode::kInvalidGroupId;
    return out;
  }
  if (!LoadedLocked(group_id)) {
    out.first = NotLoadedLocked(group_id);
    return out;
  }
  Group* g = FindLocked(group_id);
  auto entry = [&](const std::string& topic, int32_t partition) {
    OffsetFetchEntry e{topic, partition};
    if (g != nullptr) {
      auto it = g->offsets.find({topic, partition});
      if (it != g->offsets.end()) {
        e.offset = it->second.offset;
        e.leader_epoch = it->second.leader_epoch;
        e.metadata = it->second.metadata;
      }
    }
    return e;
  };
  if (partitions.has_value()) {
    for (const auto& [topic, partition] : *partitions)
      out.second.push_back(entry(topic, partition));
  } else if (g != nullptr) {
    for (const auto& [key, unused] : g->offsets) out.second.push_back(entry(key.first, key.second));
  }
  return out;
}

void GroupCoordinator::DeleteOffsets(const std::string& group_id,
                                     const std::vector<std::pair<std::string, int32_t>>& partitions,
                                     std::function<void(ErrorCode, std::vector<ErrorCode>)> done) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    ErrorCode error = !LoadedLocked(group_id)                         ? NotLoadedLocked(group_id)
                      : g == nullptr || g->state == GroupState::kDead ? ErrorCode::kGroupIdNotFound
                                                                      : ErrorCode::kNone;
    std::vector<ErrorCode> errors;
    GroupStorage::RecordList records;
    std::vector<std::pair<std::string, int32_t>> removed;  // erased once written (log order)
    if (error == ErrorCode::kNone) {
      std::set<std::string> subscribed =
          g->state == GroupState::kEmpty ? std::set<std::string>() : g->SubscribedTopics();
      for (const auto& [topic, partition] : partitions) {
        if (subscribed.count(topic)) {
          errors.push_back(ErrorCode::kGroupSubscribedToTopic);
          continue;
        }
        errors.push_back(ErrorCode::kNone);
        if (g->offsets.count({topic, partition}) > 0) {
          records.push_back({EncodeKey(OffsetKey{group_id, topic, partition}), std::nullopt});
          removed.emplace_back(topic, partition);
        }
      }
    }
    out.push_back([this, group_id, error, errors, records = std::move(records), removed,
                   done]() mutable {
      if (error != ErrorCode::kNone || records.empty()) return done(error, errors);
      storage_->Append(
          group_id, std::move(records), [this, group_id, removed, done, errors](absl::Status s) {
            if (s.ok()) {
              absl::MutexLock lock(&mu_);
              if (Group* g = FindLocked(group_id)) {
                for (const auto& key : removed) g->offsets.erase(key);
              }
            }
            done(s.ok() ? ErrorCode::kNone : ErrorCode::kCoordinatorNotAvailable, errors);
          });
    });
  }
  Flush(out);
}

GroupDescription GroupCoordinator::Describe(const std::string& group_id) {
  absl::MutexLock lock(&mu_);
  GroupDescription d;
  d.group_id = group_id;
  if (!LoadedLocked(group_id)) {
    d.error = NotLoadedLocked(group_id);
    return d;
  }
  Group* g = FindLocked(group_id);
  if (g == nullptr) {
    d.state = GroupStateName(GroupState::kDead);
    return d;
  }
  d.state = GroupStateName(g->state);
  d.protocol_type = g->protocol_type;
  bool stable = g->state == GroupState::kStable;
  if (stable) d.protocol = g->protocol.value_or("");
  for (const auto& [id, m] : g->members) {
    GroupDescription::MemberInfo info{id, m.instance_id, m.client_id, m.client_host, "", ""};
    if (stable && g->protocol.has_value()) {
      if (const std::string* metadata = m.Metadata(*g->protocol)) info.metadata = *metadata;
      info.assignment = m.assignment;
    }
    d.members.push_back(std::move(info));
  }
  return d;
}

std::vector<GroupListing> GroupCoordinator::List(const std::set<std::string>& states_filter) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> filter;
  for (const auto& s : states_filter) filter.insert(absl::AsciiStrToLower(s));
  std::vector<GroupListing> out;
  for (const auto& [id, g] : groups_) {
    if (g.state == GroupState::kDead || !LoadedLocked(id)) continue;
    std::string state = GroupStateName(g.state);
    if (!filter.empty() && !filter.count(absl::AsciiStrToLower(state))) continue;
    out.push_back({id, g.protocol_type, state});
  }
  return out;
}

void GroupCoordinator::Delete(const std::string& group_id, std::function<void(ErrorCode)> done) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    Group* g = FindLocked(group_id);
    ErrorCode error = ErrorCode::kNone;
    if (!LoadedLocked(group_id))
      error = NotLoadedLocked(group_id);
    else if (g == nullptr || g->state == GroupState::kDead)
      error = ErrorCode::kGroupIdNotFound;
    else if (g->state != GroupState::kEmpty)
      error = ErrorCode::kNonEmptyGroup;
    if (error != ErrorCode::kNone) {
      out.push_back([done, error] { done(error); });
    } else {
      GroupStorage::RecordList records;
      for (const auto& [key, unused] : g->offsets) {
        records.push_back({EncodeKey(OffsetKey{group_id, key.first, key.second}), std::nullopt});
      }
      records.push_back({EncodeKey(GroupKey{group_id}), std::nullopt});
      // Dead refuses joins and commits until the tombstones are written; the group leaves
      // memory in log order, in the callback.
      g->state = GroupState::kDead;
      out.push_back([this, group_id, records = std::move(records), done]() mutable {
        storage_->Append(group_id, std::move(records), [this, group_id, done](absl::Status s) {
          ForgetGroup(group_id, s);
          done(s.ok() ? ErrorCode::kNone : ErrorCode::kCoordinatorNotAvailable);
        });
      });
    }
  }
  Flush(out);
}

// Offsets of groups without members expire once neither they nor the group's emptiness are
// younger than offsets.retention.minutes; a group left with nothing is removed.
void GroupCoordinator::ExpireOffsets() {
  struct Expiry {
    std::string group;
    GroupStorage::RecordList records;
    std::vector<std::pair<std::string, int32_t>> offsets;
    bool remove_group = false;
  };
  std::vector<Expiry> writes;
  {
    absl::MutexLock lock(&mu_);
    int64_t now = clock_->NowMs();
    for (auto& [id, g] : groups_) {
      if (g.state != GroupState::kEmpty || !LoadedLocked(id)) continue;
      Expiry e{g.id, {}, {}, false};
      for (const auto& [key, offset] : g.offsets) {
        int64_t age = now - std::max(offset.commit_timestamp_ms, g.state_since_ms);
        if (age < config_.offsets_retention_ms) continue;
        e.records.push_back({EncodeKey(OffsetKey{g.id, key.first, key.second}), std::nullopt});
        e.offsets.push_back(key);
      }
      e.remove_group = e.offsets.size() == g.offsets.size() &&
                       now - g.state_since_ms >= config_.offsets_retention_ms;
      if (e.remove_group) {
        e.records.push_back({EncodeKey(GroupKey{g.id}), std::nullopt});
        g.state = GroupState::kDead;  // as for DeleteGroups: gone once written
      }
      if (!e.records.empty()) {
        LOG_EVENT(Info, "group.offsets_expired").Kv("group", g.id).Kv("records", e.records.size());
        writes.push_back(std::move(e));
      }
    }
  }
  for (Expiry& e : writes) {
    GroupStorage::RecordList records = std::move(e.records);
    storage_->Append(e.group, std::move(records), [this, e = std::move(e)](absl::Status s) {
      if (e.remove_group) return ForgetGroup(e.group, s);
      if (!s.ok()) return;
      absl::MutexLock lock(&mu_);
      if (Group* g = FindLocked(e.group)) {
        for (const auto& key : e.offsets) g->offsets.erase(key);
      }
    });
  }
}

// The callback of a group's tombstone: the group leaves memory once the tombstone is written;
// if it could not be written, the group is Empty again.
void GroupCoordinator::ForgetGroup(const std::string& group_id, const absl::Status& written) {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  if (written.ok()) {
    groups_.erase(it);
    LOG_EVENT(Info, "group.deleted").Kv("group", group_id);
  } else if (it->second.state == GroupState::kDead) {
    it->second.state = GroupState::kEmpty;
  }
}

void GroupCoordinator::ScheduleExpiry() {
  expiry_task_ = scheduler_->Schedule(config_.offsets_retention_check_interval_ms, [this] {
    ExpireOffsets();
    ScheduleExpiry();
  });
}

void GroupCoordinator::LoadRecord(int32_t, absl::string_view key,
                                  std::optional<absl::string_view> value) {
  auto decoded = DecodeKey(key);
  if (!decoded.ok()) {
    LOG_EVENT(Warn, "group.bad_record").Kv("error", decoded.status().message());
    return;
  }
  absl::MutexLock lock(&mu_);
  if (const auto* ok = std::get_if<OffsetKey>(&*decoded)) {
    if (!value.has_value()) {
      if (Group* g = FindLocked(ok->group)) g->offsets.erase({ok->topic, ok->partition});
      return;
    }
    auto v = DecodeOffsetValue(*value);
    if (!v.ok()) return;
    GetOrCreateLocked(ok->group).offsets[{ok->topic, ok->partition}] = {
        v->offset, v->leader_epoch, v->metadata, v->commit_timestamp};
    return;
  }
  const GroupKey& gk = std::get<GroupKey>(*decoded);
  if (!value.has_value()) {
    groups_.erase(gk.group);
    return;
  }
  auto v = DecodeGroupValue(*value);
  if (!v.ok()) return;
  Group& g = GetOrCreateLocked(gk.group);
  g.members.clear();
  g.static_members.clear();
  g.protocol_type = v->protocol_type;
  g.generation = v->generation;
  g.protocol = v->protocol;
  g.leader = v->leader;
  g.state = v->members.empty() ? GroupState::kEmpty : GroupState::kStable;
  g.state_since_ms = v->current_state_timestamp >= 0 ? v->current_state_timestamp : clock_->NowMs();
  for (const MemberValue& mv : v->members) {
    Member& m = g.members[mv.member_id];
    m.id = mv.member_id;
    m.instance_id = mv.group_instance_id;
    m.client_id = mv.client_id;
    m.client_host = mv.client_host;
    m.rebalance_timeout_ms = mv.rebalance_timeout_ms;
    m.session_timeout_ms = mv.session_timeout_ms;
    m.protocol_type = v->protocol_type;
    if (v->protocol.has_value()) m.protocols = {{*v->protocol, mv.subscription}};
    m.assignment = mv.assignment;
    if (mv.group_instance_id.has_value()) g.static_members[*mv.group_instance_id] = mv.member_id;
  }
}

void GroupCoordinator::FinishLoading(int32_t partition) {
  absl::MutexLock lock(&mu_);
  loaded_partitions_.insert(partition);
  for (auto& [id, g] : groups_) {
    if (CoordinatorPartition(id, config_.num_partitions) != partition) continue;
    // Restored members must heartbeat within their session timeout or leave.
    for (auto& [mid, m] : g.members) ScheduleSessionLocked(g, m);
  }
}

void GroupCoordinator::Unload() { UnloadPartitions(std::nullopt); }

void GroupCoordinator::UnloadPartition(int32_t partition) { UnloadPartitions(partition); }

void GroupCoordinator::UnloadPartitions(std::optional<int32_t> only) {
  Outbox out;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, g] : groups_) {
      if (only.has_value() && CoordinatorPartition(id, config_.num_partitions) != *only) continue;
      scheduler_->Cancel(g.join_task);
      for (auto& [mid, m] : g.members) {
        scheduler_->Cancel(m.session_task);
        if (m.awaiting_join) {
          JoinResult r;
          r.error = ErrorCode::kNotCoordinator;
          r.member_id = mid;
          out.push_back([cb = std::move(m.awaiting_join), r] { cb(r); });
        }
        if (m.awaiting_sync) {
          SyncResult r;
          r.error = ErrorCode::kNotCoordinator;
          out.push_back([cb = std::move(m.awaiting_sync), r] { cb(r); });
        }
      }
    }
    if (only.has_value()) {
      std::erase_if(groups_, [&](const auto& e) {
        return CoordinatorPartition(e.first, config_.num_partitions) == *only;
      });
      loaded_partitions_.erase(*only);
    } else {
      groups_.clear();
      loaded_partitions_.clear();
    }
  }
  Flush(out);
}

}  // namespace strata::server
