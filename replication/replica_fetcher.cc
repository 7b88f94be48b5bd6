// ReplicaFetcher (replication/replica_fetcher.h): truncation, fetch rounds and appends.
#include "replication/replica_fetcher.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/batch_format.h"
#include "log/record_batch.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "protocol/list_offsets.h"
#include "protocol/offset_for_leader_epoch.h"

namespace strata {
namespace {

using protocol::ErrorCode;

constexpr int16_t kFetchVersion = 12;
constexpr int16_t kListOffsetsVersion = 7;
constexpr int16_t kOffsetForLeaderEpochVersion = 4;
// A partition fenced by its leader (FENCED_LEADER_EPOCH) asks again after this long.
constexpr int64_t kFencedRetryMs = 5'000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Name(const std::string& topic, int32_t partition) {
  return absl::StrCat(topic, "-", partition);
}

// The whole batches at the start of `records` (a fetch may end inside a batch), checked.
absl::StatusOr<size_t> WholeBatches(std::span<const uint8_t> records) {
  size_t off = 0;
  while (records.size() - off >= batch_format::kLogOverhead) {
    ASSIGN_OR_RETURN(size_t n, RecordBatchView::PeekSize(records.subspan(off)));
    if (n > records.size() - off) break;
    ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::Parse(records.subspan(off, n)));
    (void)view;
    off += n;
  }
  return off;
}

// The leader answers exactly the one partition asked for.
template <typename Topics>
absl::Status ExpectOnePartition(const Topics& topics, absl::string_view api) {
  if (topics.size() == 1 && topics[0].partitions.size() == 1) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(api, ": the leader answered another partition"));
}

}  // namespace

ReplicaFetcher::ReplicaFetcher(Options options) : options_(std::move(options)) {}

ReplicaFetcher::~ReplicaFetcher() { Stop(); }

void ReplicaFetcher::AddPartition(PartitionToFetch p) {
  p.log->set_high_watermark_follows_end(false);
  Key key{p.topic, p.partition};
  absl::MutexLock lock(&mu_);
  State& s = partitions_[key];
  s.p = std::move(p);
  // From one counter for all partitions: a partition removed and added again must not reuse
  // the generation of a request still in flight from before (it would apply to the new entry).
  s.generation = ++next_generation_;
  s.needs_truncation = true;
  s.retry_at_ms = 0;
  s.status.error.clear();
  s.status.log_end = s.p.log->log_end_offset();
  s.status.high_watermark = s.p.log->high_watermark();
}

void ReplicaFetcher::RemovePartition(const std::string& topic, int32_t partition) {
  absl::MutexLock lock(&mu_);
  partitions_.erase({topic, partition});
}

std::optional<ReplicaFetcher::PartitionStatus> ReplicaFetcher::Status(const std::string& topic,
                                                                      int32_t partition) const {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find({topic, partition});
  if (it == partitions_.end()) return std::nullopt;
  return it->second.status;
}

absl::StatusOr<std::shared_ptr<client::Connection>> ReplicaFetcher::Connected() {
  {
    absl::MutexLock lock(&conn_mu_);
    if (conn_ != nullptr && !conn_->closed()) return conn_;
  }
  client::ConnectionOptions o;
  o.client_id = absl::StrCat("strata-replica-", options_.replica_id);
  o.connect_timeout_ms = 5'000;
  o.request_timeout_ms = options_.max_wait_ms + 30'000;
  ASSIGN_OR_RETURN(std::unique_ptr<client::Connection> conn,
                   client::Connection::Connect(options_.leader, o));
  absl::MutexLock lock(&conn_mu_);
  conn_ = std::move(conn);
  return conn_;
}

void ReplicaFetcher::Fail(const Key& key, State& s, std::string error, bool fenced) const {
  s.status.error = std::move(error);
  if (!fenced) {
    s.retry_at_ms = NowMs() + options_.backoff_ms;
    return;
  }
  // The leader is on a newer epoch than this follower was told: the replica manager normally
  // re-adds the partition with it soon. Until then (or if that change was missed) the partition
  // waits, then compares epochs with the leader again.
  s.retry_at_ms = NowMs() + std::max<int64_t>(kFencedRetryMs, options_.backoff_ms);
  s.needs_truncation = true;
  LOG_EVENT(Warn, "replica.fenced")
      .Kv("partition", Name(key.first, key.second))
      .Kv("leader", options_.leader.ToString())
      .Kv("epoch", s.p.leader_epoch)
      .Kv("retry_ms", s.retry_at_ms - NowMs());
}

absl::Status ReplicaFetcher::Truncate(client::Connection& conn, const Key& key, State& s) {
  std::optional<EpochEntry> latest = s.p.log->leader_epochs().Latest();
  if (!latest.has_value()) {
    s.needs_truncation = false;  // nothing written under any epoch: nothing to compare
    return absl::OkStatus();
  }
  protocol::OffsetForLeaderEpochRequest req;
  req.replica_id = options_.replica_id;
  req.topics.push_back({.topic = key.first,
                        .partitions = {{.partition = key.second,
                                        .current_leader_epoch = s.p.leader_epoch,
                                        .leader_epoch = latest->epoch.value()}}});
  ASSIGN_OR_RETURN(int16_t v, conn.PickVersion(protocol::ApiKey::kOffsetForLeaderEpoch,
                                               kOffsetForLeaderEpochVersion));
  ASSIGN_OR_RETURN(
      auto resp,
      (conn.Call<protocol::OffsetForLeaderEpochRequest, protocol::OffsetForLeaderEpochResponse>(
          req, v)));
  RETURN_IF_ERROR(ExpectOnePartition(resp.topics, "OffsetForLeaderEpoch"));
  const auto& r = resp.topics[0].partitions[0];
  if (r.error_code != 0) {
    auto code = static_cast<ErrorCode>(r.error_code);
    Fail(key, s, protocol::ErrorName(code), code == ErrorCode::kFencedLeaderEpoch);
    return absl::OkStatus();
  }
  Offset end = s.p.log->log_end_offset();
  Offset cut;
  bool again = false;
  if (r.end_offset < 0 || r.leader_epoch < 0) {
    // The leader knows no epoch this old or this new: only the committed part is certain.
    cut = s.p.log->high_watermark();
  } else if (r.leader_epoch < latest->epoch.value()) {
    // KIP-279: the leader's latest epoch at or below ours is older; ours continued past where
    // that epoch ends on one side or the other. Cut to the smaller end, then ask again.
    Offset local_end =
        s.p.log->leader_epochs().EndOffsetFor(LeaderEpoch(r.leader_epoch), end).second;
    cut = local_end.value() >= 0 ? std::min(Offset(r.end_offset), local_end) : Offset(r.end_offset);
    again = true;
  } else {
    cut = Offset(r.end_offset);
  }
  if (cut < end) {
    // Cut only if the partition is still ours at this generation, and under the lock, so that
    // once RemovePartition returns (this broker became the leader, say) no cut lands on it.
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end() || it->second.generation != s.generation) return absl::OkStatus();
    ASSIGN_OR_RETURN(Offset new_end, s.p.log->TruncateTo(cut));
    s.status.truncated_records += end.value() - new_end.value();
    LOG_EVENT(Warn, "replica.truncated")
        .Kv("partition", Name(key.first, key.second))
        .Kv("local_epoch", latest->epoch.value())
        .Kv("leader_epoch", r.leader_epoch)
        .Kv("from", end.value())
        .Kv("to", new_end.value());
  }
  s.needs_truncation = again && cut < end;  // a cut under an older epoch: compare again
  return absl::OkStatus();
}

absl::Status ReplicaFetcher::ResetOutOfRange(client::Connection& conn, const Key& key) {
  std::shared_ptr<Log> log;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return absl::OkStatus();
    log = it->second.p.log;
    generation = it->second.generation;
  }
  auto list = [&](int64_t timestamp) -> absl::StatusOr<int64_t> {
    protocol::ListOffsetsRequest req;
    req.replica_id = options_.replica_id;
    req.topics.push_back({.name = key.first,
                          .partitions = {{.partition_index = key.second, .timestamp = timestamp}}});
    ASSIGN_OR_RETURN(int16_t v,
                     conn.PickVersion(protocol::ApiKey::kListOffsets, kListOffsetsVersion));
    ASSIGN_OR_RETURN(
        auto resp,
        (conn.Call<protocol::ListOffsetsRequest, protocol::ListOffsetsResponse>(req, v)));
    RETURN_IF_ERROR(ExpectOnePartition(resp.topics, "ListOffsets"));
    const auto& p = resp.topics[0].partitions[0];
    if (p.error_code != 0) {
      return absl::UnavailableError(
          absl::StrCat("ListOffsets: ", protocol::ErrorName(static_cast<ErrorCode>(p.error_code))));
    }
    return p.offset;
  };
  ASSIGN_OR_RETURN(int64_t leader_end, list(-1));
  std::optional<int64_t> leader_start;
  if (log->log_end_offset().value() <= leader_end) {
    ASSIGN_OR_RETURN(leader_start, list(-2));
  }
  // As in Truncate: cut only a partition that is still ours at this generation.
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end() || it->second.generation != generation) return absl::OkStatus();
  Offset end = log->log_end_offset();
  if (end.value() > leader_end && leader_end <= log->log_start_offset().value()) {
    // Nothing of ours lies below the leader's end: start over there.
    RETURN_IF_ERROR(log->TruncateFullyAndStartAt(Offset(leader_end)));
  } else if (end.value() > leader_end) {
    RETURN_IF_ERROR(log->TruncateTo(Offset(leader_end)).status());
  } else if (leader_start.has_value() && end.value() < *leader_start) {
    RETURN_IF_ERROR(log->TruncateFullyAndStartAt(Offset(*leader_start)));
  }
  LOG_EVENT(Warn, "replica.out_of_range")
      .Kv("partition", Name(key.first, key.second))
      .Kv("local_end", end.value())
      .Kv("leader_end", leader_end)
      .Kv("now", log->log_end_offset().value());
  return absl::OkStatus();
}

void ReplicaFetcher::Apply(const Key& key, uint64_t generation, int16_t error,
                           int64_t high_watermark, std::span<const uint8_t> records) {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end() || it->second.generation != generation) return;  // re-added
  State& s = it->second;
  Log& log = *s.p.log;
  if (error != 0) {
    auto code = static_cast<ErrorCode>(error);
    Fail(key, s, protocol::ErrorName(code), code == ErrorCode::kFencedLeaderEpoch);
    return;
  }
  if (!records.empty()) {
    absl::StatusOr<size_t> whole = WholeBatches(records);
    absl::Status st = whole.status();
    if (whole.ok() && *whole > 0) {
      // The follower writes the leader's bytes as they are (Append only reads them when offsets
      // are kept), from a copy it owns.
      std::string copy(reinterpret_cast<const char*>(records.data()), *whole);
      std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(copy.data()), copy.size());
      st = log.Append(bytes, {.assign_offsets = false}).status();
    }
    if (!st.ok()) {
      Fail(key, s, std::string(st.message()), false);
      s.needs_truncation = true;  // compare with the leader again before the next fetch
      LOG_EVENT(Warn, "replica.append_failed")
          .Kv("partition", Name(key.first, key.second))
          .Kv("error", st.ToString());
      return;
    }
  }
  Offset hw = std::min(Offset(high_watermark), log.log_end_offset());
  if (hw > log.high_watermark()) log.SetHighWatermark(hw);
  s.status.log_end = log.log_end_offset();
  s.status.high_watermark = log.high_watermark();
  ++s.status.fetches;
  s.status.error.clear();
}

protocol::FetchRequest ReplicaFetcher::BuildRequest(std::map<Key, uint64_t>* generations) {
  protocol::FetchRequest req;
  req.replica_id = options_.replica_id;
  req.max_wait_ms = options_.max_wait_ms;
  req.min_bytes = options_.min_bytes;
  req.max_bytes = options_.max_bytes;
  req.session_id = 0;
  req.session_epoch = -1;
  absl::MutexLock lock(&mu_);
  const int64_t now = NowMs();
  for (auto& [key, s] : partitions_) {
    if (s.needs_truncation || now < s.retry_at_ms) continue;
    (*generations)[key] = s.generation;
    auto topic = std::find_if(req.topics.begin(), req.topics.end(),
                              [&](const auto& t) { return t.topic == key.first; });
    if (topic == req.topics.end()) {
      req.topics.push_back({.topic = key.first, .topic_id = {}, .partitions = {}});
      topic = req.topics.end() - 1;
    }
    topic->partitions.push_back({.partition = key.second,
                                 .current_leader_epoch = s.p.leader_epoch,
                                 .fetch_offset = s.p.log->log_end_offset().value(),
                                 .last_fetched_epoch = -1,
                                 .log_start_offset = s.p.log->log_start_offset().value(),
                                 .partition_max_bytes = options_.partition_max_bytes});
  }
  return req;
}

absl::Status ReplicaFetcher::FetchRound(client::Connection& conn) {
  std::map<Key, uint64_t> generations;
  protocol::FetchRequest req = BuildRequest(&generations);
  if (req.topics.empty()) {
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(options_.backoff_ms));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(int16_t v, conn.PickVersion(protocol::ApiKey::kFetch, kFetchVersion));
  ASSIGN_OR_RETURN(client::ResponseFrame frame, conn.Send(req, v).get());
  protocol::Reader r(frame.body());
  protocol::FetchResponse resp;
  RETURN_IF_ERROR(resp.Decode(r, v));
  if (resp.error_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("fetch: ", protocol::ErrorName(static_cast<ErrorCode>(resp.error_code))));
  }
  std::vector<Key> out_of_range;
  for (const auto& t : resp.responses) {
    for (const auto& p : t.partitions) {
      Key key{t.topic, p.partition_index};
      auto gen = generations.find(key);
      if (gen == generations.end()) continue;  // not asked for
      if (p.error_code == static_cast<int16_t>(ErrorCode::kOffsetOutOfRange)) {
        out_of_range.push_back(key);
        continue;
      }
      Apply(key, gen->second, p.error_code, p.high_watermark, p.records.bytes);
    }
  }
  for (const Key& key : out_of_range) {
    absl::Status st = ResetOutOfRange(conn, key);
    if (st.ok()) continue;
    if (absl::IsUnavailable(st) && conn.closed()) return st;  // the connection is gone
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it != partitions_.end()) Fail(key, it->second, std::string(st.message()), false);
  }
  return absl::OkStatus();
}

absl::Status ReplicaFetcher::RunOnce() {
  {
    // Idle (this leader's partitions moved elsewhere): no connection to it until one is added.
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !partitions_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(options_.backoff_ms));
    if (stopping_ || partitions_.empty()) return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<client::Connection> conn, Connected());
  std::vector<Key> to_truncate;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = NowMs();
    for (auto& [key, s] : partitions_) {
      if (s.needs_truncation && now >= s.retry_at_ms) to_truncate.push_back(key);
    }
  }
  for (const Key& key : to_truncate) {
    // The network round trip runs without the lock; the result is kept only if the partition
    // was not re-added meanwhile.
    State copy;
    {
      absl::MutexLock lock(&mu_);
      auto it = partitions_.find(key);
      if (it == partitions_.end()) continue;
      copy = it->second;
    }
    RETURN_IF_ERROR(Truncate(*conn, key, copy));
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end() || it->second.generation != copy.generation) continue;
    State& s = it->second;
    s.needs_truncation = copy.needs_truncation;
    s.retry_at_ms = copy.retry_at_ms;
    s.status.error = copy.status.error;
    s.status.truncated_records = copy.status.truncated_records;
    s.status.log_end = copy.p.log->log_end_offset();
  }
  return FetchRound(*conn);
}

void ReplicaFetcher::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void ReplicaFetcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&conn_mu_);
    if (conn_ != nullptr) conn_->Close();  // ends a long poll (or a hung leader) at once
  }
  if (thread_.joinable()) thread_.join();
}

void ReplicaFetcher::Run() {
  std::string last_error;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::Status s = RunOnce();
    std::string error = s.ok() ? "" : s.ToString();
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      idle = partitions_.empty();
    }
    // An idle round (no partitions: this leader's moved away, or it died) fetched nothing: it
    // neither recovers nor reports "fetching" from a leader that may be gone.
    if (error != last_error && !(s.ok() && idle)) {
      if (s.ok()) {
        LOG_EVENT(Info, "replica.fetching").Kv("leader", options_.leader.ToString());
      } else {
        LOG_EVENT(Warn, "replica.fetch_failed")
            .Kv("leader", options_.leader.ToString())
            .Kv("error", error);
      }
      last_error = error;
    }
    if (!s.ok()) {
      {
        absl::MutexLock lock(&conn_mu_);
        conn_.reset();
      }
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(options_.backoff_ms));
    }
  }
}

}  // namespace strata
