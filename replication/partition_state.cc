// Partition states, topic assignments and replica assignment (replication/partition_state.h).
#include "replication/partition_state.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace strata {
namespace {

bool IsIntArray(const nlohmann::json& j) {
  if (!j.is_array()) return false;
  for (const auto& v : j) {
    if (!v.is_number_integer()) return false;
  }
  return true;
}

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Kafka's getRackAlternatedBrokerList: one broker of each rack in turn (racks and brokers in
// id order), so neighbours in the list sit on different racks while racks last.
std::vector<int32_t> RackAlternated(const std::vector<BrokerInfo>& brokers) {
  std::map<std::string, std::vector<int32_t>> by_rack;
  bool any_rack = false;
  for (const BrokerInfo& b : brokers) {
    by_rack[b.rack.value_or("")].push_back(b.id);
    any_rack |= b.rack.has_value();
  }
  std::vector<int32_t> out;
  if (!any_rack) {
    for (const BrokerInfo& b : brokers) out.push_back(b.id);
    std::sort(out.begin(), out.end());
    return out;
  }
  for (auto& [rack, ids] : by_rack) std::sort(ids.begin(), ids.end());
  for (size_t round = 0; out.size() < brokers.size(); ++round) {
    for (const auto& [rack, ids] : by_rack) {
      if (round < ids.size()) out.push_back(ids[round]);
    }
  }
  return out;
}

}  // namespace

std::string EncodePartitionState(const PartitionState& s) {
  return nlohmann::json{{"leader", s.leader},
                        {"leader_epoch", s.leader_epoch},
                        {"isr", s.isr},
                        {"controller_epoch", s.controller_epoch}}
      .dump();
}

absl::StatusOr<PartitionState> DecodePartitionState(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("leader") ||
      !j["leader"].is_number_integer() || !j.contains("leader_epoch") ||
      !j["leader_epoch"].is_number_integer() || !j.contains("isr") || !IsIntArray(j["isr"])) {
    return absl::DataLossError(absl::StrCat("bad partition state: ", json));
  }
  PartitionState s{.leader = j["leader"].get<int32_t>(),
                   .leader_epoch = j["leader_epoch"].get<int32_t>(),
                   .isr = j["isr"].get<std::vector<int32_t>>()};
  if (j.contains("controller_epoch") && j["controller_epoch"].is_number_integer()) {
    s.controller_epoch = j["controller_epoch"].get<int64_t>();
  }
  return s;
}

std::string EncodeTopicAssignment(const TopicAssignment& a) {
  nlohmann::json j{{"partitions", a.partitions}};
  if (!a.id.empty()) j["id"] = a.id;
  if (!a.configs.empty()) j["configs"] = a.configs;
  return j.dump();
}

absl::StatusOr<TopicAssignment> DecodeTopicAssignment(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  bool ok = !j.is_discarded() && j.is_object() && j.contains("partitions") &&
            j["partitions"].is_array() && !j["partitions"].empty();
  if (ok) {
    for (const auto& p : j["partitions"]) ok = ok && IsIntArray(p) && !p.empty();
  }
  ok = ok && (!j.contains("id") || j["id"].is_string());
  if (ok && j.contains("configs")) {
    ok = j["configs"].is_object();
    for (const auto& [name, value] : j["configs"].items()) ok = ok && value.is_string();
  }
  if (!ok) return absl::DataLossError(absl::StrCat("bad topic assignment: ", json));
  TopicAssignment a{j["partitions"].get<std::vector<std::vector<int32_t>>>()};
  if (j.contains("id")) a.id = j["id"].get<std::string>();
  if (j.contains("configs")) a.configs = j["configs"].get<std::map<std::string, std::string>>();
  return a;
}

absl::StatusOr<int64_t> ClaimIdBlock(MetadataStore* store, const std::string& key, int64_t size,
                                     int64_t min_start) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<KeyValue> current, store->Get(key));
    int64_t next = 0;
    if (current.has_value() && !absl::SimpleAtoi(current->value, &next)) {
      return absl::DataLossError(absl::StrCat(key, " holds ", current->value, ", not an id"));
    }
    int64_t start = std::max(next, min_start);
    ASSIGN_OR_RETURN(CasResult r,
                     store->CompareAndSet(key, current.has_value() ? current->mod_revision : 0,
                                          absl::StrCat(start + size)));
    if (r.applied) return start;
  }
  return absl::AbortedError(absl::StrCat(key, ": too many concurrent claims"));
}

std::string TopicKey(const std::string& root, const std::string& topic) {
  return absl::StrCat(root, "topics/", topic);
}

std::string PartitionKey(const std::string& root, const std::string& topic, int32_t partition) {
  return absl::StrCat(root, "partitions/", topic, "/", partition);
}

absl::StatusOr<std::vector<std::vector<int32_t>>> AssignReplicas(
    const std::vector<BrokerInfo>& brokers, int32_t partitions, int32_t replication_factor,
    int32_t start, int32_t first_partition) {
  if (replication_factor <= 0 || partitions <= 0) {
    return absl::InvalidArgumentError("partitions and replication factor must be positive");
  }
  if (static_cast<size_t>(replication_factor) > brokers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Replication factor: ", replication_factor,
                     " larger than available brokers: ", brokers.size(), "."));
  }
  std::vector<int32_t> order = RackAlternated(brokers);
  const auto n = static_cast<int64_t>(order.size());
  std::vector<std::vector<int32_t>> out;
  for (int32_t p = first_partition; p < first_partition + partitions; ++p) {
    std::vector<int32_t> replicas;
    for (int32_t j = 0; j < replication_factor; ++j) {
      int64_t at = ((static_cast<int64_t>(start) + p + j) % n + n) % n;
      replicas.push_back(order[static_cast<size_t>(at)]);
    }
    out.push_back(std::move(replicas));
  }
  return out;
}

namespace {

// The first states of partitions [first, first + replicas.size()): leader = first replica, ISR =
// all. Absent-only: a retried creation must not reset a state that already moved on.
absl::Status WriteFirstStates(MetadataStore* store, const std::string& root,
                              const std::string& topic, size_t first,
                              const std::vector<std::vector<int32_t>>& replicas,
                              int64_t controller_epoch) {
  for (size_t i = 0; i < replicas.size(); ++i) {
    PartitionState s{.leader = replicas[i].front(),
                     .leader_epoch = 0,
                     .isr = replicas[i],
                     .controller_epoch = controller_epoch};
    ASSIGN_OR_RETURN(CasResult put, store->CompareAndSet(
                                        PartitionKey(root, topic, static_cast<int32_t>(first + i)),
                                        0, EncodePartitionState(s)));
    (void)put;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> CreateTopicState(MetadataStore* store, const std::string& root,
                                         const std::string& topic,
                                         const std::vector<std::vector<int32_t>>& replicas,
                                         int64_t controller_epoch) {
  return CreateTopicAssignment(store, root, topic, TopicAssignment{replicas}, controller_epoch);
}

absl::StatusOr<int64_t> CreateTopicAssignment(MetadataStore* store, const std::string& root,
                                              const std::string& topic, const TopicAssignment& a,
                                              int64_t controller_epoch) {
  ASSIGN_OR_RETURN(CasResult r,
                   store->CompareAndSet(TopicKey(root, topic), 0, EncodeTopicAssignment(a)));
  if (!r.applied)
    return absl::AlreadyExistsError(absl::StrCat("Topic '", topic, "' already exists."));
  RETURN_IF_ERROR(WriteFirstStates(store, root, topic, 0, a.partitions, controller_epoch));
  return r.revision;
}

absl::StatusOr<std::vector<TopicRecord>> ReadTopics(MetadataStore* store, const std::string& root) {
  const std::string prefix = root + "topics/";
  ASSIGN_OR_RETURN(RangeResult topics, store->GetPrefix(prefix));
  std::vector<TopicRecord> out;
  for (const KeyValue& kv : topics.kvs) {
    auto a = DecodeTopicAssignment(kv.value);
    if (!a.ok()) {
      LOG_EVENT(Warn, "cluster.bad_topic").Kv("key", kv.key).Kv("error", a.status().ToString());
      continue;
    }
    out.push_back({kv.key.substr(prefix.size()), std::move(*a), kv.mod_revision});
  }
  return out;
}

absl::Status AddPartitionsState(MetadataStore* store, const std::string& root,
                                const std::string& topic, int64_t expected_mod_revision,
                                const std::vector<std::vector<int32_t>>& more) {
  ASSIGN_OR_RETURN(std::optional<KeyValue> kv, store->Get(TopicKey(root, topic)));
  if (!kv.has_value()) return absl::NotFoundError(absl::StrCat("topic '", topic, "' not found"));
  if (kv->mod_revision != expected_mod_revision) {
    return absl::AbortedError(absl::StrCat("topic '", topic, "' changed meanwhile"));
  }
  ASSIGN_OR_RETURN(TopicAssignment a, DecodeTopicAssignment(kv->value));
  const size_t first = a.partitions.size();
  a.partitions.insert(a.partitions.end(), more.begin(), more.end());
  ASSIGN_OR_RETURN(CasResult r, store->CompareAndSet(TopicKey(root, topic), expected_mod_revision,
                                                     EncodeTopicAssignment(a)));
  if (!r.applied) return absl::AbortedError(absl::StrCat("topic '", topic, "' changed meanwhile"));
  return WriteFirstStates(store, root, topic, first, more, 0);
}

absl::Status SetTopicConfigsState(MetadataStore* store, const std::string& root,
                                  const std::string& topic,
                                  const std::map<std::string, std::string>& configs) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<KeyValue> kv, store->Get(TopicKey(root, topic)));
    if (!kv.has_value()) return absl::NotFoundError(absl::StrCat("topic '", topic, "' not found"));
    ASSIGN_OR_RETURN(TopicAssignment a, DecodeTopicAssignment(kv->value));
    a.configs = configs;
    ASSIGN_OR_RETURN(CasResult r, store->CompareAndSet(TopicKey(root, topic), kv->mod_revision,
                                                       EncodeTopicAssignment(a)));
    if (r.applied) return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat("topic '", topic, "' keeps changing"));
}

absl::Status DeleteTopicState(MetadataStore* store, const std::string& root,
                              const std::string& topic) {
  ASSIGN_OR_RETURN(DeleteResult d, store->Delete(TopicKey(root, topic)));
  if (!d.deleted) return absl::NotFoundError(absl::StrCat("topic '", topic, "' not found"));
  ASSIGN_OR_RETURN(RangeResult states, store->GetPrefix(root + "partitions/" + topic + "/"));
  for (const KeyValue& kv : states.kvs) RETURN_IF_ERROR(store->Delete(kv.key).status());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PartitionRecord>> ReadPartitionStates(MetadataStore* store,
                                                                 const std::string& root) {
  ASSIGN_OR_RETURN(RangeResult topics, store->GetPrefix(root + "topics/"));
  ASSIGN_OR_RETURN(RangeResult states, store->GetPrefix(root + "partitions/"));
  std::map<std::pair<std::string, int32_t>, const KeyValue*> by_partition;
  const std::string prefix = root + "partitions/";
  for (const KeyValue& kv : states.kvs) {
    absl::string_view rest = absl::string_view(kv.key).substr(prefix.size());
    size_t slash = rest.rfind('/');
    int32_t p;
    if (slash == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(slash + 1), &p)) continue;
    by_partition[{std::string(rest.substr(0, slash)), p}] = &kv;
  }
  std::vector<PartitionRecord> out;
  for (const KeyValue& kv : topics.kvs) {
    std::string topic = kv.key.substr(root.size() + 7);  // "topics/"
    auto assignment = DecodeTopicAssignment(kv.value);
    if (!assignment.ok()) continue;
    for (size_t p = 0; p < assignment->partitions.size(); ++p) {
      PartitionRecord rec{.topic = topic,
                          .partition = static_cast<int32_t>(p),
                          .replicas = assignment->partitions[p]};
      auto it = by_partition.find({topic, rec.partition});
      if (it != by_partition.end()) {
        auto state = DecodePartitionState(it->second->value);
        if (state.ok()) {
          rec.state = *state;
          rec.mod_revision = it->second->mod_revision;
        } else {
          rec.unreadable = true;
          LOG_EVENT(Warn, "cluster.bad_partition_state")
              .Kv("key", it->second->key)
              .Kv("error", state.status().ToString());
        }
      }
      out.push_back(std::move(rec));
    }
  }
  return out;
}

std::optional<int32_t> ChooseLeader(const PartitionRecord& p, const std::vector<int32_t>& alive,
                                    bool unclean) {
  for (int32_t r : p.replicas) {
    if (Contains(alive, r) && Contains(p.state.isr, r)) return r;
  }
  if (unclean) {
    for (int32_t r : p.replicas) {
      if (Contains(alive, r)) return r;
    }
  }
  return std::nullopt;
}

}  // namespace strata
