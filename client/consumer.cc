#include "client/consumer.h"

#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/errors.h"
#include "client/offsets.h"
#include "common/clock.h"

namespace strata::client {

namespace {

int64_t MonoMs() { return Clock::System()->MonotonicMs(); }

}  // namespace

bool ParseOffsetReset(absl::string_view name, OffsetReset* out) {
  static const std::map<absl::string_view, OffsetReset> kNames = {
      {"earliest", OffsetReset::kEarliest},
      {"latest", OffsetReset::kLatest},
      {"none", OffsetReset::kNone},
      {"error", OffsetReset::kNone}};
  auto it = kNames.find(name);
  if (it == kNames.end()) return false;
  *out = it->second;
  return true;
}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options) {
  if (options.max_poll_records == 0) options.max_poll_records = 1;
  std::unique_ptr<Consumer> c(new Consumer(std::move(options)));
  ASSIGN_OR_RETURN(c->cluster_, Cluster::Connect(ClusterOptionsFor(c->options_)));
  return c;
}

void Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, PartitionState> next;
  for (const TopicPartition& tp : partitions) {
    auto it = partitions_.find(tp);
    next[tp] = it != partitions_.end() ? std::move(it->second) : PartitionState{};
  }
  partitions_ = std::move(next);
}

std::vector<TopicPartition> Consumer::assignment() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, state] : partitions_) out.push_back(tp);
  return out;
}

Consumer::PartitionState* Consumer::Find(const TopicPartition& tp) {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? nullptr : &it->second;
}

absl::Status Consumer::Seek(const TopicPartition& tp, int64_t offset) {
  PartitionState* state = Find(tp);
  if (state == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(tp.ToString(), " is not assigned"));
  }
  if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("negative offset ", offset));
  state->buffer.clear();
  state->next_fetch = offset;
  return absl::OkStatus();
}

absl::Status Consumer::SeekToBeginning(const std::vector<TopicPartition>& partitions) {
  return SeekTo(partitions, kEarliestOffsetSpec);
}

absl::Status Consumer::SeekToEnd(const std::vector<TopicPartition>& partitions) {
  return SeekTo(partitions, kLatestOffsetSpec);
}

absl::Status Consumer::SeekToTimestamp(const TopicPartition& tp, int64_t timestamp_ms) {
  if (timestamp_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative timestamp ", timestamp_ms));
  }
  return SeekTo({tp}, timestamp_ms);
}

absl::Status Consumer::SeekTo(std::vector<TopicPartition> partitions, int64_t spec) {
  if (partitions.empty()) partitions = assignment();
  std::map<TopicPartition, int64_t> specs;
  for (const TopicPartition& tp : partitions) {
    if (Find(tp) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(tp.ToString(), " is not assigned"));
    }
    specs[tp] = spec;
  }
  ASSIGN_OR_RETURN(OffsetResults found, ListOffsets(*cluster_, specs, options_.isolation_level));
  for (const auto& [tp, result] : found) {
    if (!result.ok()) return result.status();
    int64_t offset = result->offset;
    if (offset < 0) {  // no record at or after the timestamp: the end
      ASSIGN_OR_RETURN(OffsetAndTimestamp end, ListOffset(*cluster_, tp, kLatestOffsetSpec));
      offset = end.offset;
    }
    RETURN_IF_ERROR(Seek(tp, offset));
  }
  return absl::OkStatus();
}

absl::Status Consumer::ResolvePositions() {
  std::map<TopicPartition, int64_t> specs;
  for (const auto& [tp, state] : partitions_) {
    if (state.next_fetch >= 0 || !state.buffer.empty()) continue;
    if (options_.reset == OffsetReset::kNone) {
      return absl::FailedPreconditionError(absl::StrCat(
          tp.ToString(), " has no position and the offset reset policy is none: seek first"));
    }
    specs[tp] = options_.reset == OffsetReset::kEarliest ? kEarliestOffsetSpec : kLatestOffsetSpec;
  }
  if (specs.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(OffsetResults found, ListOffsets(*cluster_, specs, options_.isolation_level));
  for (const auto& [tp, result] : found) {
    if (result.ok()) {
      Find(tp)->next_fetch = result->offset;
    } else if (!IsRetriableError(result.status())) {
      return result.status();
    }  // retriable: tried again on the next round
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Consumer::Position(const TopicPartition& tp) {
  PartitionState* state = Find(tp);
  if (state == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(tp.ToString(), " is not assigned"));
  }
  RETURN_IF_ERROR(ResolvePositions());
  if (!state->buffer.empty()) return state->buffer.front().offset;
  if (state->next_fetch < 0) {
    return absl::UnavailableError(absl::StrCat("no position for ", tp.ToString(), " yet"));
  }
  return state->next_fetch;
}

std::optional<int64_t> Consumer::HighWatermark(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || it->second.high_watermark < 0) return std::nullopt;
  return it->second.high_watermark;
}

std::vector<ConsumerRecord> Consumer::Drain() {
  std::vector<ConsumerRecord> out;
  if (partitions_.empty()) return out;
  // Start at a rotating partition so one busy partition cannot starve the others.
  auto start = partitions_.begin();
  std::advance(start, rotation_ % partitions_.size());
  auto it = start;
  do {
    std::deque<ConsumerRecord>& buffer = it->second.buffer;
    while (!buffer.empty() && out.size() < options_.max_poll_records) {
      out.push_back(std::move(buffer.front()));
      buffer.pop_front();
    }
    if (++it == partitions_.end()) it = partitions_.begin();
  } while (it != start && out.size() < options_.max_poll_records);
  return out;
}

absl::StatusOr<std::vector<ConsumerRecord>> Consumer::Poll(int64_t timeout_ms) {
  int64_t deadline = MonoMs() + std::max<int64_t>(0, timeout_ms);
  while (true) {
    RETURN_IF_ERROR(ResolvePositions());
    std::vector<ConsumerRecord> records = Drain();
    if (!records.empty()) return records;
    int64_t left = deadline - MonoMs();
    bool fetched = false;
    RETURN_IF_ERROR(FetchOnce(
        static_cast<int32_t>(std::clamp<int64_t>(left, 0, options_.max_wait_ms)), &fetched));
    bool buffered = false;
    for (const auto& [tp, state] : partitions_) buffered = buffered || !state.buffer.empty();
    if (buffered) continue;
    left = deadline - MonoMs();
    if (left <= 0) return records;
    // Nobody could be asked (no leader, broker down, nothing assigned): back off a little.
    if (!fetched) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(left, options_.retry_backoff_ms)));
    }
  }
}

}  // namespace strata::client
