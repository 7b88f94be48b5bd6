// The "consumer" protocol's bytes (an int16 version, then ConsumerProtocolSubscription or
// ConsumerProtocolAssignment at that version) for tests that join groups with raw requests.
//
//   join.protocols.push_back({"range", EncodeSubscription({"orders"})});
//   sync.assignments.push_back({member_id, EncodeAssignment(1, {{"orders", {0, 1}}})});
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "protocol/consumer_protocol_assignment.h"
#include "protocol/consumer_protocol_subscription.h"
#include "protocol/writer.h"

namespace strata::testing {

// A version 0 subscription to `topics`.
inline std::string EncodeSubscription(const std::vector<std::string>& topics) {
  protocol::ConsumerProtocolSubscription sub;
  sub.topics = topics;
  std::string out;
  protocol::Writer w(&out);
  w.Write(int16_t{0});
  sub.Encode(w, 0);
  return out;
}

// An assignment of (topic, partitions) pairs, prefixed with `version`; a version newer than the
// codec knows is encoded as the newest it knows (what a newer client's bytes start with).
inline std::string EncodeAssignment(
    int16_t version, const std::vector<std::pair<std::string, std::vector<int32_t>>>& assigned) {
  protocol::ConsumerProtocolAssignment a;
  for (const auto& [topic, partitions] : assigned) {
    a.assigned_partitions.push_back({topic, partitions});
  }
  std::string out;
  protocol::Writer w(&out);
  w.Write(version);
  a.Encode(w, std::min(version, protocol::ConsumerProtocolAssignment::kMaxVersion));
  return out;
}

}  // namespace strata::testing
