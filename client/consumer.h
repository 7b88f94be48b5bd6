// Consumer: reads assigned partitions with Fetch requests, from positions the caller controls.
// No consumer groups and no committed offsets: the caller assigns partitions and seeks.
//
//   ConsumerOptions options;
//   options.bootstrap = {{"127.0.0.1", 9092}};
//   options.reset = OffsetReset::kEarliest;
//   ASSIGN_OR_RETURN(auto consumer, Consumer::Create(options));
//   RETURN_IF_ERROR(consumer->Assign({{"orders", 0}, {"orders", 1}}));
//   RETURN_IF_ERROR(consumer->SeekToTimestamp({"orders", 0}, yesterday_ms));
//   while (running) {
//     ASSIGN_OR_RETURN(std::vector<ConsumerRecord> records, consumer->Poll(1000));
//     for (const ConsumerRecord& r : records) ... r.offset, r.key, r.value, r.headers ...
//   }
//
// Positions: each assigned partition has a position, the offset of the next record Poll will
// return. A partition without one (just assigned, or its offset fell out of range) gets one
// from the reset policy: earliest (log start), latest (high watermark) or none (Poll fails with
// FailedPrecondition / OutOfRange, naming the partition). Seek* set positions explicitly.
//
// Poll(timeout_ms) returns buffered records first (at most max_poll_records, round-robin over
// partitions); with nothing buffered it sends one Fetch per leader for the partitions that have
// nothing buffered, waiting up to min(max_wait_ms, what is left of the timeout) for min_bytes,
// and decodes the answer (client/records.h: records below the position and control batches are
// skipped, a trailing partial batch is fetched again). It returns an empty vector when the
// timeout passes without data. The partition order in fetches rotates, so a partition cut off
// by max_bytes is first in a later fetch. Retriable errors (leader moves, a dropped connection)
// refresh metadata and are retried within the same Poll; other errors are returned.
//
// Not thread-safe: use a Consumer from one thread at a time (as Kafka's KafkaConsumer).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cluster.h"
#include "client/records.h"

namespace strata::protocol {
struct FetchRequest;
}

namespace strata::client {

enum class OffsetReset { kEarliest, kLatest, kNone };

// "earliest", "latest", "none" (or "error").
bool ParseOffsetReset(absl::string_view name, OffsetReset* out);

struct ConsumerOptions {
  std::vector<HostPort> bootstrap;
  std::string client_id = "strata-consumer";
  OffsetReset reset = OffsetReset::kLatest;
  int32_t max_wait_ms = 500;
  int32_t min_bytes = 1;
  int32_t max_bytes = 50 << 20;           // per fetch response
  int32_t max_partition_bytes = 1 << 20;  // per partition in a fetch
  size_t max_poll_records = 500;
  bool check_crcs = true;
  int8_t isolation_level = 0;  // 0 read_uncommitted, 1 read_committed
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 30'000;  // on top of max_wait_ms for fetches
  int64_t retry_backoff_ms = 100;
};

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(ConsumerOptions options);

  // Replaces the assignment. Partitions that stay keep their positions and buffered records.
  void Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> assignment() const;

  // The next fetch starts at `offset` (out of range: the reset policy applies then).
  absl::Status Seek(const TopicPartition& tp, int64_t offset);
  // For the given partitions, or every assigned one when empty.
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions = {});
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions = {});
  // The first record with a timestamp >= timestamp_ms; the end when there is none.
  absl::Status SeekToTimestamp(const TopicPartition& tp, int64_t timestamp_ms);

  // The offset of the next record Poll returns for `tp` (resolving it by the reset policy).
  absl::StatusOr<int64_t> Position(const TopicPartition& tp);
  // The high watermark from the last fetch of `tp`; nullopt before one.
  std::optional<int64_t> HighWatermark(const TopicPartition& tp) const;

  absl::StatusOr<std::vector<ConsumerRecord>> Poll(int64_t timeout_ms);

  Cluster& cluster() { return *cluster_; }

 private:
  struct PartitionState {
    int64_t next_fetch = -1;  // -1: unknown, use the reset policy
    int64_t high_watermark = -1;
    std::deque<ConsumerRecord> buffer;  // fetched, not yet returned
  };
  struct PendingFetch;

  explicit Consumer(ConsumerOptions options) : options_(std::move(options)) {}
  PartitionState* Find(const TopicPartition& tp);
  absl::Status SeekTo(std::vector<TopicPartition> partitions, int64_t spec);
  absl::Status ResolvePositions();
  std::vector<ConsumerRecord> Drain();
  // One round of fetches; `fetched` tells whether any partition got an answer.
  absl::Status FetchOnce(int32_t max_wait_ms, bool* fetched);
  std::vector<TopicPartition> FetchOrder();
  protocol::FetchRequest BuildFetch(const std::vector<TopicPartition>& partitions,
                                    int32_t max_wait_ms);
  absl::Status HandleFetchResponse(const PendingFetch& fetch, const ResponseFrame& frame);
  absl::Status HandlePartitionError(const TopicPartition& tp, int16_t code);

  const ConsumerOptions options_;
  std::unique_ptr<Cluster> cluster_;
  std::map<TopicPartition, PartitionState> partitions_;
  size_t rotation_ = 0;
};

}  // namespace strata::client
