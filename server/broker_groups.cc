// Consumer-group APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup (membership) and
// OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups. Requests are
// translated to GroupCoordinator calls; answers may come later from another thread (a join waits
// for the rebalance), which Responder allows.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "protocol/delete_groups.h"
#include "protocol/describe_groups.h"
#include "protocol/heartbeat.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/list_groups.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_delete.h"
#include "protocol/offset_fetch.h"
#include "protocol/sync_group.h"
#include "server/broker.h"
#include "server/offsets_topic.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

// Kafka reports the member's host as "/address".
std::string ClientHost(const std::string& peer) {
  size_t colon = peer.rfind(':');
  std::string host = colon == std::string::npos ? peer : peer.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return "/" + host;
}

// Group operations a client may perform with no authorizer: READ, DELETE, DESCRIBE (bits of
// Kafka's AclOperation codes 3, 6, 8).
constexpr int32_t kGroupOperations = (1 << 3) | (1 << 6) | (1 << 8);

// Answers once every one of `n` asynchronous parts has finished.
template <typename Response>
struct Gather {
  absl::Mutex mu;
  Response response;
  size_t remaining;
};

}  // namespace

void Broker::HandleJoinGroup(RequestContext& ctx, protocol::Reader& r) {
  protocol::JoinGroupRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  JoinRequest join;
  join.group_id = req.group_id;
  join.member_id = req.member_id;
  join.group_instance_id = req.group_instance_id;
  join.client_id = ctx.header.client_id.value_or("");
  join.client_host = ClientHost(ctx.connection.peer);
  join.session_timeout_ms = req.session_timeout_ms;
  join.rebalance_timeout_ms =
      ctx.version() == 0 ? req.session_timeout_ms : req.rebalance_timeout_ms;
  join.protocol_type = req.protocol_type;
  for (auto& p : req.protocols) join.protocols.emplace_back(p.name, std::move(p.metadata));
  join.require_known_member_id = ctx.version() >= 4;
  coordinator_->Join(join, [this, ctx](JoinResult result) {
    protocol::JoinGroupResponse resp;
    resp.error_code = Code(result.error);
    resp.generation_id = result.generation;
    if (result.error == ErrorCode::kNone) resp.protocol_type = result.protocol_type;
    resp.protocol_name = result.protocol_name;
    resp.leader = result.leader;
    resp.skip_assignment = result.skip_assignment;
    resp.member_id = result.member_id;
    for (auto& m : result.members) {
      resp.members.push_back({m.member_id, m.group_instance_id, std::move(m.metadata)});
    }
    Reply(ctx, resp);
  });
}

void Broker::HandleSyncGroup(RequestContext& ctx, protocol::Reader& r) {
  protocol::SyncGroupRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  SyncRequest sync;
  sync.group_id = req.group_id;
  sync.generation = req.generation_id;
  sync.member_id = req.member_id;
  sync.group_instance_id = req.group_instance_id;
  sync.protocol_type = req.protocol_type;
  sync.protocol_name = req.protocol_name;
  for (auto& a : req.assignments)
    sync.assignments.emplace_back(a.member_id, std::move(a.assignment));
  coordinator_->Sync(sync, [this, ctx](SyncResult result) {
    protocol::SyncGroupResponse resp;
    resp.error_code = Code(result.error);
    resp.protocol_type = result.protocol_type;
    resp.protocol_name = result.protocol_name;
    resp.assignment = std::move(result.assignment);
    Reply(ctx, resp);
  });
}

void Broker::HandleHeartbeat(RequestContext& ctx, protocol::Reader& r) {
  protocol::HeartbeatRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::HeartbeatResponse resp;
  protocol::ErrorCode error = coordinator_->Heartbeat(req.group_id, req.generation_id,
                                                      req.member_id, req.group_instance_id);
  LOG_EVENT(Debug, "group.heartbeat")
      .Kv("group", req.group_id)
      .Kv("member", req.member_id)
      .Kv("generation", req.generation_id)
      .Kv("error", protocol::ErrorName(error));
  resp.error_code = Code(error);
  Reply(ctx, resp);
}

void Broker::HandleLeaveGroup(RequestContext& ctx, protocol::Reader& r) {
  protocol::LeaveGroupRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  std::vector<MemberRef> members;
  if (ctx.version() < 3) {
    members.push_back({req.member_id, std::nullopt});
  } else {
    for (const auto& m : req.members) members.push_back({m.member_id, m.group_instance_id});
  }
  auto [error, errors] = coordinator_->Leave(req.group_id, members);
  protocol::LeaveGroupResponse resp;
  resp.error_code = Code(error);
  if (ctx.version() < 3) {
    if (error == ErrorCode::kNone && !errors.empty()) resp.error_code = Code(errors[0]);
  } else if (error == ErrorCode::kNone) {
    for (size_t i = 0; i < members.size(); ++i) {
      resp.members.push_back({members[i].member_id, members[i].group_instance_id, Code(errors[i])});
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleOffsetCommit(RequestContext& ctx, protocol::Reader& r) {
  protocol::OffsetCommitRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::OffsetCommitResponse resp;
  std::vector<OffsetCommitEntry> entries;
  std::vector<std::pair<size_t, size_t>> slots;  // (topic, partition) in resp of each entry
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    std::optional<TopicInfo> info = partitions_->Topic(t.name);
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      if (!info.has_value() || p.partition_index < 0 || p.partition_index >= info->partitions) {
        rp.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      slots.emplace_back(resp.topics.size() - 1, rt.partitions.size() - 1);
      entries.push_back({t.name, p.partition_index, p.committed_offset, p.committed_leader_epoch,
                         p.committed_metadata});
    }
  }
  std::vector<int64_t> offsets;
  for (const auto& e : entries) offsets.push_back(e.offset);
  auto shared = std::make_shared<protocol::OffsetCommitResponse>(std::move(resp));
  coordinator_->CommitOffsets(
      req.group_id, req.generation_id_or_member_epoch, req.member_id, req.group_instance_id,
      std::move(entries),
      [this, ctx, shared, slots, offsets = std::move(offsets), group = req.group_id,
       member = req.member_id, generation = req.generation_id_or_member_epoch](
          ErrorCode error, std::vector<ErrorCode> errors) {
        std::string detail;
        for (size_t i = 0; i < slots.size(); ++i) {
          auto& p = shared->topics[slots[i].first].partitions[slots[i].second];
          p.error_code = Code(i < errors.size() ? errors[i] : error);
          if (GetLogLevel() <= LogLevel::kDebug) {
            absl::StrAppend(&detail, detail.empty() ? "" : ",", shared->topics[slots[i].first].name,
                            "-", p.partition_index, "=", offsets[i], ":",
                            protocol::ErrorName(static_cast<ErrorCode>(p.error_code)));
          }
        }
        LOG_EVENT(Debug, "group.commit")
            .Kv("group", group)
            .Kv("member", member)
            .Kv("generation", generation)
            .Kv("offsets", detail);
        Reply(ctx, *shared);
      });
}

namespace {

template <typename Partition>
void FillFetchedPartition(Partition& out, const OffsetFetchEntry& e) {
  out.partition_index = e.partition;
  out.committed_offset = e.offset;
  out.committed_leader_epoch = e.leader_epoch;
  out.metadata = e.metadata;
  out.error_code = Code(e.error);
}

// (error, entries grouped by topic in request order or by name when all were asked for).
template <typename Topic, typename RequestTopics>
std::pair<ErrorCode, std::vector<Topic>> FetchGroupOffsets(GroupCoordinator& coordinator,
                                                           const std::string& group,
                                                           const RequestTopics& topics) {
  std::optional<std::vector<std::pair<std::string, int32_t>>> wanted;
  if (topics.has_value()) {
    wanted.emplace();
    for (const auto& t : *topics) {
      for (int32_t p : t.partition_indexes) wanted->emplace_back(t.name, p);
    }
  }
  auto [error, entries] = coordinator.FetchOffsets(group, wanted);
  if (GetLogLevel() <= LogLevel::kDebug) {
    std::string detail;
    for (const OffsetFetchEntry& e : entries) {
      absl::StrAppend(&detail, detail.empty() ? "" : ",", e.topic, "-", e.partition, "=", e.offset);
    }
    LOG_EVENT(Debug, "group.offset_fetch")
        .Kv("group", group)
        .Kv("error", protocol::ErrorName(error))
        .Kv("offsets", detail);
  }
  std::vector<Topic> out;
  for (const OffsetFetchEntry& e : entries) {
    if (out.empty() || out.back().name != e.topic) out.emplace_back().name = e.topic;
    FillFetchedPartition(out.back().partitions.emplace_back(), e);
  }
  return {error, std::move(out)};
}

}  // namespace

void Broker::HandleOffsetFetch(RequestContext& ctx, protocol::Reader& r) {
  protocol::OffsetFetchRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::OffsetFetchResponse resp;
  if (ctx.version() >= 8) {
    for (const auto& g : req.groups) {
      auto& rg = resp.groups.emplace_back();
      rg.group_id = g.group_id;
      auto [error, topics] =
          FetchGroupOffsets<protocol::OffsetFetchResponse::OffsetFetchResponseTopics>(
              *coordinator_, g.group_id, g.topics);
      rg.error_code = Code(error);
      if (error == ErrorCode::kNone) rg.topics = std::move(topics);
    }
    return Reply(ctx, resp);
  }
  // v0-1 ask for explicit partitions; v2+ may ask for all (null topics).
  auto [error, topics] = FetchGroupOffsets<protocol::OffsetFetchResponse::OffsetFetchResponseTopic>(
      *coordinator_, req.group_id, req.topics);
  if (error != ErrorCode::kNone && ctx.version() < 2 && req.topics.has_value()) {
    // No top-level error before v2: every partition carries it.
    for (const auto& t : *req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (int32_t p : t.partition_indexes) {
        FillFetchedPartition(rt.partitions.emplace_back(),
                             OffsetFetchEntry{t.name, p, -1, -1, "", error});
      }
    }
    return Reply(ctx, resp);
  }
  resp.error_code = Code(error);
  if (error == ErrorCode::kNone) resp.topics = std::move(topics);
  Reply(ctx, resp);
}

void Broker::HandleOffsetDelete(RequestContext& ctx, protocol::Reader& r) {
  protocol::OffsetDeleteRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  std::vector<std::pair<std::string, int32_t>> partitions;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) partitions.emplace_back(t.name, p.partition_index);
  }
  coordinator_->DeleteOffsets(
      req.group_id, partitions,
      [this, ctx, partitions](ErrorCode error, std::vector<ErrorCode> errors) {
        protocol::OffsetDeleteResponse resp;
        resp.error_code = Code(error);
        if (error == ErrorCode::kNone) {
          for (size_t i = 0; i < partitions.size(); ++i) {
            if (resp.topics.empty() || resp.topics.back().name != partitions[i].first) {
              resp.topics.emplace_back().name = partitions[i].first;
            }
            resp.topics.back().partitions.push_back(
                {partitions[i].second, Code(i < errors.size() ? errors[i] : error)});
          }
        }
        Reply(ctx, resp);
      });
}

void Broker::HandleDescribeGroups(RequestContext& ctx, protocol::Reader& r) {
  protocol::DescribeGroupsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::DescribeGroupsResponse resp;
  for (const std::string& id : req.groups) {
    GroupDescription d = coordinator_->Describe(id);
    auto& g = resp.groups.emplace_back();
    g.error_code = Code(d.group_id.empty() ? ErrorCode::kInvalidGroupId : d.error);
    g.group_id = id;
    g.group_state = d.state;
    g.protocol_type = d.protocol_type;
    g.protocol_data = d.protocol;
    if (req.include_authorized_operations) g.authorized_operations = kGroupOperations;
    for (auto& m : d.members) {
      g.members.push_back({m.member_id, m.group_instance_id, m.client_id, m.client_host,
                           std::move(m.metadata), std::move(m.assignment)});
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleListGroups(RequestContext& ctx, protocol::Reader& r) {
  protocol::ListGroupsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::ListGroupsResponse resp;
  if (!offsets_topic_->loading_done()) {
    resp.error_code = Code(ErrorCode::kCoordinatorLoadInProgress);
    return Reply(ctx, resp);
  }
  // Every group here is a classic group (KIP-848's "consumer" groups do not exist).
  bool classic = req.types_filter.empty();
  for (const std::string& t : req.types_filter) classic |= absl::AsciiStrToLower(t) == "classic";
  if (!classic) return Reply(ctx, resp);
  std::set<std::string> states(req.states_filter.begin(), req.states_filter.end());
  for (GroupListing& g : coordinator_->List(states)) {
    resp.groups.push_back(
        {std::move(g.group_id), std::move(g.protocol_type), std::move(g.state), "classic"});
  }
  Reply(ctx, resp);
}

void Broker::HandleDeleteGroups(RequestContext& ctx, protocol::Reader& r) {
  protocol::DeleteGroupsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  auto gather = std::make_shared<Gather<protocol::DeleteGroupsResponse>>();
  gather->remaining = req.groups_names.size();
  for (const std::string& id : req.groups_names) gather->response.results.push_back({id, 0});
  if (req.groups_names.empty()) return Reply(ctx, gather->response);
  for (size_t i = 0; i < req.groups_names.size(); ++i) {
    coordinator_->Delete(req.groups_names[i], [this, ctx, gather, i](ErrorCode error) {
      bool last;
      {
        absl::MutexLock lock(&gather->mu);
        gather->response.results[i].error_code = Code(error);
        last = --gather->remaining == 0;
      }
      if (last) Reply(ctx, gather->response);
    });
  }
}

}  // namespace strata::server
