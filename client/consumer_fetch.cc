// Consumer's fetch round: one Fetch per leader, then decoding into the partition buffers.
#include <algorithm>
#include <future>

#include "absl/strings/str_cat.h"
#include "client/consumer.h"
#include "client/errors.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"

namespace strata::client {

namespace {

constexpr int16_t kFetchMaxVersion = 12;

}  // namespace

struct Consumer::PendingFetch {
  int16_t version = 0;
  std::vector<TopicPartition> partitions;
  std::future<absl::StatusOr<ResponseFrame>> response;
};

std::vector<TopicPartition> Consumer::FetchOrder() {
  std::vector<TopicPartition> order;
  for (const auto& [tp, state] : partitions_) {
    if (state.buffer.empty() && state.next_fetch >= 0) order.push_back(tp);
  }
  if (!order.empty()) {
    std::rotate(order.begin(), order.begin() + static_cast<ptrdiff_t>(rotation_ % order.size()),
                order.end());
  }
  ++rotation_;
  return order;
}

protocol::FetchRequest Consumer::BuildFetch(const std::vector<TopicPartition>& partitions,
                                            int32_t max_wait_ms) {
  protocol::FetchRequest req;
  req.replica_id = -1;
  req.max_wait_ms = max_wait_ms;
  req.min_bytes = options_.min_bytes;
  req.max_bytes = options_.max_bytes;
  req.isolation_level = options_.isolation_level;
  req.session_id = 0;  // full fetches, no fetch session (KIP-227)
  req.session_epoch = -1;
  for (const TopicPartition& tp : partitions) {
    auto topic = std::find_if(req.topics.begin(), req.topics.end(),
                              [&](const auto& t) { return t.topic == tp.topic; });
    if (topic == req.topics.end()) {
      req.topics.push_back({.topic = tp.topic, .topic_id = {}, .partitions = {}});
      topic = req.topics.end() - 1;
    }
    topic->partitions.push_back({.partition = tp.partition,
                                 .current_leader_epoch = -1,
                                 .fetch_offset = partitions_[tp].next_fetch,
                                 .last_fetched_epoch = -1,
                                 .log_start_offset = -1,
                                 .partition_max_bytes = options_.max_partition_bytes});
  }
  return req;
}

absl::Status Consumer::FetchOnce(int32_t max_wait_ms, bool* fetched) {
  std::map<int32_t, std::vector<TopicPartition>> by_leader;
  for (const TopicPartition& tp : FetchOrder()) {
    absl::StatusOr<int32_t> leader = cluster_->Leader(tp.topic, tp.partition);
    if (leader.ok()) {
      by_leader[*leader].push_back(tp);
    } else if (IsRetriableError(leader.status())) {
      cluster_->Invalidate(tp.topic);
    } else {
      return leader.status();
    }
  }
  std::vector<PendingFetch> pending;
  for (auto& [leader, tps] : by_leader) {
    absl::StatusOr<std::shared_ptr<Connection>> conn = cluster_->ConnectionTo(leader);
    if (!conn.ok()) {
      if (!IsRetriableError(conn.status())) return conn.status();
      continue;
    }
    ASSIGN_OR_RETURN(int16_t version,
                     (*conn)->PickVersion(protocol::ApiKey::kFetch, kFetchMaxVersion));
    protocol::FetchRequest req = BuildFetch(tps, max_wait_ms);
    SendOptions send{.timeout_ms = options_.request_timeout_ms + max_wait_ms};
    pending.push_back({version, tps, (*conn)->Send(req, version, send)});
  }
  for (PendingFetch& p : pending) {
    absl::StatusOr<ResponseFrame> frame = p.response.get();
    if (!frame.ok()) {
      if (!IsRetriableError(frame.status())) return frame.status();
      for (const TopicPartition& tp : p.partitions) cluster_->Invalidate(tp.topic);
      continue;
    }
    RETURN_IF_ERROR(HandleFetchResponse(p, *frame));
    *fetched = true;
  }
  return absl::OkStatus();
}

absl::Status Consumer::HandleFetchResponse(const PendingFetch& fetch, const ResponseFrame& frame) {
  protocol::FetchResponse resp;
  protocol::Reader r(frame.body());
  RETURN_IF_ERROR(resp.Decode(r, fetch.version));
  if (resp.error_code != 0) return KafkaError(resp.error_code, "Fetch");
  for (const auto& t : resp.responses) {
    for (const auto& p : t.partitions) {
      TopicPartition tp{t.topic, p.partition_index};
      PartitionState* state = Find(tp);
      if (state == nullptr || state->next_fetch < 0 || !state->buffer.empty()) continue;
      if (p.error_code != 0) {
        RETURN_IF_ERROR(HandlePartitionError(tp, p.error_code));
        continue;
      }
      state->high_watermark = p.high_watermark;
      std::vector<ConsumerRecord> records;
      ASSIGN_OR_RETURN(
          FetchDecodeResult decoded,
          DecodeFetchedRecords(tp.topic, tp.partition, p.records.bytes, state->next_fetch,
                               {.check_crcs = options_.check_crcs}, &records));
      for (ConsumerRecord& rec : records) state->buffer.push_back(std::move(rec));
      state->next_fetch = decoded.next_offset;
    }
  }
  return absl::OkStatus();
}

absl::Status Consumer::HandlePartitionError(const TopicPartition& tp, int16_t code) {
  PartitionState* state = Find(tp);
  auto error = static_cast<protocol::ErrorCode>(code);
  if (error == protocol::ErrorCode::kOffsetOutOfRange) {
    if (options_.reset == OffsetReset::kNone) {
      return KafkaError(code,
                        absl::StrCat("Fetch ", tp.ToString(), " at offset ", state->next_fetch));
    }
    state->next_fetch = -1;  // the reset policy picks a new position
    return absl::OkStatus();
  }
  if (protocol::IsRetriable(error)) {
    cluster_->Invalidate(tp.topic);
    return absl::OkStatus();
  }
  return KafkaError(code, absl::StrCat("Fetch ", tp.ToString()));
}

}  // namespace strata::client
