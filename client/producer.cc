// Producer: creation, the record accumulator, Flush and Close. The sender thread is in
// producer_sender.cc.
#include "client/producer.h"

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "common/clock.h"
#include "protocol/init_producer_id.h"

namespace strata::client {

namespace {

int64_t MonoMs() { return Clock::System()->MonotonicMs(); }

std::optional<absl::string_view> View(const std::optional<std::string>& s) {
  if (!s.has_value()) return std::nullopt;
  return absl::string_view(*s);
}

size_t EstimateBytes(const ProducerRecord& r) {
  size_t n = 32 + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
  for (const HeaderField& h : r.headers) n += 8 + h.key.size() + (h.value ? h.value->size() : 0);
  return n;
}

absl::Status CheckOptions(const ProducerOptions& o) {
  if (o.bootstrap.empty()) return absl::InvalidArgumentError("no bootstrap servers");
  if (o.acks != 0 && o.acks != 1 && o.acks != -1) {
    return absl::InvalidArgumentError(absl::StrCat("acks must be 0, 1 or -1, not ", o.acks));
  }
  if (o.idempotence && o.acks != -1) {
    return absl::InvalidArgumentError("idempotence requires acks=-1 (all)");
  }
  if (o.batch_bytes == 0 || o.buffer_bytes < o.batch_bytes) {
    return absl::InvalidArgumentError("batch_bytes must be > 0 and at most buffer_bytes");
  }
  return absl::OkStatus();
}

// InitProducerId: a new id, or (KIP-360, v3+) the next epoch of `producer_id`.
absl::StatusOr<std::pair<int64_t, int16_t>> RequestProducerId(Cluster& cluster, int64_t producer_id,
                                                              int16_t epoch) {
  ASSIGN_OR_RETURN(std::shared_ptr<Connection> conn, cluster.AnyConnection());
  ASSIGN_OR_RETURN(int16_t version, conn->PickVersion(protocol::ApiKey::kInitProducerId, 4));
  protocol::InitProducerIdRequest req;
  req.transactional_id.reset();
  req.transaction_timeout_ms = 60'000;
  if (version >= 3) {
    req.producer_id = producer_id;
    req.producer_epoch = epoch;
  }
  ASSIGN_OR_RETURN(auto resp,
                   (conn->Call<protocol::InitProducerIdRequest, protocol::InitProducerIdResponse>(
                       req, version)));
  if (resp.error_code != 0) return KafkaError(resp.error_code, "InitProducerId");
  return std::make_pair(resp.producer_id, resp.producer_epoch);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(ProducerOptions options) {
  RETURN_IF_ERROR(CheckOptions(options));
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  std::unique_ptr<Producer> p(new Producer(std::move(options)));
  const ProducerOptions& o = p->options_;
  ClusterOptions cluster = ClusterOptionsFor(o);
  cluster.connection.max_in_flight = o.max_in_flight;
  cluster.allow_auto_topic_creation = true;
  ASSIGN_OR_RETURN(p->cluster_, Cluster::Connect(std::move(cluster)));
  if (o.idempotence) {
    ASSIGN_OR_RETURN(auto id, RequestProducerId(*p->cluster_, -1, -1));
    std::tie(p->producer_id_, p->producer_epoch_) = id;
  }
  p->sender_ = std::thread([raw = p.get()] { raw->SenderLoop(); });
  return p;
}

Producer::~Producer() {
  absl::Status s = Close(options_.delivery_timeout_ms);
  IgnoreError(s, "undelivered records were reported through their callbacks");
  // Connections go first: their reader threads may still be running OnResponse.
  cluster_.reset();
}

int64_t Producer::producer_id() const {
  std::lock_guard lock(mu_);
  return producer_id_;
}

uint64_t Producer::retries() const {
  std::lock_guard lock(mu_);
  return retries_;
}

void Producer::BumpEpoch() {
  int64_t id;
  int16_t epoch;
  {
    std::lock_guard lock(mu_);
    id = producer_id_;
    epoch = producer_epoch_;
  }
  auto bumped = RequestProducerId(*cluster_, id, epoch);
  std::lock_guard lock(mu_);
  if (!bumped.ok()) return;  // the sender tries again after a backoff
  std::tie(producer_id_, producer_epoch_) = *bumped;
  needs_epoch_bump_ = false;
  for (auto& [tp, q] : queues_) {
    q.next_sequence = 0;
    for (auto& b : q.batches) b->base_sequence = -1;  // none is in flight now
  }
}

absl::StatusOr<int32_t> Producer::PartitionFor(const std::string& topic, absl::string_view key) {
  ASSIGN_OR_RETURN(int32_t count, cluster_->PartitionCount(topic));
  if (count <= 0) return absl::UnavailableError(absl::StrCat(topic, " has no partitions"));
  return KeyPartition(key, count);
}

absl::StatusOr<int32_t> Producer::PartitionCountBlocking(const std::string& topic) {
  int64_t deadline = MonoMs() + options_.max_block_ms;
  while (true) {
    absl::StatusOr<int32_t> count = cluster_->PartitionCount(topic);
    if (count.ok() || !IsRetriableError(count.status()) || MonoMs() >= deadline) return count;
    {
      std::lock_guard lock(mu_);
      if (closing_) return count;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min(options_.retry_backoff_ms, std::max<int64_t>(1, deadline - MonoMs()))));
  }
}

absl::StatusOr<int32_t> Producer::ChoosePartition(const ProducerRecord& record, int32_t count) {
  if (count <= 0) return absl::UnavailableError(absl::StrCat(record.topic, " has no partitions"));
  if (record.partition >= 0) {
    if (record.partition >= count) {
      return KafkaError(protocol::ErrorCode::kUnknownTopicOrPartition,
                        absl::StrCat(record.topic, "-", record.partition),
                        absl::StrCat("the topic has ", count, " partitions"));
    }
    return record.partition;
  }
  if (record.key.has_value()) return KeyPartition(*record.key, count);
  auto it = sticky_
                .try_emplace(record.topic, std::hash<std::string>()(record.topic) ^
                                               static_cast<uint64_t>(MonoMs()))
                .first;
  return it->second.Partition(count);
}

absl::Status Producer::WaitForSpace(std::unique_lock<std::mutex>& lock, size_t bytes) {
  auto fits = [&] {
    return closing_ || buffered_bytes_ == 0 || buffered_bytes_ + bytes <= options_.buffer_bytes;
  };
  if (!state_cv_.wait_for(lock, std::chrono::milliseconds(options_.max_block_ms), fits)) {
    return absl::ResourceExhaustedError(absl::StrCat("producer buffer full (", buffered_bytes_,
                                                     " bytes waiting) for ", options_.max_block_ms,
                                                     " ms"));
  }
  if (closing_) return absl::FailedPreconditionError("the producer is closed");
  return absl::OkStatus();
}

absl::Status Producer::Send(ProducerRecord record, DeliveryCallback done) {
  auto fail = [&](const absl::Status& s) {
    if (done) done(DeliveryReport{.partition = record.partition, .error = s});
    return s;
  };
  absl::StatusOr<int32_t> count = PartitionCountBlocking(record.topic);
  if (!count.ok()) return fail(count.status());
  int64_t ts = record.timestamp_ms >= 0 ? record.timestamp_ms : Clock::System()->NowMs();
  std::vector<Completion> failed;
  absl::Status status;
  {
    std::unique_lock lock(mu_);
    absl::StatusOr<int32_t> partition = ChoosePartition(record, *count);
    status = partition.ok() ? WaitForSpace(lock, EstimateBytes(record)) : partition.status();
    if (status.ok()) {
      record.partition = *partition;
      Batch* b = OpenBatch({record.topic, *partition}, EstimateBytes(record), &failed);
      size_t before = b->builder->uncompressed_size_bytes();
      b->builder->Add(View(record.key), View(record.value), ts, record.headers);
      size_t added = b->builder->uncompressed_size_bytes() - before;
      b->size_bytes += added;
      buffered_bytes_ += added;
      b->callbacks.push_back(std::move(done));
      b->timestamps.push_back(ts);
      if (b->builder->uncompressed_size_bytes() >= options_.batch_bytes) Seal(b, &failed);
    }
  }
  RunCompletions(failed);
  if (!status.ok()) return fail(status);
  return absl::OkStatus();
}

std::future<DeliveryReport> Producer::Send(ProducerRecord record) {
  auto promise = std::make_shared<std::promise<DeliveryReport>>();
  std::future<DeliveryReport> f = promise->get_future();
  absl::Status s =
      Send(std::move(record), [promise](const DeliveryReport& r) { promise->set_value(r); });
  IgnoreError(s, "the future carries it");
  return f;
}

std::future<DeliveryReport> Producer::Send(const std::string& topic,
                                           std::optional<absl::string_view> key,
                                           std::optional<absl::string_view> value,
                                           std::vector<HeaderField> headers, int32_t partition,
                                           int64_t timestamp_ms) {
  ProducerRecord r{.topic = topic,
                   .headers = std::move(headers),
                   .partition = partition,
                   .timestamp_ms = timestamp_ms};
  if (key.has_value()) r.key = std::string(*key);
  if (value.has_value()) r.value = std::string(*value);
  return Send(std::move(r));
}

}  // namespace strata::client

namespace strata::client {

Producer::Batch* Producer::OpenBatch(const TopicPartition& tp, size_t record_bytes,
                                     std::vector<Completion>* failed) {
  PartitionQueue& q = queues_[tp];
  Batch* last = nullptr;
  if (!q.batches.empty() && q.batches.back()->state == Batch::State::kOpen) {
    last = q.batches.back().get();
    // A record that does not fit closes the batch; a record larger than a batch gets its own.
    if (!last->builder->empty() &&
        last->builder->uncompressed_size_bytes() + record_bytes > options_.batch_bytes) {
      Seal(last, failed);
      last = nullptr;
    }
  }
  if (last != nullptr) return last;
  auto batch = std::make_unique<Batch>();
  batch->id = next_batch_id_++;
  batch->tp = tp;
  batch->builder = std::make_unique<RecordBatchBuilder>(BatchOptions{
      .compression = options_.compression, .compression_level = options_.compression_level});
  batch->created_ms = MonoMs();
  batch->deadline_ms = batch->created_ms + options_.delivery_timeout_ms;
  live_batches_.insert(batch->id);
  q.batches.push_back(std::move(batch));
  sender_cv_.notify_one();  // it keeps the linger timer
  return q.batches.back().get();
}

void Producer::Seal(Batch* batch, std::vector<Completion>* failed) {
  assert(batch->state == Batch::State::kOpen);
  absl::StatusOr<std::string> built = batch->builder->Build();
  batch->builder.reset();
  auto it = sticky_.find(batch->tp.topic);
  if (it != sticky_.end() && it->second.current() == batch->tp.partition) it->second.NextBatch();
  if (!built.ok()) return Finish(batch, built.status(), -1, -1, failed);
  batch->bytes = std::move(*built);
  batch->state = Batch::State::kReady;
  sender_cv_.notify_one();
}

void Producer::SealDue(int64_t now_ms, std::vector<Completion>* failed) {
  for (auto& [tp, q] : queues_) {
    if (q.batches.empty()) continue;
    Batch* last = q.batches.back().get();
    if (last->state != Batch::State::kOpen) continue;
    if (closing_ || last->id < flush_before_ || now_ms - last->created_ms >= options_.linger_ms) {
      Seal(last, failed);
    }
  }
}

void Producer::Finish(Batch* batch, const absl::Status& status, int64_t base_offset,
                      int64_t log_append_time, std::vector<Completion>* out) {
  for (size_t i = 0; i < batch->callbacks.size(); ++i) {
    DeliveryReport r;
    r.partition = batch->tp.partition;
    r.offset = status.ok() && base_offset >= 0 ? base_offset + static_cast<int64_t>(i) : -1;
    r.timestamp = log_append_time >= 0 ? log_append_time : batch->timestamps[i];
    r.error = status;
    if (!batch->callbacks[i]) continue;
    out->push_back({std::move(batch->callbacks[i]), std::move(r)});
    ++completions_pending_;
  }
  buffered_bytes_ -= batch->size_bytes;
  live_batches_.erase(batch->id);
  PartitionQueue& q = queues_[batch->tp];
  std::erase_if(q.batches, [batch](const std::unique_ptr<Batch>& b) { return b.get() == batch; });
  state_cv_.notify_all();
}

void Producer::RunCompletions(std::vector<Completion>& completions) {
  if (completions.empty()) return;
  for (Completion& c : completions) c.done(c.report);
  std::lock_guard lock(mu_);
  completions_pending_ -= completions.size();
  state_cv_.notify_all();
}

absl::Status Producer::Flush(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  uint64_t target = next_batch_id_;
  flush_before_ = std::max(flush_before_, target);
  sender_cv_.notify_one();
  // Done when every batch opened before the call is finished and its callbacks have run.
  auto done = [&] {
    return (live_batches_.empty() || *live_batches_.begin() >= target) && completions_pending_ == 0;
  };
  if (timeout_ms == INT64_MAX) {
    state_cv_.wait(lock, done);
  } else if (!state_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), done)) {
    return absl::DeadlineExceededError(
        absl::StrCat("flush: records still undelivered after ", timeout_ms, " ms"));
  }
  return absl::OkStatus();
}

absl::Status Producer::Close(int64_t timeout_ms) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return absl::OkStatus();
    closing_ = true;  // no new records; the sender closes open batches at once
    state_cv_.notify_all();
  }
  absl::Status flushed = Flush(timeout_ms);
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    sender_cv_.notify_all();
  }
  if (sender_.joinable()) sender_.join();
  std::vector<Completion> out;
  {
    std::lock_guard lock(mu_);
    absl::Status closed = absl::CancelledError("the producer was closed before delivery");
    for (auto& [tp, q] : queues_) {
      while (!q.batches.empty()) Finish(q.batches.front().get(), closed, -1, -1, &out);
      q.in_flight = 0;
    }
    in_flight_ = 0;
  }
  RunCompletions(out);
  return flushed;
}

}  // namespace strata::client
