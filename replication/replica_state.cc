// LeaderReplicaState (replication/replica_state.h).
#include "replication/replica_state.h"

#include <algorithm>

namespace strata {

LeaderReplicaState::LeaderReplicaState(Init init, int64_t now_ms)
    : self_(init.self),
      epoch_start_(init.epoch_start),
      leader_end_(init.leader_end),
      high_watermark_(std::min(init.high_watermark, init.leader_end)),
      isr_(std::move(init.isr)) {
  for (int32_t id : init.replicas) {
    if (id == self_) continue;
    Follower f;
    // ISR members start caught up: a new leader must not drop them before they could fetch.
    f.last_caught_up_ms = InIsr(id) ? now_ms : 0;
    f.leader_end_at_last_fetch = init.leader_end;
    followers_[id] = f;
  }
  UpdateHighWatermark();
}

bool LeaderReplicaState::InIsr(int32_t id) const {
  return std::find(isr_.begin(), isr_.end(), id) != isr_.end();
}

void LeaderReplicaState::OnLeaderAppend(Offset leader_end) {
  leader_end_ = std::max(leader_end_, leader_end);
  UpdateHighWatermark();  // a leader alone in the ISR advances it by itself
}

void LeaderReplicaState::OnFollowerFetch(int32_t id, Offset fetch_offset, int64_t now_ms) {
  auto it = followers_.find(id);
  if (it == followers_.end()) return;
  Follower& f = it->second;
  f.log_end = std::min(fetch_offset, leader_end_);
  if (fetch_offset >= leader_end_) {
    f.last_caught_up_ms = now_ms;
  } else if (fetch_offset >= f.leader_end_at_last_fetch) {
    f.last_caught_up_ms = std::max(f.last_caught_up_ms, f.last_fetch_ms);
  }
  f.leader_end_at_last_fetch = leader_end_;
  f.last_fetch_ms = now_ms;
  f.fetched_since_isr_change = true;
  UpdateHighWatermark();
}

void LeaderReplicaState::SetIsr(std::vector<int32_t> isr) {
  isr_ = std::move(isr);
  for (auto& [id, f] : followers_) f.fetched_since_isr_change = false;
  UpdateHighWatermark();
}

void LeaderReplicaState::UpdateHighWatermark() {
  Offset low = leader_end_;
  for (int32_t id : isr_) {
    if (id == self_) continue;
    auto it = followers_.find(id);
    if (it == followers_.end()) continue;
    // An ISR member that has not fetched yet holds the mark where it is.
    low = std::min(low, std::max(it->second.log_end, high_watermark_));
  }
  high_watermark_ = std::max(high_watermark_, low);
}

std::vector<int32_t> LeaderReplicaState::ShrinkCandidates(int64_t now_ms,
                                                          int64_t lag_time_max_ms) const {
  std::vector<int32_t> out;
  for (int32_t id : isr_) {
    if (id == self_) continue;
    auto it = followers_.find(id);
    if (it == followers_.end()) continue;
    if (now_ms - it->second.last_caught_up_ms > lag_time_max_ms) out.push_back(id);
  }
  return out;
}

std::vector<int32_t> LeaderReplicaState::ExpandCandidates() const {
  std::vector<int32_t> out;
  for (const auto& [id, f] : followers_) {
    if (InIsr(id) || !f.fetched_since_isr_change) continue;
    if (f.log_end >= high_watermark_ && f.log_end >= epoch_start_) out.push_back(id);
  }
  return out;
}

LeaderReplicaState::AcksAll LeaderReplicaState::CheckAcksAll(Offset end, int32_t min_insync) const {
  if (high_watermark_ < end) return AcksAll::kWaiting;
  return static_cast<int32_t>(isr_.size()) >= min_insync ? AcksAll::kDone
                                                         : AcksAll::kNotEnoughReplicas;
}

bool LeaderReplicaState::CaughtUp(int32_t id, int64_t now_ms, int64_t within_ms) const {
  auto it = followers_.find(id);
  return it != followers_.end() && it->second.log_end >= Offset(0) &&
         now_ms - it->second.last_caught_up_ms <= within_ms;
}

Offset LeaderReplicaState::follower_end(int32_t id) const {
  auto it = followers_.find(id);
  return it == followers_.end() ? Offset(-1) : it->second.log_end;
}

}  // namespace strata
