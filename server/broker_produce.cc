// Produce and InitProducerId.
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/append_error.h"
#include "log/record_batch.h"
#include "protocol/errors.h"
#include "protocol/init_producer_id.h"
#include "protocol/produce.h"
#include "server/broker.h"

namespace strata::server {

using protocol::ErrorCode;

struct PartitionResult {
  ErrorCode error = ErrorCode::kNone;
  std::string message;
  AppendInfo info;
  LeaderEpoch epoch{0};  // the leadership the batch was appended under
};

namespace {

int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

// Kafka's LogValidator: a compacted topic keeps the latest record per key, so every record
// needs one (an empty key is a key; a null one is not).
absl::Status CheckKeysForCompaction(const RecordBatchView& batch, size_t max_decompressed_bytes) {
  ASSIGN_OR_RETURN(RecordReader reader, batch.Records(max_decompressed_bytes));
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&r));
    if (!more) return absl::OkStatus();
    if (!r.key.has_value()) {
      return absl::InvalidArgumentError("Compacted topic cannot accept message without key");
    }
  }
}

// Checks the records of one partition the way Kafka's LogValidator does for a v2 producer:
// exactly one batch, CRC, structure, codec allowed by the request version, size limit.
PartitionResult ValidateBatch(const protocol::Records& records, int16_t version,
                              const LogConfig& config, int64_t now_ms) {
  auto fail = [](ErrorCode e, std::string m) { return PartitionResult{e, std::move(m), {}}; };
  if (records.is_null || records.bytes.empty())
    return fail(ErrorCode::kInvalidRecord, "no records");
  if (records.bytes.size() > 16 && records.bytes[16] != batch_format::kMagic) {
    return fail(ErrorCode::kUnsupportedForMessageFormat,
                absl::StrCat("magic ", static_cast<int>(records.bytes[16]),
                             " message sets are not supported; use a client with message "
                             "format v2 (Kafka 0.11+)"));
  }
  auto view = RecordBatchView::Parse(records.bytes);
  if (!view.ok()) {
    return fail(
        IsCorruption(view.status()) ? ErrorCode::kCorruptMessage : ErrorCode::kInvalidRecord,
        std::string(view.status().message()));
  }
  if (view->size_bytes() != records.bytes.size()) {
    return fail(ErrorCode::kInvalidRecord, "a produce request must carry exactly one batch");
  }
  if (view->size_bytes() > static_cast<size_t>(config.max_message_bytes)) {
    return fail(ErrorCode::kMessageTooLarge,
                absl::StrCat("batch of ", view->size_bytes(), " bytes exceeds max.message.bytes ",
                             config.max_message_bytes));
  }
  if (view->compression() == Compression::kZstd && version < 7) {
    return fail(ErrorCode::kUnsupportedCompressionType, "zstd needs Produce v7");
  }
  if (view->is_control())
    return fail(ErrorCode::kInvalidRecord, "clients may not send control batches");
  const size_t max_decompressed = 4 * static_cast<size_t>(config.max_message_bytes) + (1 << 20);
  if (absl::Status s = view->ValidateRecords(/*strict=*/true, max_decompressed); !s.ok()) {
    return fail(ErrorCode::kInvalidRecord, std::string(s.message()));
  }
  if (config.cleanup_compact) {
    if (absl::Status s = CheckKeysForCompaction(*view, max_decompressed); !s.ok()) {
      return fail(ErrorCode::kInvalidRecord, std::string(s.message()));
    }
  }
  if (config.message_timestamp_difference_max_ms != LogConfig::kNever &&
      config.timestamp_type == TimestampType::kCreateTime &&
      std::abs(view->max_timestamp() - now_ms) > config.message_timestamp_difference_max_ms) {
    return fail(ErrorCode::kInvalidTimestamp, "timestamp out of the allowed range");
  }
  return {};
}

ErrorCode AppendErrorCode(const absl::Status& s) {
  if (auto kind = GetAppendError(s)) {
    switch (*kind) {
      case AppendError::kOutOfOrderSequence:
        return ErrorCode::kOutOfOrderSequenceNumber;
      case AppendError::kInvalidProducerEpoch:
        return ErrorCode::kInvalidProducerEpoch;
      case AppendError::kTransactionsUnsupported:
        return ErrorCode::kInvalidTxnState;
    }
  }
  if (IsNoSpace(s) || absl::IsFailedPrecondition(s) || absl::IsInternal(s)) {
    return ErrorCode::kKafkaStorageError;
  }
  if (absl::IsInvalidArgument(s)) return ErrorCode::kInvalidRecord;
  return ErrorCode::kUnknownServerError;
}

}  // namespace

// acks=all in a cluster: one partition of the response waits for its high watermark.
struct ProduceWait {
  size_t topic = 0;
  size_t partition = 0;
  TopicPartition tp;
  LeaderEpoch epoch{0};
  Offset end;
  int32_t min_insync = 1;
};

// The produce response, sent once every partition that waits for replication has its answer.
struct Broker::PendingProduce {
  RequestContext ctx;
  absl::Mutex mu;
  protocol::ProduceResponse resp ABSL_GUARDED_BY(mu);
  size_t remaining ABSL_GUARDED_BY(mu) = 0;
};

void Broker::AwaitReplication(const RequestContext& ctx, protocol::ProduceResponse resp,
                              std::vector<ProduceWait> waits, int64_t timeout_ms) {
  if (waits.empty() || replicas_ == nullptr) return Reply(ctx, resp);
  auto pending = std::make_shared<PendingProduce>();
  pending->ctx = ctx;
  {
    absl::MutexLock lock(&pending->mu);
    pending->resp = std::move(resp);
    pending->remaining = waits.size();
  }
  for (const ProduceWait& w : waits) {
    auto answer = [this, pending, w](ErrorCode e) {
      absl::MutexLock lock(&pending->mu);
      auto& pr = pending->resp.responses[w.topic].partition_responses[w.partition];
      if (e != ErrorCode::kNone && pr.error_code == Code(ErrorCode::kNone)) {
        pr.error_code = Code(e);
        pr.base_offset = -1;
        LOG_EVENT(Debug, "produce.replication_error")
            .Kv("partition", absl::StrCat(w.tp.topic, "-", w.tp.partition))
            .Kv("error", protocol::ErrorName(e));
      }
      if (--pending->remaining == 0) Reply(pending->ctx, pending->resp);
    };
    replicas_->WaitForAcks(w.tp, w.epoch, w.end, w.min_insync, timeout_ms, std::move(answer));
  }
}

PartitionResult Broker::ProduceToPartition(const RequestContext& ctx, Partition& partition,
                                           const protocol::Records& records, int16_t acks,
                                           int64_t now) {
  absl::ReaderMutexLock role(&partition.role_lock());
  if (!partition.accepts_appends()) return {ErrorCode::kNotLeaderOrFollower, "", {}};
  // In a cluster, a leader whose session may have expired may have been replaced already: an
  // acks=0/1 write it took could be acknowledged and then lost (docs/operations.md).
  if (replicas_ != nullptr && !replicas_->SessionAlive()) {
    return {ErrorCode::kNotLeaderOrFollower, "this broker's cluster session has expired", {}};
  }
  LogConfig config = partition.log().config();
  PartitionResult result = ValidateBatch(records, ctx.version(), config, now);
  if (result.error != ErrorCode::kNone) return result;
  if (acks == -1 && replicas_ != nullptr &&
      !replicas_->EnoughReplicas(partition.tp(), config.min_insync_replicas)) {
    return {
        ErrorCode::kNotEnoughReplicas,
        absl::StrCat("the ISR is smaller than min.insync.replicas=", config.min_insync_replicas),
        {}};
  }
  // The records view points into the connection's receive buffer, which is writable: the
  // leader stamps base offset and epoch in place (no copy).
  std::span<uint8_t> bytes(const_cast<uint8_t*>(records.bytes.data()), records.bytes.size());
  result.epoch = partition.leader_epoch();
  auto info = partition.log().Append(bytes, {.leader_epoch = result.epoch});
  if (!info.ok()) return {AppendErrorCode(info.status()), std::string(info.status().message()), {}};
  result.info = *info;
  if (!info->duplicate) partition.NotifyAppend();
  return result;
}

namespace {

// Why a partition of a Produce request is refused before its records are looked at, if it is.
std::optional<PartitionResult> Refusal(int16_t version, const protocol::ProduceRequest& req,
                                       const std::string& topic, const Partition* partition) {
  if (version < 3) {
    return PartitionResult{ErrorCode::kUnsupportedForMessageFormat,
                           "Produce v0-2 (message format v0/v1) is not supported"};
  }
  if (req.transactional_id.has_value()) {
    return PartitionResult{ErrorCode::kTransactionalIdAuthorizationFailed,
                           "transactions are not supported"};
  }
  if (IsInternalTopic(topic)) {
    return PartitionResult{ErrorCode::kInvalidTopicException,
                           topic + " is an internal topic; only the broker writes to it"};
  }
  if (partition == nullptr) return PartitionResult{ErrorCode::kUnknownTopicOrPartition, ""};
  return std::nullopt;
}

template <typename PartitionResponse>
void FillResponse(PartitionResponse& pr, const PartitionResult& result, const std::string& topic) {
  pr.error_code = Code(result.error);
  if (!result.message.empty()) pr.error_message = result.message;
  if (result.error == ErrorCode::kNone) {
    pr.base_offset = result.info.first_offset.value();
    pr.log_append_time_ms = result.info.log_append_time;
    pr.log_start_offset = result.info.log_start_offset.value();
  } else if (result.error != ErrorCode::kUnknownTopicOrPartition) {
    LOG_EVENT(Debug, "produce.partition_error")
        .Kv("topic", topic)
        .Kv("partition", pr.index)
        .Kv("error", protocol::ErrorName(result.error))
        .Kv("message", result.message);
  }
}

}  // namespace

void Broker::HandleProduce(RequestContext& ctx, protocol::Reader& r) {
  protocol::ProduceRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::ProduceResponse resp;
  std::vector<FlushService::Item> to_flush;
  std::vector<ProduceWait> waits;
  int64_t now = clock_->NowMs();
  for (const auto& topic : req.topic_data) {
    auto& tr = resp.responses.emplace_back();
    tr.name = topic.name;
    bool exists = ctx.version() >= 3 && MaybeAutoCreate(topic.name, true);
    for (const auto& part : topic.partition_data) {
      auto& pr = tr.partition_responses.emplace_back();
      pr.index = part.index;
      pr.base_offset = -1;
      pr.log_append_time_ms = -1;
      pr.log_start_offset = -1;
      std::shared_ptr<Partition> partition =
          exists ? partitions_->Get(topic.name, part.index) : nullptr;
      std::optional<PartitionResult> result =
          Refusal(ctx.version(), req, topic.name, partition.get());
      if (!result.has_value()) {
        result = ProduceToPartition(ctx, *partition, part.records, req.acks, now);
        const Offset end = result->info.last_offset + 1;
        if (result->error == ErrorCode::kNone && result->info.flush_due) {
          to_flush.push_back({std::shared_ptr<Log>(partition, &partition->log()), end});
        }
        if (result->error == ErrorCode::kNone && req.acks == -1 && replicas_ != nullptr) {
          waits.push_back({resp.responses.size() - 1, tr.partition_responses.size() - 1,
                           partition->tp(), result->epoch, end,
                           partition->log().config().min_insync_replicas});
        }
      }
      FillResponse(pr, *result, topic.name);
    }
  }
  if (req.acks == 0) return ctx.responder.Send(Response::None());
  FinishProduce(ctx, std::move(resp), std::move(to_flush), std::move(waits), req.timeout_ms);
}

void Broker::FinishProduce(const RequestContext& ctx, protocol::ProduceResponse resp,
                           std::vector<FlushService::Item> to_flush, std::vector<ProduceWait> waits,
                           int64_t timeout_ms) {
  if (to_flush.empty()) return AwaitReplication(ctx, std::move(resp), std::move(waits), timeout_ms);
  // The flush policy wants these offsets durable before the producer hears about them.
  flusher_->Submit(std::move(to_flush),
                   [this, ctx, resp = std::move(resp), waits = std::move(waits),
                    timeout_ms](absl::Status s) mutable {
                     if (!s.ok()) {
                       for (auto& t : resp.responses) {
                         for (auto& p : t.partition_responses) {
                           if (p.error_code == Code(ErrorCode::kNone)) {
                             p.error_code = Code(ErrorCode::kKafkaStorageError);
                             p.error_message = std::string(s.message());
                           }
                         }
                       }
                       waits.clear();
                     }
                     AwaitReplication(ctx, std::move(resp), std::move(waits), timeout_ms);
                   });
}

void Broker::HandleInitProducerId(RequestContext& ctx, protocol::Reader& r) {
  protocol::InitProducerIdRequest req;
  if (absl::Status s = req.Decode(r, ctx.version()); !s.ok()) return Reject(ctx, s);
  protocol::InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  if (req.transactional_id.has_value()) {
    resp.error_code = Code(ErrorCode::kTransactionalIdAuthorizationFailed);
    return Reply(ctx, resp);
  }
  if (req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < INT16_MAX - 1) {
    // KIP-360: an idempotent producer bumping its own epoch keeps its id.
    resp.producer_id = req.producer_id;
    resp.producer_epoch = static_cast<int16_t>(req.producer_epoch + 1);
    return Reply(ctx, resp);
  }
  auto id = producer_ids_->Next();
  if (!id.ok()) {
    LOG_EVENT(Error, "producer_ids.failed").Kv("error", id.status().ToString());
    resp.error_code = Code(ErrorCode::kKafkaStorageError);
    return Reply(ctx, resp);
  }
  resp.producer_id = *id;
  resp.producer_epoch = 0;
  Reply(ctx, resp);
}

}  // namespace strata::server
