#include "server/group.h"

#include <algorithm>

#include "common/bytes.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/reader.h"

namespace strata::server {

const char* GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupState::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kDead:
      return "Dead";
  }
  return "Unknown";
}

const std::string* Member::Metadata(const std::string& protocol) const {
  for (const auto& [name, metadata] : protocols) {
    if (name == protocol) return &metadata;
  }
  return nullptr;
}

namespace {

// Protocol names every member supports.
std::set<std::string> CommonProtocols(const std::map<std::string, Member>& members) {
  std::set<std::string> common;
  bool first = true;
  for (const auto& [id, m] : members) {
    std::set<std::string> names;
    for (const auto& [name, unused] : m.protocols) names.insert(name);
    if (first) {
      common = std::move(names);
      first = false;
    } else {
      std::set<std::string> both;
      std::set_intersection(common.begin(), common.end(), names.begin(), names.end(),
                            std::inserter(both, both.begin()));
      common = std::move(both);
    }
  }
  return common;
}

}  // namespace

std::optional<std::string> Group::SelectProtocol() const {
  std::set<std::string> candidates = CommonProtocols(members);
  if (candidates.empty()) return std::nullopt;
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members) {
    for (const auto& [name, unused] : m.protocols) {
      if (candidates.count(name)) {
        ++votes[name];
        break;
      }
    }
  }
  // Ties go to the first member's preference order.
  std::optional<std::string> best;
  int best_votes = -1;
  for (const auto& [name, unused] : members.begin()->second.protocols) {
    auto it = votes.find(name);
    int v = it == votes.end() ? 0 : it->second;
    if (candidates.count(name) && v > best_votes) {
      best = name;
      best_votes = v;
    }
  }
  return best;
}

bool Group::SupportsProtocols(
    const std::string& type,
    const std::vector<std::pair<std::string, std::string>>& protocols) const {
  if (type.empty() || protocols.empty()) return false;
  if (members.empty()) return true;
  if (type != protocol_type) return false;
  std::set<std::string> common = CommonProtocols(members);
  for (const auto& [name, unused] : protocols) {
    if (common.count(name)) return true;
  }
  return false;
}

int32_t Group::MaxRebalanceTimeoutMs() const {
  int32_t max = 0;
  for (const auto& [id, m] : members) max = std::max(max, m.rebalance_timeout_ms);
  return max;
}

bool Group::AllMembersJoined() const {
  if (!pending_members.empty()) return false;
  for (const auto& [id, m] : members) {
    if (!m.awaiting_join) return false;
  }
  return true;
}

GroupValue Group::ToValue(int64_t now_ms) const {
  GroupValue v;
  v.protocol_type = protocol_type;
  v.generation = generation;
  v.protocol = protocol;
  v.leader = leader;
  v.current_state_timestamp = now_ms;
  for (const auto& [id, m] : members) {
    const std::string* metadata = protocol.has_value() ? m.Metadata(*protocol) : nullptr;
    v.members.push_back({m.id, m.instance_id, m.client_id, m.client_host, m.rebalance_timeout_ms,
                         m.session_timeout_ms, metadata ? *metadata : std::string(), m.assignment});
  }
  return v;
}

std::set<std::string> Group::SubscribedTopics() const {
  std::set<std::string> topics;
  if (protocol_type != "consumer" || !protocol.has_value()) return topics;
  for (const auto& [id, m] : members) {
    const std::string* metadata = m.Metadata(*protocol);
    if (metadata == nullptr || metadata->size() < 2) continue;
    protocol::Reader r(AsBytes(*metadata));
    int16_t version = 0;
    if (!r.Read(&version).ok()) continue;
    protocol::ConsumerProtocolSubscription sub;
    if (sub.Decode(r,
                   std::min<int16_t>(version, protocol::ConsumerProtocolSubscription::kMaxVersion))
            .ok()) {
      topics.insert(sub.topics.begin(), sub.topics.end());
    }
  }
  return topics;
}

}  // namespace strata::server
