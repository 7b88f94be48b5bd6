// Fetch (with long polling), ListOffsets and OffsetForLeaderEpoch.
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "protocol/list_offsets.h"
#include "protocol/offset_for_leader_epoch.h"
#include "server/broker.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

// The epoch in which `offset` was written: the last epoch starting at or before it.
int32_t EpochOf(Log& log, Offset offset) {
  int32_t epoch = -1;
  for (const EpochEntry& e : log.leader_epochs().Entries()) {
    if (e.start_offset <= offset) epoch = e.epoch.value();
  }
  return epoch;
}

// The error for a request naming `current_leader_epoch` (-1: none) at a partition of this broker:
// not the leader, or a client that knows an older (FENCED) or newer (UNKNOWN) epoch.
ErrorCode LeaderError(const Partition& partition, int32_t current_leader_epoch) {
  if (!partition.is_leader()) return ErrorCode::kNotLeaderOrFollower;
  if (current_leader_epoch >= 0) {
    if (current_leader_epoch < partition.leader_epoch().value()) {
      return ErrorCode::kFencedLeaderEpoch;
    }
    if (current_leader_epoch > partition.leader_epoch().value()) {
      return ErrorCode::kUnknownLeaderEpoch;
    }
  }
  return ErrorCode::kNone;
}

}  // namespace

// One evaluation of a fetch against the logs: the response and the file slices it splices in.
struct FetchResult {
  protocol::FetchResponse response;
  std::vector<FileSlice> slices;
  uint64_t bytes = 0;
  bool has_error = false;
};

// A fetch waiting (long poll) for min_bytes of data or max_wait_ms. Lives on the reactor thread
// of its connection: appends anywhere post a re-evaluation to it; its timer completes it.
class DelayedFetch : public AppendWaiter, public std::enable_shared_from_this<DelayedFetch> {
 public:
  DelayedFetch(Broker* broker, RequestContext ctx, protocol::FetchRequest req)
      : broker_(broker), ctx_(std::move(ctx)), req_(std::move(req)) {}

  static FetchResult Evaluate(Broker* broker, const protocol::FetchRequest& req, int16_t version);
  static void Send(Broker* broker, const RequestContext& ctx, FetchResult result);

  // Registers with every partition, then evaluates (so an append in between is not missed).
  void Park() {
    Reactor* reactor = ctx_.responder.reactor();
    std::weak_ptr<DelayedFetch> weak = weak_from_this();
    timer_ = reactor->AddTimer(Clock::System()->MonotonicMs() + req_.max_wait_ms, [weak] {
      if (auto self = weak.lock()) self->Try(/*timed_out=*/true);
    });
    self_ = shared_from_this();  // the timer and waiters hold only weak references
    Try(false);
  }

  // Completes the fetch now with whatever it has (shutdown).
  void Expire() {
    std::weak_ptr<DelayedFetch> weak = weak_from_this();
    ctx_.responder.reactor()->Post([weak] {
      if (auto self = weak.lock()) self->Try(/*timed_out=*/true);
    });
  }

  void OnAppend() override {
    std::weak_ptr<DelayedFetch> weak = weak_from_this();
    ctx_.responder.reactor()->Post([weak] {
      if (auto self = weak.lock()) self->Try(false);
    });
  }

 private:
  void Register() {
    for (const auto& t : req_.topics) {
      for (const auto& p : t.partitions) {
        if (auto partition = broker_->partitions_->Get(t.topic, p.partition)) {
          partition->AddWaiter(weak_from_this());
        }
      }
    }
  }

  void Try(bool timed_out) {
    if (done_) return;
    Register();
    FetchResult result = Evaluate(broker_, req_, ctx_.version());
    if (!timed_out && !result.has_error &&
        result.bytes < static_cast<uint64_t>(std::max(req_.min_bytes, 1))) {
      return;  // keep waiting
    }
    done_ = true;
    ctx_.responder.reactor()->CancelTimer(timer_);
    Send(broker_, ctx_, std::move(result));
    self_.reset();  // may destroy this
  }

  Broker* broker_;
  RequestContext ctx_;
  protocol::FetchRequest req_;
  Reactor::TimerId timer_ = 0;
  bool done_ = false;
  std::shared_ptr<DelayedFetch> self_;
};

FetchResult DelayedFetch::Evaluate(Broker* broker, const protocol::FetchRequest& req,
                                   int16_t version) {
  FetchResult out;
  out.response.session_id = 0;  // no fetch sessions: clients send full requests
  int64_t budget = version >= 3 && req.max_bytes > 0 ? req.max_bytes : INT32_MAX;
  for (const auto& t : req.topics) {
    auto& tr = out.response.responses.emplace_back();
    tr.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition;
      pr.high_watermark = -1;
      pr.last_stable_offset = -1;
      pr.log_start_offset = -1;
      auto partition = broker->partitions_->Get(t.topic, p.partition);
      if (partition == nullptr) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        out.has_error = true;
        continue;
      }
      if (ErrorCode e = LeaderError(*partition, p.current_leader_epoch); e != ErrorCode::kNone) {
        pr.error_code = Code(e);
        out.has_error = true;
        continue;
      }
      Log& log = partition->log();
      uint64_t max = static_cast<uint64_t>(
          std::max<int64_t>(0, std::min<int64_t>(p.partition_max_bytes, budget)));
      // KIP-74: the first partition with data returns at least one whole batch.
      bool first = out.bytes == 0;
      // Followers copy everything the leader has; consumers see what the ISR has.
      Offset up_to = broker->ReadsToLogEnd(partition->tp(), req.replica_id) ? log.log_end_offset()
                                                                            : log.high_watermark();
      auto read = log.Read(Offset(p.fetch_offset), max, up_to, first);
      pr.high_watermark = log.high_watermark().value();
      pr.last_stable_offset = pr.high_watermark;
      pr.log_start_offset = log.log_start_offset().value();
      if (!read.ok()) {
        pr.error_code = Code(absl::IsOutOfRange(read.status()) ? ErrorCode::kOffsetOutOfRange
                                                               : ErrorCode::kKafkaStorageError);
        out.has_error = true;
        continue;
      }
      if (read->slice.length > 0) {
        pr.records.splice_id = static_cast<int32_t>(out.slices.size());
        pr.records.spliced_length = read->slice.length;
        out.slices.push_back(read->slice);
        out.bytes += read->slice.length;
        budget -= static_cast<int64_t>(read->slice.length);
      }
    }
  }
  return out;
}

void DelayedFetch::Send(Broker* broker, const RequestContext& ctx, FetchResult result) {
  (void)broker;
  std::string frame;
  protocol::Writer w(&frame);
  protocol::AppendResponseFrame(w, ctx.header.correlation_id, ctx.version(), result.response);
  ctx.responder.Send(EncodeResponse(std::move(frame), w.splices(), result.slices));
}

void Broker::HandleFetch(RequestContext& ctx, protocol::Reader& r) {
  protocol::FetchRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  if (req.replica_id >= 0 && replicas_ != nullptr) {
    // A follower's fetch offset is its log end: what it has, for the ISR and high watermark —
    // counted only from a follower on this leader's epoch whose offset lies within the log (a
    // follower on an older epoch may hold a diverged tail it has yet to cut).
    for (const auto& t : req.topics) {
      for (const auto& p : t.partitions) {
        auto partition = partitions_->Get(t.topic, p.partition);
        if (partition == nullptr || !partition->is_leader() ||
            p.current_leader_epoch != partition->leader_epoch().value() ||
            p.fetch_offset > partition->log().log_end_offset().value() ||
            p.fetch_offset < partition->log().log_start_offset().value()) {
          continue;
        }
        replicas_->OnFollowerFetch({t.topic, p.partition}, req.replica_id, Offset(p.fetch_offset));
      }
    }
  }
  FetchResult result = DelayedFetch::Evaluate(this, req, ctx.version());
  if (req.max_wait_ms <= 0 || result.has_error ||
      result.bytes >= static_cast<uint64_t>(std::max(req.min_bytes, 1)) || shutting_down_.load()) {
    return DelayedFetch::Send(this, ctx, std::move(result));
  }
  auto delayed = std::make_shared<DelayedFetch>(this, ctx, std::move(req));
  {
    absl::MutexLock lock(&delayed_mu_);
    std::erase_if(delayed_, [](const auto& w) { return w.expired(); });
    delayed_.push_back(delayed);
  }
  delayed->Park();
}

void Broker::ExpireDelayedFetches() {
  std::vector<std::weak_ptr<DelayedFetch>> all;
  {
    absl::MutexLock lock(&delayed_mu_);
    all.swap(delayed_);
  }
  for (auto& w : all) {
    if (auto f = w.lock()) f->Expire();
  }
}

namespace {

// ListOffsets for one partition: -1 latest, -2 earliest, -3 the largest timestamp (KIP-734), else
// the first record at or after the timestamp. A consumer (not `to_log_end`) learns only of
// offsets below the high watermark, as in Kafka.
absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> LookUpOffset(Log& log,
                                                                           int64_t timestamp,
                                                                           bool to_log_end) {
  const Offset visible_end = to_log_end ? log.log_end_offset() : log.high_watermark();
  if (timestamp == -1) return std::optional(std::make_pair(TimestampMs{-1}, visible_end));
  if (timestamp == -2)
    return std::optional(std::make_pair(TimestampMs{-1}, log.log_start_offset()));
  absl::StatusOr<std::optional<std::pair<TimestampMs, Offset>>> found =
      timestamp == -3 ? log.FindMaxTimestamp() : log.FindOffsetByTimestamp(timestamp);
  if (found.ok() && found->has_value() && (*found)->second >= visible_end) {
    return std::optional<std::pair<TimestampMs, Offset>>();
  }
  return found;
}

}  // namespace

void Broker::HandleListOffsets(RequestContext& ctx, protocol::Reader& r) {
  protocol::ListOffsetsRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::ListOffsetsResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = p.partition_index;
      pr.timestamp = -1;
      pr.offset = -1;
      pr.leader_epoch = -1;
      auto partition = partitions_->Get(t.name, p.partition_index);
      if (partition == nullptr) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      if (ErrorCode e = LeaderError(*partition, p.current_leader_epoch); e != ErrorCode::kNone) {
        pr.error_code = Code(e);
        continue;
      }
      Log& log = partition->log();
      auto found = LookUpOffset(log, p.timestamp, ReadsToLogEnd(partition->tp(), req.replica_id));
      if (!found.ok()) {
        pr.error_code = Code(ErrorCode::kKafkaStorageError);
        continue;
      }
      if (found->has_value()) {
        pr.timestamp = (*found)->first;
        pr.offset = (*found)->second.value();
        pr.leader_epoch = EpochOf(log, (*found)->second);
      }
    }
  }
  Reply(ctx, resp);
}

void Broker::HandleOffsetForLeaderEpoch(RequestContext& ctx, protocol::Reader& r) {
  protocol::OffsetForLeaderEpochRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::OffsetForLeaderEpochResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition = p.partition;
      pr.leader_epoch = -1;
      pr.end_offset = -1;
      auto partition = partitions_->Get(t.topic, p.partition);
      if (partition == nullptr) {
        pr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      if (ErrorCode e = LeaderError(*partition, p.current_leader_epoch); e != ErrorCode::kNone) {
        pr.error_code = Code(e);
        continue;
      }
      Log& log = partition->log();
      auto [epoch, end] =
          log.leader_epochs().EndOffsetFor(LeaderEpoch(p.leader_epoch), log.log_end_offset());
      pr.leader_epoch = epoch.value();
      pr.end_offset = end.value();
    }
  }
  Reply(ctx, resp);
}

}  // namespace strata::server
