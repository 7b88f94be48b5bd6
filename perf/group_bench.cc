// The group coordinator over loopback (issue 4), with an in-process broker (one reactor):
//   commits     OffsetCommit requests of 1 and of 100 partitions, 16 in flight on one
//               connection, beside Produce requests of one small record (the append the commit
//               turns into) sent the same way in the same run;
//   rebalance   10 members over a 100-partition topic, driven over the wire the way consumers
//               do it (member-id round trip, JoinGroup, the leader's range assignment,
//               SyncGroup): the group forming, a member leaving, a member joining.
// group.initial.rebalance.delay.ms is 0 so the numbers are the coordinator's own.
//   build/release/perf/strata_group_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "perf/bench_util.h"
#include "perf/broker_fixture.h"
#include "perf/net_util.h"
#include "protocol/consumer_protocol_assignment.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/create_topics.h"
#include "protocol/frame.h"
#include "protocol/heartbeat.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/offset_commit.h"
#include "protocol/produce.h"
#include "protocol/sync_group.h"
#include "protocol/writer.h"
#include "server/broker.h"

namespace strata {
namespace {

using bench::Connect;
using bench::ReadFrame;
using bench::WriteAll;

constexpr int kWindow = 16;

// group.initial.rebalance.delay.ms = 0: the numbers are the coordinator's own.
bench::BrokerFixture StartBroker() {
  return bench::BrokerFixture(
      [](server::BrokerConfig& c) { c.group.initial_rebalance_delay_ms = 0; });
}

template <typename Req>
std::string Frame(const Req& req, int16_t version, int32_t corr = 1) {
  return protocol::EncodeRequestFrame(
      protocol::RequestHeader{Req::kApiKey, version, corr, std::string("bench")}, req);
}

// Decodes the body of a response frame (skipping its header).
template <typename Resp>
Resp Decode(const std::string& frame, int16_t api_key, int16_t version) {
  protocol::Reader r(AsBytes(frame));
  if (!protocol::DecodeResponseHeader(r, protocol::ResponseHeaderVersion(api_key, version)).ok()) {
    abort();
  }
  Resp resp;
  if (!resp.Decode(r, version).ok()) abort();
  return resp;
}

void CreateTopic(int port, const std::string& name, int32_t partitions) {
  protocol::CreateTopicsRequest req;
  req.timeout_ms = 10000;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  int fd = Connect(port);
  std::string frame = Frame(req, 5);
  WriteAll(fd, frame.data(), frame.size());
  ReadFrame(fd);
  close(fd);
}

double Pipeline(int port, const std::string& frame, int count) {
  return bench::Pipeline(port, frame, count, kWindow);
}

std::string CommitFrame(const std::string& group, int partitions) {
  protocol::OffsetCommitRequest req;
  req.group_id = group;
  auto& t = req.topics.emplace_back();
  t.name = "events";
  for (int p = 0; p < partitions; ++p) t.partitions.push_back({p, 12345, -1, -1, std::string()});
  return Frame(req, 7);
}

std::string SmallProduceFrame(std::string* batch) {
  RecordBatchBuilder b;
  b.Add("group-events-0", std::string(24, 'x'), 1'700'000'000'000);  // about a commit record
  *batch = *b.Build();
  protocol::ProduceRequest req;
  req.acks = 1;
  req.timeout_ms = 30000;
  auto& t = req.topic_data.emplace_back();
  t.name = "small";
  auto& p = t.partition_data.emplace_back();
  p.index = 0;
  p.records.bytes = AsBytes(*batch);
  return Frame(req, 7);
}

void BM_OffsetCommit(benchmark::State& state) {
  bench::BrokerFixture f = StartBroker();
  int port = f.broker->port();
  CreateTopic(port, "events", 100);
  CreateTopic(port, "small", 1);
  int partitions = static_cast<int>(state.range(0));
  int requests = partitions == 1 ? 40000 : 2000;
  std::string commit = CommitFrame("bench-group", partitions);
  std::string batch;
  std::string produce = SmallProduceFrame(&batch);
  double commit_s = 0, produce_s = 0;
  for (auto _ : state) {
    double c = Pipeline(port, commit, requests);
    double p = Pipeline(port, produce, requests);
    commit_s += c;
    produce_s += p;
    state.SetIterationTime(c);
  }
  double n = static_cast<double>(requests) * static_cast<double>(state.iterations());
  state.counters["commit_requests_per_s"] = n / commit_s;
  state.counters["partition_commits_per_s"] = n * partitions / commit_s;
  state.counters["produce_requests_per_s"] = n / produce_s;
  state.counters["commit_over_produce"] = produce_s / commit_s;
}
BENCHMARK(BM_OffsetCommit)
    ->Arg(1)
    ->Arg(100)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// One group member over its own connection.
struct Member {
  int fd = -1;
  std::string id;
  int32_t generation = -1;
  bool leader = false;
  std::vector<protocol::JoinGroupResponse::JoinGroupResponseMember> members;  // leader only
  explicit Member(int port) : fd(Connect(port)) {}
  ~Member() { close(fd); }
  void Send(const std::string& frame) const { WriteAll(fd, frame.data(), frame.size()); }
};

protocol::JoinGroupRequest JoinRequest(const std::string& member_id) {
  protocol::ConsumerProtocolSubscription sub;
  sub.topics = {"events"};
  std::string metadata;
  protocol::Writer w(&metadata);
  w.Write(int16_t{0});
  sub.Encode(w, 0);
  protocol::JoinGroupRequest req;
  req.group_id = "rebalance";
  req.member_id = member_id;
  req.session_timeout_ms = 30000;
  req.rebalance_timeout_ms = 30000;
  req.protocol_type = "consumer";
  req.protocols.push_back({"range", metadata});
  return req;
}

// KIP-394: the first JoinGroup only hands out the member id.
void GetMemberId(Member& m) {
  m.Send(Frame(JoinRequest(""), 5));
  m.id = Decode<protocol::JoinGroupResponse>(ReadFrame(m.fd), 11, 5).member_id;
}

// Every member sends JoinGroup, then every answer is read (they complete together).
void JoinAll(const std::vector<Member*>& members) {
  for (Member* m : members) m->Send(Frame(JoinRequest(m->id), 5));
  for (Member* m : members) {
    auto r = Decode<protocol::JoinGroupResponse>(ReadFrame(m->fd), 11, 5);
    if (r.error_code != 0) abort();
    m->generation = r.generation_id;
    m->leader = r.leader == m->id;
    m->members = std::move(r.members);
  }
}

// The leader assigns the partitions in ranges; everyone syncs.
void SyncAll(const std::vector<Member*>& members, int32_t partitions) {
  for (Member* m : members) {
    protocol::SyncGroupRequest req;
    req.group_id = "rebalance";
    req.generation_id = m->generation;
    req.member_id = m->id;
    if (m->leader) {
      auto& all = m->members;
      int32_t per = partitions / static_cast<int32_t>(all.size());
      for (size_t i = 0; i < all.size(); ++i) {
        protocol::ConsumerProtocolAssignment a;
        auto& tp = a.assigned_partitions.emplace_back();
        tp.topic = "events";
        int32_t end = i + 1 == all.size() ? partitions : per * static_cast<int32_t>(i + 1);
        for (int32_t p = per * static_cast<int32_t>(i); p < end; ++p) tp.partitions.push_back(p);
        std::string bytes;
        protocol::Writer w(&bytes);
        w.Write(int16_t{0});
        a.Encode(w, 0);
        req.assignments.push_back({all[i].member_id, bytes});
      }
    }
    m->Send(Frame(req, 3));
  }
  for (Member* m : members) {
    if (Decode<protocol::SyncGroupResponse>(ReadFrame(m->fd), 14, 3).error_code != 0) abort();
  }
}

// Each member heartbeats and expects REBALANCE_IN_PROGRESS (how consumers learn of a rebalance).
void HeartbeatAll(const std::vector<Member*>& members) {
  for (Member* m : members) {
    m->Send(Frame(protocol::HeartbeatRequest{"rebalance", m->generation, m->id, std::nullopt}, 3));
  }
  for (Member* m : members) ReadFrame(m->fd);
}

void BM_Rebalance10Members100Partitions(benchmark::State& state) {
  bench::BrokerFixture f = StartBroker();
  int port = f.broker->port();
  CreateTopic(port, "events", 100);
  constexpr int kMembers = 10;
  double form_s = 0, leave_s = 0, join_s = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<Member>> owned;
    std::vector<Member*> members;
    int64_t t0 = bench::NowNs();
    for (int i = 0; i < kMembers; ++i) {
      owned.push_back(std::make_unique<Member>(port));
      members.push_back(owned.back().get());
      GetMemberId(*members.back());
    }
    JoinAll(members);
    SyncAll(members, 100);
    int64_t t1 = bench::NowNs();
    // The last member leaves; the others learn it from a heartbeat and rejoin.
    Member* last = members.back();
    protocol::LeaveGroupRequest leave;
    leave.group_id = "rebalance";
    leave.members.push_back({last->id, std::nullopt, std::nullopt});
    last->Send(Frame(leave, 3));
    ReadFrame(last->fd);
    members.pop_back();
    HeartbeatAll(members);
    JoinAll(members);
    SyncAll(members, 100);
    int64_t t2 = bench::NowNs();
    // A new member joins.
    owned.push_back(std::make_unique<Member>(port));
    Member* fresh = owned.back().get();
    GetMemberId(*fresh);
    fresh->Send(Frame(JoinRequest(fresh->id), 5));  // waits for the others
    HeartbeatAll(members);
    for (Member* m : members) m->Send(Frame(JoinRequest(m->id), 5));
    members.push_back(fresh);
    for (Member* m : members) {
      auto r = Decode<protocol::JoinGroupResponse>(ReadFrame(m->fd), 11, 5);
      m->generation = r.generation_id;
      m->leader = r.leader == m->id;
      m->members = std::move(r.members);
    }
    SyncAll(members, 100);
    int64_t t3 = bench::NowNs();
    // Everyone leaves: the next iteration starts from an empty group.
    leave.members.clear();
    for (Member* m : members) leave.members.push_back({m->id, std::nullopt, std::nullopt});
    members[0]->Send(Frame(leave, 3));
    ReadFrame(members[0]->fd);
    form_s += static_cast<double>(t1 - t0) / 1e9;
    leave_s += static_cast<double>(t2 - t1) / 1e9;
    join_s += static_cast<double>(t3 - t2) / 1e9;
    state.SetIterationTime(static_cast<double>(t3 - t0) / 1e9);
  }
  double n = static_cast<double>(state.iterations());
  state.counters["form_ms"] = form_s / n * 1e3;
  state.counters["member_leaves_ms"] = leave_s / n * 1e3;
  state.counters["member_joins_ms"] = join_s / n * 1e3;
}
BENCHMARK(BM_Rebalance10Members100Partitions)
    ->UseManualTime()
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata
