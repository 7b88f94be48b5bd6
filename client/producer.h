// Producer: batches records per partition and sends them to partition leaders in the
// background, with optional compression, retries and idempotence.
//
//   ProducerOptions options;
//   options.bootstrap = {{"127.0.0.1", 9092}};
//   options.compression = Compression::kZstd;
//   ASSIGN_OR_RETURN(auto producer, Producer::Create(options));
//   std::future<DeliveryReport> f = producer->Send("orders", "key-1", "value");
//   producer->Send({.topic = "orders", .value = "v"}, [](const DeliveryReport& r) { ... });
//   RETURN_IF_ERROR(producer->Flush());
//   DeliveryReport r = f.get();     // r.error, r.partition, r.offset
//   RETURN_IF_ERROR(producer->Close());
//
// Partitioning (Kafka's default partitioner): an explicit partition wins; a keyed record goes
// to toPositive(murmur2(key)) % partitions; records without a key stick to one partition until
// its batch is closed, then move to another (client/partitioner.h).
//
// Batching: records for one partition accumulate in an open batch, closed when it reaches
// batch_bytes (uncompressed), when it is linger_ms old, or on Flush/Close. A closed batch is
// compressed and queued; a background sender thread sends, per leader, one Produce request
// carrying at most one batch per partition (the broker accepts exactly one), keeping up to
// max_in_flight requests outstanding per connection and per partition.
//
// Delivery: every record's report arrives exactly once, through its callback or future, with
// the partition, the offset (-1 with acks=0) and the status. Retriable errors (leader changes,
// unknown topic, timeouts, a dropped connection) are retried after retry_backoff_ms, up to
// max_retries times and until delivery_timeout_ms after the record was sent; metadata is
// refreshed first where the error calls for it. A partition whose batch must be retried sends
// nothing else until its in-flight requests are answered, then resends in order.
//
// Idempotence (requires acks=-1): the producer takes a producer id (InitProducerId); each
// batch gets the partition's next sequence number when first sent and keeps it across retries,
// so the broker drops a retried duplicate and refuses gaps. When a batch fails for good (its
// fate on the broker unknown), the producer bumps its epoch (KIP-360) and restarts sequences.
// Without idempotence a retry may duplicate or reorder records, as in Kafka.
//
// Memory: records waiting for delivery take at most buffer_bytes; Send blocks up to
// max_block_ms for space, then fails with ResourceExhausted.
//
// Thread safety: every method may be called from any thread. Callbacks run on a connection's
// reader thread or the sender thread (on the caller's thread when Send fails at once); they
// must be quick and must not block on the producer (Flush, Close, or a Send that may wait for
// buffer space would deadlock).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cluster.h"
#include "client/connection.h"
#include "client/partitioner.h"
#include "log/batch_builder.h"
#include "log/compression.h"

namespace strata::client {

struct ProducerOptions {
  std::vector<HostPort> bootstrap;
  std::string client_id = "strata-producer";
  int16_t acks = -1;  // 0 none, 1 leader, -1 all in-sync replicas
  int64_t linger_ms = 5;
  size_t batch_bytes = 16u << 10;
  Compression compression = Compression::kNone;
  int compression_level = 0;  // 0 = the codec's default
  bool idempotence = false;
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 30'000;
  int64_t delivery_timeout_ms = 120'000;
  int max_retries = 10;
  int64_t retry_backoff_ms = 100;
  size_t max_in_flight = 5;             // per connection, and per partition
  size_t max_request_bytes = 1u << 20;  // batches per request stop here (one always goes)
  size_t buffer_bytes = 32u << 20;
  int64_t max_block_ms = 60'000;
};

struct ProducerRecord {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<HeaderField> headers;
  int32_t partition = -1;     // -1: chosen by the partitioner
  int64_t timestamp_ms = -1;  // -1: now
};

struct DeliveryReport {
  int32_t partition = -1;
  int64_t offset = -1;     // -1 when unknown (acks=0, or an error)
  int64_t timestamp = -1;  // the record's timestamp, or the broker's LogAppendTime
  absl::Status error;
};

using DeliveryCallback = std::function<void(const DeliveryReport&)>;

class Producer {
 public:
  // Connects to the cluster (and takes a producer id with idempotence).
  static absl::StatusOr<std::unique_ptr<Producer>> Create(ProducerOptions options);
  // Close()s with the delivery timeout.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues a record; `done` gets its report. The returned status is the report's error when
  // the record could not even be queued (closed producer, unknown topic, bad partition, no
  // buffer space in time); `done` is then called too, on this thread.
  absl::Status Send(ProducerRecord record, DeliveryCallback done);
  std::future<DeliveryReport> Send(ProducerRecord record);
  std::future<DeliveryReport> Send(const std::string& topic, std::optional<absl::string_view> key,
                                   std::optional<absl::string_view> value,
                                   std::vector<HeaderField> headers = {}, int32_t partition = -1,
                                   int64_t timestamp_ms = -1);

  // Sends everything queued so far without waiting for linger_ms, and waits until it is all
  // delivered or failed. DeadlineExceeded if that takes longer than timeout_ms.
  absl::Status Flush(int64_t timeout_ms = INT64_MAX);
  // Flushes (up to timeout_ms), stops the sender and fails whatever is left. Idempotent.
  absl::Status Close(int64_t timeout_ms = INT64_MAX);

  // The partition a keyed record would go to (PartitionCount from the cluster's metadata).
  absl::StatusOr<int32_t> PartitionFor(const std::string& topic, absl::string_view key);
  int64_t producer_id() const;
  // Batches sent again after a retriable error, since creation.
  uint64_t retries() const;
  Cluster& cluster() { return *cluster_; }

 private:
  struct Batch {
    uint64_t id = 0;
    TopicPartition tp;
    std::unique_ptr<RecordBatchBuilder> builder;  // while open
    std::string bytes;                            // once closed: the encoded batch
    std::vector<DeliveryCallback> callbacks;      // one per record, in offset order
    std::vector<int64_t> timestamps;
    size_t size_bytes = 0;  // uncompressed; counted in buffered_bytes_
    int64_t created_ms = 0;
    int64_t deadline_ms = 0;
    int64_t retry_at_ms = 0;
    int attempts = 0;
    int32_t base_sequence = -1;  // idempotence: assigned when first sent, kept across retries
    enum class State { kOpen, kReady, kInFlight } state = State::kOpen;
  };
  struct PartitionQueue {
    std::deque<std::unique_ptr<Batch>> batches;  // oldest first
    size_t in_flight = 0;
    int32_t next_sequence = 0;
    bool retrying = false;  // a batch failed: send nothing until in_flight == 0, then in order
  };
  struct Completion {
    DeliveryCallback done;
    DeliveryReport report;
  };
  struct Request;

  explicit Producer(ProducerOptions options) : options_(std::move(options)) {}
  absl::Status InitProducerId();

  // Metadata for Send, retried (without mu_) while brokers are unreachable, up to max_block_ms.
  absl::StatusOr<int32_t> PartitionCountBlocking(const std::string& topic);
  // Accumulator (producer.cc), all with mu_ held.
  absl::StatusOr<int32_t> ChoosePartition(const ProducerRecord& record, int32_t count);
  absl::Status WaitForSpace(std::unique_lock<std::mutex>& lock, size_t bytes);
  Batch* OpenBatch(const TopicPartition& tp, size_t record_bytes, std::vector<Completion>* failed);
  void Seal(Batch* batch, std::vector<Completion>* failed);
  void SealDue(int64_t now_ms, std::vector<Completion>* failed);
  void Finish(Batch* batch, const absl::Status& status, int64_t base_offset,
              int64_t log_append_time, std::vector<Completion>* out);
  // Runs the callbacks Finish collected (without mu_), then lets Flush waiters see them done.
  void RunCompletions(std::vector<Completion>& completions);

  // Sender (producer_sender.cc).
  void SenderLoop();
  void ExpireReady(int64_t now_ms, int64_t* wake_ms, std::vector<Completion>* out);
  std::vector<Batch*> CollectReady(int64_t now_ms, int64_t* wake_ms);
  void Dispatch(std::vector<Batch*> batches);
  void SendRequest(int32_t leader, std::vector<Batch*> batches);
  void OnResponse(const std::shared_ptr<Request>& request, absl::StatusOr<ResponseFrame> response);
  void HandleBatchError(Batch* batch, const absl::Status& status, int64_t now_ms,
                        std::vector<Completion>* out);
  void BumpEpoch();
  void Stamp(Batch* batch);

  const ProducerOptions options_;
  std::unique_ptr<Cluster> cluster_;
  std::thread sender_;

  mutable std::mutex mu_;
  std::condition_variable sender_cv_;  // work for the sender
  std::condition_variable state_cv_;   // space freed, batches done (Send, Flush)
  std::map<TopicPartition, PartitionQueue> queues_;
  std::map<std::string, StickyPartitioner> sticky_;
  std::set<uint64_t> live_batches_;
  uint64_t next_batch_id_ = 0;
  uint64_t flush_before_ = 0;  // batches with a smaller id are closed at once
  size_t buffered_bytes_ = 0;
  size_t in_flight_ = 0;  // batches
  size_t completions_pending_ = 0;
  uint64_t retries_ = 0;  // collected by Finish, callbacks not run yet
  bool closing_ = false;
  bool stopped_ = false;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  bool needs_epoch_bump_ = false;
};

}  // namespace strata::client
