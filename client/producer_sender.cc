// Producer's sender thread: closes batches that are due, sends ready batches to partition
// leaders, and handles the responses (completion, retry, or failure).
#include <cassert>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "client/producer.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "log/batch_format.h"
#include "log/record_batch.h"
#include "protocol/produce.h"

namespace strata::client {

namespace {

constexpr int16_t kProduceMaxVersion = 9;
constexpr size_t kMaxIdempotentInFlight = 5;  // the broker remembers five batches per producer
constexpr int64_t kMaxSenderWaitMs = 1000;    // delivery deadlines are checked at least this often

int64_t MonoMs() { return Clock::System()->MonotonicMs(); }

bool NeedsMetadata(const absl::Status& s) {
  std::optional<protocol::ErrorCode> code = KafkaErrorOf(s);
  if (!code.has_value()) return true;  // transport error: the leader may have moved
  using protocol::ErrorCode;
  return *code == ErrorCode::kUnknownTopicOrPartition || *code == ErrorCode::kNotLeaderOrFollower ||
         *code == ErrorCode::kLeaderNotAvailable || *code == ErrorCode::kFencedLeaderEpoch ||
         *code == ErrorCode::kUnknownLeaderEpoch;
}

}  // namespace

// One Produce request in flight: which batches it carries (looked up again by id when the
// response comes, so a batch failed meanwhile by Close is not touched).
struct Producer::Request {
  int32_t leader = -1;
  int16_t version = 0;
  std::vector<std::pair<TopicPartition, uint64_t>> batches;
};

void Producer::SenderLoop() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    std::vector<Completion> done;
    int64_t now = MonoMs();
    int64_t wake = now + kMaxSenderWaitMs;
    SealDue(now, &done);
    ExpireReady(now, &wake, &done);
    bool bump = needs_epoch_bump_ && in_flight_ == 0;
    std::vector<Batch*> ready;
    if (!needs_epoch_bump_) ready = CollectReady(now, &wake);
    if (done.empty() && ready.empty() && !bump) {
      sender_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, wake - now)));
      continue;
    }
    lock.unlock();
    RunCompletions(done);
    if (bump) BumpEpoch();
    if (!ready.empty()) Dispatch(std::move(ready));
    lock.lock();
    if (bump && needs_epoch_bump_) {
      sender_cv_.wait_for(lock, std::chrono::milliseconds(options_.retry_backoff_ms));
    }
  }
}

void Producer::ExpireReady(int64_t now_ms, int64_t* wake_ms, std::vector<Completion>* out) {
  for (auto& [tp, q] : queues_) {
    std::vector<Batch*> expired;
    for (auto& b : q.batches) {
      if (b->state != Batch::State::kReady) continue;
      if (b->deadline_ms <= now_ms) {
        expired.push_back(b.get());
      } else {
        *wake_ms = std::min(*wake_ms, b->deadline_ms);
      }
    }
    for (Batch* b : expired) {
      if (options_.idempotence && b->base_sequence >= 0) needs_epoch_bump_ = true;
      Finish(b,
             absl::DeadlineExceededError(
                 absl::StrCat("delivery to ", tp.ToString(), " timed out after ",
                              options_.delivery_timeout_ms, " ms (", b->attempts, " retries)")),
             -1, -1, out);
    }
  }
}

std::vector<Producer::Batch*> Producer::CollectReady(int64_t now_ms, int64_t* wake_ms) {
  std::vector<Batch*> out;
  size_t per_partition = options_.idempotence
                             ? std::min(options_.max_in_flight, kMaxIdempotentInFlight)
                             : options_.max_in_flight;
  for (auto& [tp, q] : queues_) {
    if (q.retrying) {
      if (q.in_flight > 0) continue;  // resend in order once everything is answered
      q.retrying = false;
    }
    // The first batch not in flight goes next; later ones wait for it (order).
    for (auto& b : q.batches) {
      if (b->state == Batch::State::kInFlight) continue;
      if (b->state == Batch::State::kOpen) {
        *wake_ms = std::min(*wake_ms, b->created_ms + options_.linger_ms);
      } else if (b->retry_at_ms > now_ms) {
        *wake_ms = std::min(*wake_ms, b->retry_at_ms);
      } else if (q.in_flight < per_partition) {
        if (options_.idempotence) Stamp(b.get());
        b->state = Batch::State::kInFlight;
        ++q.in_flight;
        ++in_flight_;
        out.push_back(b.get());
      }
      break;
    }
  }
  return out;
}

void Producer::Stamp(Batch* batch) {
  PartitionQueue& q = queues_[batch->tp];
  int32_t count = static_cast<int32_t>(batch->callbacks.size());
  if (batch->base_sequence < 0) {
    batch->base_sequence = q.next_sequence;
    // Sequences wrap at INT32_MAX to 0, as Kafka's do.
    q.next_sequence = static_cast<int32_t>((int64_t{q.next_sequence} + count) % (1ll << 31));
  }
  auto* p = reinterpret_cast<uint8_t*>(batch->bytes.data());
  assert(batch->bytes.size() >= batch_format::kHeaderSize);
  StoreBE64(p + batch_format::kProducerIdOffset, static_cast<uint64_t>(producer_id_));
  StoreBE16(p + batch_format::kProducerEpochOffset, static_cast<uint16_t>(producer_epoch_));
  StoreBE32(p + batch_format::kBaseSequenceOffset, static_cast<uint32_t>(batch->base_sequence));
  UpdateCrc(std::span<uint8_t>(p, batch->bytes.size()));
}

void Producer::Dispatch(std::vector<Batch*> batches) {
  // Runs without mu_: the batches are in flight, so only this thread's requests touch them.
  std::map<int32_t, std::vector<Batch*>> by_leader;
  for (Batch* b : batches) {
    absl::StatusOr<int32_t> leader = cluster_->Leader(b->tp.topic, b->tp.partition);
    if (leader.ok()) {
      by_leader[*leader].push_back(b);
      continue;
    }
    std::vector<Completion> out;
    {
      std::lock_guard lock(mu_);
      --queues_[b->tp].in_flight;
      --in_flight_;
      HandleBatchError(b, leader.status(), MonoMs(), &out);
    }
    RunCompletions(out);
  }
  for (auto& [leader, group] : by_leader) {
    // Requests of at most max_request_bytes (at least one batch each).
    std::vector<Batch*> request;
    size_t bytes = 0;
    for (Batch* b : group) {
      if (!request.empty() && bytes + b->bytes.size() > options_.max_request_bytes) {
        SendRequest(leader, std::move(request));
        request.clear();
        bytes = 0;
      }
      request.push_back(b);
      bytes += b->bytes.size();
    }
    SendRequest(leader, std::move(request));
  }
}

void Producer::SendRequest(int32_t leader, std::vector<Batch*> batches) {
  auto request = std::make_shared<Request>();
  request->leader = leader;
  protocol::ProduceRequest req;
  req.acks = options_.acks;
  req.timeout_ms = static_cast<int32_t>(std::min<int64_t>(options_.request_timeout_ms, INT32_MAX));
  for (Batch* b : batches) {
    request->batches.emplace_back(b->tp, b->id);
    if (req.topic_data.empty() || req.topic_data.back().name != b->tp.topic) {
      req.topic_data.push_back({.name = b->tp.topic, .partition_data = {}});
    }
    protocol::Records records;
    records.bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b->bytes.data()),
                                             b->bytes.size());
    req.topic_data.back().partition_data.push_back({.index = b->tp.partition, .records = records});
  }
  absl::StatusOr<std::shared_ptr<Connection>> conn = cluster_->ConnectionTo(leader);
  absl::StatusOr<int16_t> version =
      conn.ok() ? (*conn)->PickVersion(protocol::ApiKey::kProduce, kProduceMaxVersion)
                : absl::StatusOr<int16_t>(conn.status());
  if (!version.ok()) return OnResponse(request, version.status());
  request->version = *version;
  // The frame is encoded (copying the batch bytes) before SendAsync returns.
  (*conn)->SendAsync(
      req, *version,
      [this, request](absl::StatusOr<ResponseFrame> r) { OnResponse(request, std::move(r)); },
      SendOptions{.timeout_ms = 0, .expect_response = options_.acks != 0});
}

}  // namespace strata::client

namespace strata::client {

namespace {

// The result for one partition of a Produce response.
struct PartitionOutcome {
  absl::Status status;
  int64_t base_offset = -1;
  int64_t log_append_time = -1;
};

PartitionOutcome FindOutcome(const protocol::ProduceResponse& resp, const TopicPartition& tp) {
  for (const auto& t : resp.responses) {
    if (t.name != tp.topic) continue;
    for (const auto& p : t.partition_responses) {
      if (p.index != tp.partition) continue;
      // A duplicate of a batch the broker already has: delivered, offsets unknown.
      if (p.error_code == static_cast<int16_t>(protocol::ErrorCode::kDuplicateSequenceNumber)) {
        return {};
      }
      if (p.error_code != 0) {
        return {KafkaError(p.error_code, absl::StrCat("Produce ", tp.ToString()), p.error_message)};
      }
      return {absl::OkStatus(), p.base_offset, p.log_append_time_ms};
    }
  }
  return {KafkaError(protocol::ErrorCode::kUnknownServerError,
                     absl::StrCat("Produce ", tp.ToString()), "missing from the response")};
}

}  // namespace

void Producer::OnResponse(const std::shared_ptr<Request>& request,
                          absl::StatusOr<ResponseFrame> response) {
  protocol::ProduceResponse decoded;
  absl::Status transport = response.status();
  if (transport.ok() && options_.acks != 0) {
    protocol::Reader r(response->body());
    if (absl::Status s = decoded.Decode(r, request->version); !s.ok()) {
      transport = absl::UnavailableError(absl::StrCat("bad Produce response: ", s.message()));
    }
  }
  std::vector<Completion> out;
  {
    std::lock_guard lock(mu_);
    int64_t now = MonoMs();
    for (const auto& [tp, id] : request->batches) {
      PartitionQueue& q = queues_[tp];
      auto it = std::find_if(q.batches.begin(), q.batches.end(),
                             [id = id](const std::unique_ptr<Batch>& b) { return b->id == id; });
      if (it == q.batches.end() || (*it)->state != Batch::State::kInFlight) continue;  // closed
      Batch* b = it->get();
      --q.in_flight;
      --in_flight_;
      PartitionOutcome o;
      if (!transport.ok())
        o.status = transport;
      else if (options_.acks != 0)
        o = FindOutcome(decoded, tp);
      if (o.status.ok()) {
        Finish(b, o.status, o.base_offset, o.log_append_time, &out);
      } else {
        HandleBatchError(b, o.status, now, &out);
      }
    }
    sender_cv_.notify_one();
  }
  RunCompletions(out);
}

void Producer::HandleBatchError(Batch* batch, const absl::Status& status, int64_t now_ms,
                                std::vector<Completion>* out) {
  PartitionQueue& q = queues_[batch->tp];
  std::optional<protocol::ErrorCode> code = KafkaErrorOf(status);
  // With idempotence, a batch behind one that failed gets OUT_OF_ORDER_SEQUENCE_NUMBER: it is
  // resent, in order, after the failed one.
  bool behind_a_failure = options_.idempotence &&
                          code == protocol::ErrorCode::kOutOfOrderSequenceNumber &&
                          (q.retrying || needs_epoch_bump_);
  bool retriable = IsRetriableError(status) || behind_a_failure;
  if (retriable && NeedsMetadata(status)) cluster_->Invalidate(batch->tp.topic);
  if (retriable && !stopped_ && batch->attempts < options_.max_retries &&
      now_ms < batch->deadline_ms) {
    batch->state = Batch::State::kReady;
    ++batch->attempts;
    ++retries_;
    batch->retry_at_ms = now_ms + options_.retry_backoff_ms;
    q.retrying = true;
    return;
  }
  // Whether the broker kept this batch is unknown: later sequences cannot follow it safely.
  if (options_.idempotence && batch->base_sequence >= 0) needs_epoch_bump_ = true;
  Finish(batch, status, -1, -1, out);
}

}  // namespace strata::client
