#include "log/producer_state.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "log/append_error.h"

namespace strata {

namespace {
constexpr char kAppendErrorUrl[] = "strata/append-error";
}  // namespace

absl::Status MakeAppendError(AppendError kind, absl::string_view message) {
  absl::Status s = absl::FailedPreconditionError(message);
  s.SetPayload(kAppendErrorUrl, absl::Cord(absl::StrCat(static_cast<int>(kind))));
  return s;
}

std::optional<AppendError> GetAppendError(const absl::Status& status) {
  auto payload = status.GetPayload(kAppendErrorUrl);
  if (!payload.has_value()) return std::nullopt;
  std::string text(*payload);
  if (text.size() != 1 || text[0] < '0' || text[0] > '2') return std::nullopt;
  return static_cast<AppendError>(text[0] - '0');
}

namespace {

int32_t NextSequence(int32_t last) { return last == INT32_MAX ? 0 : last + 1; }

}  // namespace

absl::StatusOr<std::optional<ProducerBatch>> ProducerStateManager::Check(
    const BatchSummary& b) const {
  if (b.producer_id < 0) return std::optional<ProducerBatch>();
  if (b.is_transactional()) {
    return MakeAppendError(AppendError::kTransactionsUnsupported,
                           "transactional batches are not supported");
  }
  auto it = producers_.find(b.producer_id);
  if (it == producers_.end()) return std::optional<ProducerBatch>();  // new or forgotten
  const ProducerEntry& e = it->second;
  if (b.producer_epoch < e.epoch) {
    return MakeAppendError(AppendError::kInvalidProducerEpoch,
                           absl::StrCat("producer ", b.producer_id, " epoch ", b.producer_epoch,
                                        " is older than ", e.epoch));
  }
  if (b.producer_epoch > e.epoch) {
    if (b.base_sequence != 0 && e.epoch >= 0) {
      return MakeAppendError(AppendError::kOutOfOrderSequence,
                             absl::StrCat("producer ", b.producer_id, " new epoch ",
                                          b.producer_epoch, " starts at sequence ",
                                          b.base_sequence));
    }
    return std::optional<ProducerBatch>();
  }
  for (const ProducerBatch& old : e.batches) {
    if (old.first_sequence == b.base_sequence && old.last_sequence == b.last_sequence()) {
      return std::optional<ProducerBatch>(old);
    }
  }
  int32_t expected = e.batches.empty() ? b.base_sequence : NextSequence(e.batches.back().last_sequence);
  if (b.base_sequence != expected) {
    return MakeAppendError(AppendError::kOutOfOrderSequence,
                           absl::StrCat("producer ", b.producer_id, " sent sequence ",
                                        b.base_sequence, ", expected ", expected));
  }
  return std::optional<ProducerBatch>();
}

void ProducerStateManager::Update(const BatchSummary& b) {
  if (b.producer_id < 0 || b.is_control()) return;
  ProducerEntry& e = producers_[b.producer_id];
  if (b.producer_epoch != e.epoch) {
    e.batches.clear();
    e.epoch = b.producer_epoch;
  }
  e.batches.push_back({b.base_sequence, b.last_sequence(), b.base_offset, b.last_offset,
                       b.max_timestamp});
  while (e.batches.size() > kMaxProducerBatches) e.batches.pop_front();
  e.last_timestamp = std::max(e.last_timestamp, b.max_timestamp);
}

absl::StatusOr<Offset> ProducerStateManager::Load(Offset log_start, Offset log_end) {
  producers_.clear();
  ASSIGN_OR_RETURN(std::vector<Offset> snapshots, ListProducerSnapshots(fs_, dir_));
  for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) {
    if (*it > log_end || *it < log_start) continue;
    auto bytes = ReadFileToString(fs_, JoinPath(dir_, ProducerSnapshotName(*it)));
    if (!bytes.ok()) continue;
    auto decoded = DecodeProducerSnapshot(*bytes);
    if (!decoded.ok()) {
      LOG_EVENT(Warn, "producer_state.bad_snapshot")
          .Kv("dir", dir_)
          .Kv("offset", it->value())
          .Kv("error", decoded.status().message());
      continue;
    }
    producers_ = std::move(*decoded);
    return *it;
  }
  return log_start;
}

absl::Status ProducerStateManager::TakeSnapshot(Offset offset, int64_t now_ms) {
  std::erase_if(producers_, [&](const auto& kv) {
    return now_ms - kv.second.last_timestamp > expiration_ms_;
  });
  if (producers_.empty()) {
    // Nothing to remember: skip the file (and its fsyncs) unless an older one must be
    // superseded.
    ASSIGN_OR_RETURN(std::vector<Offset> existing, ListProducerSnapshots(fs_, dir_));
    if (existing.empty()) return absl::OkStatus();
  }
  RETURN_IF_ERROR(WriteFileAtomically(fs_, JoinPath(dir_, ProducerSnapshotName(offset)),
                                      EncodeProducerSnapshot(producers_)));
  ASSIGN_OR_RETURN(std::vector<Offset> snapshots, ListProducerSnapshots(fs_, dir_));
  for (size_t i = 0; i + 2 < snapshots.size(); ++i) {
    RETURN_IF_ERROR(fs_->Remove(JoinPath(dir_, ProducerSnapshotName(snapshots[i]))));
  }
  return absl::OkStatus();
}

absl::Status ProducerStateManager::DeleteSnapshotsAbove(Offset offset) {
  producers_.clear();
  ASSIGN_OR_RETURN(std::vector<Offset> snapshots, ListProducerSnapshots(fs_, dir_));
  for (Offset o : snapshots) {
    if (o > offset) RETURN_IF_ERROR(fs_->Remove(JoinPath(dir_, ProducerSnapshotName(o))));
  }
  return absl::OkStatus();
}

}  // namespace strata
