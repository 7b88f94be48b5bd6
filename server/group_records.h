// Records of the internal topic __consumer_offsets, in Kafka's key/value schemas so that its
// contents mean the same to Strata and Kafka tools (docs/formats/consumer-offsets.md).
// Every key and value starts with an int16 schema version:
//
//   key v0/v1  offset commit:    group string, topic string, partition int32
//   key v2     group metadata:   group string
//   value (offset commit) v3:    offset int64, leaderEpoch int32, metadata string,
//                                commitTimestamp int64           (v1: + expireTimestamp int64)
//   value (group metadata) v3:   protocolType string, generation int32, protocol string?,
//                                leader string?, currentStateTimestamp int64, members array
//                                (memberId, groupInstanceId?, clientId, clientHost,
//                                 rebalanceTimeout int32, sessionTimeout int32, subscription
//                                 bytes, assignment bytes)
//
// Strings are int16-length, bytes int32-length, arrays int32-count (classic encoding); "?"
// means nullable (length -1). A null value (tombstone) deletes the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::server {

struct OffsetKey {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  bool operator==(const OffsetKey&) const = default;
};

struct GroupKey {
  std::string group;
  bool operator==(const GroupKey&) const = default;
};

struct OffsetValue {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp = -1;
  int64_t expire_timestamp = -1;  // only in value v1
  bool operator==(const OffsetValue&) const = default;
};

struct MemberValue {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::string subscription;
  std::string assignment;
  bool operator==(const MemberValue&) const = default;
};

struct GroupValue {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t current_state_timestamp = -1;
  std::vector<MemberValue> members;
  bool operator==(const GroupValue&) const = default;
};

using RecordKey = std::variant<OffsetKey, GroupKey>;

std::string EncodeKey(const OffsetKey& key);
std::string EncodeKey(const GroupKey& key);
// Offset values are written as v3, or v1 when an expire timestamp is set.
std::string EncodeOffsetValue(const OffsetValue& value);
std::string EncodeGroupValue(const GroupValue& value);

absl::StatusOr<RecordKey> DecodeKey(absl::string_view bytes);
absl::StatusOr<OffsetValue> DecodeOffsetValue(absl::string_view bytes);
absl::StatusOr<GroupValue> DecodeGroupValue(absl::string_view bytes);

// Java's String.hashCode of the UTF-8 bytes decoded as UTF-16 code units (ASCII in practice),
// and Kafka's coordinator partition choice: abs(hash) % partitions, abs(INT32_MIN) = 0.
int32_t JavaStringHashCode(absl::string_view s);
int32_t CoordinatorPartition(absl::string_view group, int32_t partitions);

}  // namespace strata::server
