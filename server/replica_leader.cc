// ReplicaManager, the leader side: follower fetches move the high watermark, acks=all waits for
// it, and the ISR shrinks and expands by compare-and-set (server/replica_manager.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "server/replica_manager.h"

namespace strata::server {

using protocol::ErrorCode;

namespace {
// The least time between two ISR writes of the leader for one partition.
constexpr int64_t kIsrWriteIntervalMs = 1'000;
// A preferred replica is handed leadership only if it reached the leader's end this recently.
constexpr int64_t kCaughtUpWithinMs = 2'000;

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

bool ReplicaManager::AdvanceLocked(Led& led, Done& done) {
  Log& log = led.partition->log();
  const Offset hw = led.replication.high_watermark();
  const bool moved = hw > log.high_watermark();
  if (moved) log.SetHighWatermark(hw);
  std::erase_if(led.waits, [&](AckWait& w) {
    switch (led.replication.CheckAcksAll(w.end, w.min_insync)) {
      case LeaderReplicaState::AcksAll::kWaiting:
        return false;
      case LeaderReplicaState::AcksAll::kDone:
        done.emplace_back(std::move(w.done), ErrorCode::kNone);
        return true;
      case LeaderReplicaState::AcksAll::kNotEnoughReplicas:
        done.emplace_back(std::move(w.done), ErrorCode::kNotEnoughReplicasAfterAppend);
        return true;
    }
    return false;
  });
  return moved;
}

void ReplicaManager::OnFollowerFetch(const TopicPartition& tp, int32_t replica,
                                     Offset fetch_offset) {
  Done done;
  std::shared_ptr<Partition> wake;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end()) return;
    Led& led = it->second;
    led.replication.OnFollowerFetch(replica, fetch_offset, NowMs());
    if (AdvanceLocked(led, done)) wake = led.partition;
  }
  Finish(done);
  if (wake) wake->WakeWaiters();  // consumers may read up to the new high watermark
}

void ReplicaManager::OnLeaderAppend(const TopicPartition& tp, Offset log_end) {
  Done done;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end()) return;
    it->second.replication.OnLeaderAppend(log_end);
    AdvanceLocked(it->second, done);
  }
  Finish(done);  // the caller (Partition::NotifyAppend) wakes the partition's waiters next
}

bool ReplicaManager::EnoughReplicas(const TopicPartition& tp, int32_t min_insync) const {
  absl::MutexLock lock(&mu_);
  auto it = led_.find(tp);
  return it != led_.end() && it->second.replication.EnoughReplicasToAppend(min_insync);
}

bool ReplicaManager::IsFollower(const TopicPartition& tp, int32_t replica) const {
  absl::MutexLock lock(&mu_);
  auto it = led_.find(tp);
  return it != led_.end() && replica != options_.self &&
         std::find(it->second.replicas.begin(), it->second.replicas.end(), replica) !=
             it->second.replicas.end();
}

void ReplicaManager::WaitForAcks(const TopicPartition& tp, LeaderEpoch epoch, Offset end,
                                 int32_t min_insync, int64_t timeout_ms,
                                 std::function<void(ErrorCode)> done) {
  ErrorCode now = ErrorCode::kNone;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end() || stopped_ || it->second.epoch != epoch.value()) {
      now = ErrorCode::kNotLeaderOrFollower;
    } else {
      switch (it->second.replication.CheckAcksAll(end, min_insync)) {
        case LeaderReplicaState::AcksAll::kDone:
          break;
        case LeaderReplicaState::AcksAll::kNotEnoughReplicas:
          now = ErrorCode::kNotEnoughReplicasAfterAppend;
          break;
        case LeaderReplicaState::AcksAll::kWaiting:
          it->second.waits.push_back(
              {end, min_insync, NowMs() + std::max<int64_t>(timeout_ms, 0), std::move(done)});
          return;
      }
    }
  }
  done(now);
}

void ReplicaManager::ExpireAcks() {
  const int64_t now = NowMs();
  Done done;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [tp, led] : led_) {
      std::erase_if(led.waits, [&](AckWait& w) {
        if (w.deadline_ms > now) return false;
        done.emplace_back(std::move(w.done), ErrorCode::kRequestTimedOut);
        return true;
      });
    }
  }
  Finish(done);
}

void ReplicaManager::MaintainIsr() {
  const int64_t now = NowMs();
  struct Change {
    TopicPartition tp;
    std::vector<int32_t> isr;
    int64_t computed_at;  // the state version the new ISR was computed from
  };
  std::vector<Change> changes;
  // Only a replica whose broker is live in the store may join the ISR (as KIP-841): one cut off
  // from the store would be taken out again by the controller, and again, and again.
  const ClusterView view = membership_->View();
  Done done;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [tp, led] : led_) {
      if (now < led.isr_retry_at_ms) continue;
      std::vector<int32_t> out =
          led.replication.ShrinkCandidates(now, options_.replica_lag_time_max_ms);
      std::vector<int32_t> in = led.replication.ExpandCandidates();
      std::erase_if(in, [&](int32_t r) { return view.Find(r) == nullptr; });
      if (out.empty() && in.empty()) continue;
      // Leader first, then the replicas in assignment order.
      std::vector<int32_t> isr{options_.self};
      for (int32_t r : led.replicas) {
        if (r == options_.self) continue;
        bool member = std::find(led.replication.isr().begin(), led.replication.isr().end(), r) !=
                      led.replication.isr().end();
        bool leaving = std::find(out.begin(), out.end(), r) != out.end();
        bool joining = std::find(in.begin(), in.end(), r) != in.end();
        if ((member && !leaving) || joining) isr.push_back(r);
      }
      changes.push_back({tp, std::move(isr), led.mod_revision});
    }
  }
  Finish(done);
  for (auto& [tp, isr, computed_at] : changes) {
    absl::Status s = WriteIsr(tp, std::move(isr), computed_at);
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end()) continue;
    if (s.ok() || absl::IsAborted(s)) {
      // At most one ISR change a second per partition, whatever goes wrong elsewhere.
      it->second.isr_retry_at_ms = NowMs() + kIsrWriteIntervalMs;
      it->second.isr_failures = 0;
      continue;
    }
    // The store is unreachable: retry once a second, log once per outage.
    it->second.isr_retry_at_ms = NowMs() + 1'000;
    if (it->second.isr_failures++ == 0) {
      LOG_EVENT(Warn, "replicas.isr_write_failed")
          .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
          .Kv("error", s.ToString())
          .Kv("message", "retrying every second while the metadata store is unreachable");
    }
  }
}

absl::Status ReplicaManager::WriteIsr(const TopicPartition& tp, std::vector<int32_t> isr,
                                      int64_t computed_at) {
  PartitionState next;
  int64_t expected = 0;
  int32_t epoch = 0;
  std::vector<int32_t> before;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end()) return absl::OkStatus();
    if (it->second.mod_revision != computed_at) {
      return absl::AbortedError("the state changed since the ISR was computed");
    }
    next = it->second.state;
    before = next.isr;
    next.isr = isr;
    expected = it->second.mod_revision;
    epoch = it->second.epoch;
  }
  auto r = store_->CompareAndSet(PartitionKey(options_.root, tp.topic, tp.partition), expected,
                                 EncodePartitionState(next));
  if (!r.ok()) return r.status();
  if (!r->applied) {
    Wake();  // the state moved on (controller, new leader): the next sync applies it
    return absl::AbortedError("partition state changed meanwhile; re-reading");
  }
  LOG_EVENT(Info, isr.size() < before.size() ? "replicas.isr_shrink" : "replicas.isr_expand")
      .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
      .Kv("from", absl::StrJoin(before, ","))
      .Kv("to", absl::StrJoin(isr, ","));
  Done done;
  std::shared_ptr<Partition> wake;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    // Gone, another leadership, or a sync already applied this write or a later one.
    if (it == led_.end() || it->second.epoch != epoch || it->second.mod_revision >= r->revision) {
      return absl::OkStatus();
    }
    it->second.state = next;
    it->second.mod_revision = r->revision;
    it->second.replication.SetIsr(std::move(isr));
    if (AdvanceLocked(it->second, done)) wake = it->second.partition;
  }
  Finish(done);
  if (wake) wake->WakeWaiters();
  return absl::OkStatus();
}

void ReplicaManager::HandOverToPreferred() {
  if (!options_.auto_leader_rebalance) return;
  const int64_t now = NowMs();
  const bool check = now >= next_imbalance_check_ms_;
  if (check) next_imbalance_check_ms_ = now + options_.leader_imbalance_check_interval_ms;
  const ClusterView view = membership_->View();
  struct Ready {
    TopicPartition tp;
    int32_t target;
    int64_t computed_at;
  };
  std::vector<std::shared_ptr<Partition>> drain, resume;
  std::vector<Ready> ready;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [tp, led] : led_) {
      if (led.handed_over) continue;  // the sync makes this broker a follower
      const int32_t preferred = led.replicas.empty() ? kNoLeader : led.replicas.front();
      // Live in the store and in the ISR: it can take over without loss, and reaches the rest.
      const bool eligible = preferred != options_.self && view.Find(preferred) != nullptr &&
                            Contains(led.replication.isr(), preferred);
      if (led.handing_to == kNoLeader) {
        if (!check || !eligible || !led.replication.CaughtUp(preferred, now, kCaughtUpWithinMs)) {
          continue;
        }
        led.handing_to = preferred;
        led.handover_deadline_ms = now + options_.handover_timeout_ms;
        drain.push_back(led.partition);
      } else if (!eligible || now > led.handover_deadline_ms) {
        led.handing_to = kNoLeader;
        resume.push_back(led.partition);
      } else if (led.replication.follower_end(preferred) >= led.partition->log().log_end_offset()) {
        ready.push_back({tp, preferred, led.mod_revision});
      }
    }
  }
  // Not under mu_: an append holds the role lock while it reports to OnLeaderAppend (mu_).
  for (const auto& p : drain) p->SetDraining(true);
  for (const auto& p : resume) {
    p->SetDraining(false);
    LOG_EVENT(Info, "replicas.handover_given_up")
        .Kv("partition", absl::StrCat(p->tp().topic, "-", p->tp().partition));
  }
  for (const Ready& r : ready) HandOver(r.tp, r.target, r.computed_at);
}

void ReplicaManager::HandOver(const TopicPartition& tp, int32_t target, int64_t computed_at) {
  PartitionState next;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end() || it->second.mod_revision != computed_at) return;
    next = it->second.state;
    next.leader = target;
    next.leader_epoch = it->second.epoch + 1;
    next.isr = {target};
    for (int32_t r : it->second.replication.isr()) {
      if (r != target) next.isr.push_back(r);
    }
  }
  auto r = store_->CompareAndSet(PartitionKey(options_.root, tp.topic, tp.partition), computed_at,
                                 EncodePartitionState(next));
  if (!r.ok() || !r->applied) {
    EndHandover(tp);
    Wake();  // the state moved on (or the store is unreachable): re-read it
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it != led_.end()) it->second.handed_over = true;
  }
  LOG_EVENT(Info, "replicas.handed_over")
      .Kv("partition", absl::StrCat(tp.topic, "-", tp.partition))
      .Kv("to", target)
      .Kv("epoch", next.leader_epoch)
      .Kv("why", "preferred leader");
  Wake();  // the next sync makes this broker a follower of `target`
}

void ReplicaManager::EndHandover(const TopicPartition& tp) {
  std::shared_ptr<Partition> p;
  {
    absl::MutexLock lock(&mu_);
    auto it = led_.find(tp);
    if (it == led_.end() || it->second.handing_to == kNoLeader) return;
    it->second.handing_to = kNoLeader;
    p = it->second.partition;
  }
  p->SetDraining(false);
}

}  // namespace strata::server
