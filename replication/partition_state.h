// Topic assignments and partition states as the cluster keeps them in the MetadataStore, the
// replica-assignment algorithm, and the leader choice rules the controller applies.
//
//   std::vector<std::vector<int32_t>> replicas = AssignReplicas(view.brokers, 6, 3, start);
//   ASSIGN_OR_RETURN(int64_t rev, CreateTopicState(store, "/strata/", "orders", replicas));
//   ASSIGN_OR_RETURN(auto states, ReadPartitionStates(store, "/strata/"));
//
// Keys under the root (docs/formats/cluster-metadata.md):
//   topics/<topic>                 {"partitions":[[1,2,0],[2,0,1]]}   the replicas of each
//   partition partitions/<topic>/<p>
//   {"leader":1,"leader_epoch":0,"isr":[1,2,0],"controller_epoch":5}
// A partition state changes only by compare-and-set on its mod_revision (its version), so a
// writer that read an old state — a stale leader shrinking the ISR, a deposed controller — fails
// and must re-read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replication/cluster_membership.h"
#include "replication/metadata_store.h"

namespace strata {

inline constexpr int32_t kNoLeader = -1;

struct PartitionState {
  int32_t leader = kNoLeader;
  int32_t leader_epoch = 0;      // bumped on every leader change
  std::vector<int32_t> isr;      // in-sync replicas, leader first when there is one
  int64_t controller_epoch = 0;  // the controller (or leader) generation that wrote it

  bool operator==(const PartitionState&) const = default;
};
std::string EncodePartitionState(const PartitionState& s);
absl::StatusOr<PartitionState> DecodePartitionState(absl::string_view json);

struct TopicAssignment {
  std::vector<std::vector<int32_t>> partitions;  // replicas of partition p, preferred leader first
  std::string id;                                // topic id (32 hex digits); "" for none
  std::map<std::string, std::string> configs;    // topic config overrides
  bool operator==(const TopicAssignment&) const = default;
};
std::string EncodeTopicAssignment(const TopicAssignment& a);
absl::StatusOr<TopicAssignment> DecodeTopicAssignment(absl::string_view json);

// A partition as the store has it: where its replicas live and its current state.
struct PartitionRecord {
  std::string topic;
  int32_t partition = 0;
  std::vector<int32_t> replicas;
  PartitionState state;
  int64_t mod_revision = 0;  // of the state key: the version for compare-and-set (0: none)
  bool unreadable = false;   // the state key exists but does not decode (left alone, logged)
};

// Replicas for `partitions` partitions with `replication_factor` each over `brokers`, Kafka's
// way: the brokers ordered so that consecutive ones are on different racks (when racks are
// set), partition p led by the (start + p)-th of them and followed by the next ones, so leaders
// and replicas spread evenly. InvalidArgument when replication_factor exceeds the brokers.
absl::StatusOr<std::vector<std::vector<int32_t>>> AssignReplicas(
    const std::vector<BrokerInfo>& brokers, int32_t partitions, int32_t replication_factor,
    int32_t start, int32_t first_partition = 0);

// Writes topics/<topic> (compare-and-set: AlreadyExists if it exists) and the partitions' first
// states (leader = first replica, ISR = all replicas, epoch 0). Returns the topic key's revision.
absl::StatusOr<int64_t> CreateTopicState(MetadataStore* store, const std::string& root,
                                         const std::string& topic,
                                         const std::vector<std::vector<int32_t>>& replicas,
                                         int64_t controller_epoch = 0);
absl::StatusOr<int64_t> CreateTopicAssignment(MetadataStore* store, const std::string& root,
                                              const std::string& topic, const TopicAssignment& a,
                                              int64_t controller_epoch = 0);

// Every topic under the root with its assignment and the topic key's mod_revision. Topics whose
// key does not decode are logged and left out.
struct TopicRecord {
  std::string name;
  TopicAssignment assignment;
  int64_t mod_revision = 0;
};
absl::StatusOr<std::vector<TopicRecord>> ReadTopics(MetadataStore* store, const std::string& root);

// Grows a topic: the assignment gets `more` (replicas of the new partitions, in order) by
// compare-and-set on `expected_mod_revision`, then the new partitions get their first states.
// Aborted when the topic changed meanwhile (re-read and retry), NotFound when it is gone.
absl::Status AddPartitionsState(MetadataStore* store, const std::string& root,
                                const std::string& topic, int64_t expected_mod_revision,
                                const std::vector<std::vector<int32_t>>& more);
// Replaces the topic's config overrides (compare-and-set, retried on conflicts).
absl::Status SetTopicConfigsState(MetadataStore* store, const std::string& root,
                                  const std::string& topic,
                                  const std::map<std::string, std::string>& configs);
// Deletes the topic key, then its partition states. NotFound when it does not exist.
absl::Status DeleteTopicState(MetadataStore* store, const std::string& root,
                              const std::string& topic);

// Every partition under the root, ordered by (topic, partition). A partition whose state key is
// missing or unreadable is reported with leader -1 and an empty ISR.
absl::StatusOr<std::vector<PartitionRecord>> ReadPartitionStates(MetadataStore* store,
                                                                 const std::string& root);

// Claims the next `size` ids of the cluster-wide counter at `key` (compare-and-set, retried on
// conflicts): returns the block's first id, which is at least `min_start`. Producer ids use
// <root>producer_id_block, so no two brokers hand out the same one (Kafka's KIP-730).
absl::StatusOr<int64_t> ClaimIdBlock(MetadataStore* store, const std::string& key, int64_t size,
                                     int64_t min_start);

std::string TopicKey(const std::string& root, const std::string& topic);
std::string PartitionKey(const std::string& root, const std::string& topic, int32_t partition);

// The leader a controller elects for `p` when its current leader is not in `alive`: the first
// replica (in assignment order) that is alive and in the ISR; with `unclean` the first alive
// replica if no ISR member is alive. nullopt: none, the partition goes offline.
std::optional<int32_t> ChooseLeader(const PartitionRecord& p, const std::vector<int32_t>& alive,
                                    bool unclean);

}  // namespace strata
