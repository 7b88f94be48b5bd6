// LeaderReplicaState: what the leader of one partition knows about its followers, and the
// decisions that follow from it — the high watermark, which followers leave or rejoin the ISR,
// and whether an acks=all produce is complete. Pure logic on explicit times (no clock, no I/O),
// so the broker's replica manager drives it and tests need no sleeps.
//
//   LeaderReplicaState s({.self = 1, .replicas = {1, 2, 3}, .isr = {1, 2, 3},
//                         .leader_end = Offset(100), .high_watermark = Offset(90)}, now_ms);
//   s.OnLeaderAppend(Offset(120));
//   s.OnFollowerFetch(2, Offset(120), now_ms);   // follower 2 has everything below 120
//   if (s.high_watermark() > last_offset) { /* acks=all done for that batch */ }
//   for (int32_t id : s.ShrinkCandidates(now_ms, 30'000)) ...  // compare-and-set a smaller ISR
//
// Kafka's rules (Partition / Replica in kafka.cluster):
//   - A follower's log end is the offset it fetches from (it has every record below it).
//   - Its last caught-up time is the time of a fetch that reached the leader's log end as of
//     that fetch, or the previous fetch's time when this fetch reached the leader's end as of the
//     previous fetch (so a follower that keeps up under steady appends stays caught up).
//   - High watermark = the smallest log end over the ISR (the leader included); it never moves
//     back and never passes the leader's log end.
//   - An ISR member not caught up for replica.lag.time.max.ms leaves the ISR (never the leader).
//   - A follower outside the ISR rejoins once its log end reaches the high watermark and the
//     start of the leader's current epoch (it has everything the leader acknowledged), judged
//     on a fetch made after the ISR last changed.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/types.h"

namespace strata {

class LeaderReplicaState {
 public:
  struct Init {
    int32_t self = 0;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    Offset leader_end{0};
    Offset high_watermark{0};
    // The leader's log end when it took this epoch (followers must reach it to rejoin).
    Offset epoch_start{0};
  };
  LeaderReplicaState(Init init, int64_t now_ms);

  void OnLeaderAppend(Offset leader_end);
  // Follower `id` fetched from `fetch_offset` at `now_ms`. Ignored for non-replicas.
  void OnFollowerFetch(int32_t id, Offset fetch_offset, int64_t now_ms);
  // The ISR as the store now has it (after a compare-and-set, or the controller's change).
  void SetIsr(std::vector<int32_t> isr);

  Offset high_watermark() const { return high_watermark_; }
  const std::vector<int32_t>& isr() const { return isr_; }
  // ISR members (not the leader) that were not caught up within `lag_time_max_ms`.
  std::vector<int32_t> ShrinkCandidates(int64_t now_ms, int64_t lag_time_max_ms) const;
  // Followers outside the ISR that may rejoin it.
  std::vector<int32_t> ExpandCandidates() const;

  // acks=all, before the append: refused (NOT_ENOUGH_REPLICAS) when the ISR is smaller than
  // min.insync.replicas.
  bool EnoughReplicasToAppend(int32_t min_insync) const {
    return static_cast<int32_t>(isr_.size()) >= min_insync;
  }
  enum class AcksAll { kDone, kWaiting, kNotEnoughReplicas };
  // acks=all, after the append of a batch ending before `end` (its last offset + 1): waiting
  // until the high watermark reaches `end`; then done if the ISR still has min.insync.replicas
  // members, else NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's checkEnoughReplicasReachOffset).
  AcksAll CheckAcksAll(Offset end, int32_t min_insync) const;

  // A follower's log end (-1 before its first fetch).
  Offset follower_end(int32_t id) const;
  // Follower `id` was caught up (see the rules above) within the last `within_ms`: it is
  // fetching, and reaching the leader's end.
  bool CaughtUp(int32_t id, int64_t now_ms, int64_t within_ms) const;

 private:
  struct Follower {
    Offset log_end{-1};
    int64_t last_caught_up_ms = 0;
    int64_t last_fetch_ms = 0;
    Offset leader_end_at_last_fetch{0};
    // A follower rejoins only on a fetch after the ISR last changed: the fetch state of one
    // that left (a dead or departing broker) does not bring it back.
    bool fetched_since_isr_change = false;
  };
  void UpdateHighWatermark();
  bool InIsr(int32_t id) const;

  const int32_t self_;
  const Offset epoch_start_;
  Offset leader_end_;
  Offset high_watermark_;
  std::vector<int32_t> isr_;
  std::map<int32_t, Follower> followers_;  // every replica but the leader
};

}  // namespace strata
