// Controller: the cluster's leader election, run by the broker that holds the controller role
// (ClusterMembership). It keeps every partition's state (replication/partition_state.h) in step
// with the live brokers:
//
//   - a leader whose broker is gone is replaced by the first replica (assignment order) that is
//     alive and in the ISR, with the leader epoch bumped; with none the partition goes offline
//     (leader -1, epoch bumped, ISR kept so that a returning ISR member is elected), unless
//     unclean.leader.election.enable (the topic's override, else Options) allows any live
//     replica;
//   - dead brokers leave the ISRs of partitions whose leader lives;
//   - it never moves a live leader: preferred leader election (handing leadership back to the
//     first replica) is the leader's own, made once that replica is live, in the ISR and caught
//     up (server/replica_manager.h), so that it never goes to a replica that lags or cannot
//     reach the rest of the ISR.
//   - a broker that restarted (its registration is new since the last pass) is treated as dead
//     for one pass, so its leaderships get a new epoch and it leaves the ISRs until it catches up;
//   - a partition whose state is missing (a creation cut short) gets its first state.
// Every write is a compare-and-set on the state's version, stamped with the controller epoch;
// a conflict (a leader changed its ISR meanwhile) is re-read and retried on the next pass.
//
//   Controller controller(store, membership, {.root = "/strata/"});
//   controller.Start();      // passes on every cluster change while this broker is controller
//   ASSIGN_OR_RETURN(ControllerPass p, controller.Reconcile());   // one pass now (tests, tools)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replication/cluster_membership.h"
#include "replication/metadata_store.h"
#include "replication/partition_state.h"

namespace strata {

struct ControllerPass {
  bool active = false;  // this broker was the controller
  int partitions = 0;
  int leaders_changed = 0;
  int isr_changed = 0;
  int offline = 0;    // partitions left without a leader
  int conflicts = 0;  // compare-and-set lost to another writer (retried next pass)
};

class Controller {
 public:
  struct Options {
    std::string root = "/strata/";
    bool unclean_leader_election = false;  // unclean.leader.election.enable: broker default
  };

  Controller(MetadataStore* store, ClusterMembership* membership, Options options);
  ~Controller();  // Stop()

  // Watches the cluster and reconciles on every change (and periodically) on its own thread.
  absl::Status Start();
  void Stop();

  // One reconciliation pass, if this broker is the controller (else returns active = false).
  absl::StatusOr<ControllerPass> Reconcile();

 private:
  void Run();
  // The state `rec` should have with `alive` brokers (rules above); equal to rec.state when
  // nothing is to change.
  // `unclean`: the topic's unclean.leader.election.enable.
  PartitionState Next(const PartitionRecord& rec, const std::vector<int32_t>& alive,
                      bool unclean) const;
  // Writes the first state of a partition whose topic exists without it. False: lost a race.
  absl::StatusOr<bool> CreateMissingState(const PartitionRecord& rec, int64_t controller_epoch);

  MetadataStore* store_;
  ClusterMembership* membership_;
  const Options options_;
  absl::Mutex pass_mu_;  // one pass at a time (the thread, and callers of Reconcile)
  std::map<int32_t, int64_t> seen_registrations_ ABSL_GUARDED_BY(pass_mu_);
  absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WatchHandle> watch_;
  int listener_ = -1;  // on the membership: a pass when the view (say, the controller) changes
  std::thread thread_;
};

// Controlled shutdown, run by a broker before it leaves: every partition it leads gets another
// live ISR member as leader (epoch bumped) and the broker leaves the ISRs of partitions others
// lead, so producers see a clean move instead of a dead leader. Partitions with no other live
// in-sync replica keep this broker as leader. Returns how many leaders moved.
absl::StatusOr<int> MoveLeadershipAway(MetadataStore* store, const std::string& root,
                                       int32_t broker_id, const std::vector<int32_t>& alive,
                                       int64_t controller_epoch);

// Partition health over `alive` brokers (strata cluster status).
struct PartitionHealth {
  int partitions = 0;
  int under_replicated = 0;  // ISR smaller than the replica set
  int offline = 0;           // no leader, or a leader that is not alive
};
PartitionHealth HealthOf(const std::vector<PartitionRecord>& records,
                         const std::vector<int32_t>& alive);

}  // namespace strata
