// The Kafka APIs this codec knows: keys, valid and flexible version ranges, header versions.
//
//   const ApiInfo* api = FindApi(header.api_key);
//   if (api == nullptr || !api->IsValidVersion(header.api_version)) { /* unsupported */ }
//   int16_t response_header = ResponseHeaderVersion(header.api_key, header.api_version);
//
// The table behind FindApi/AllApis is generated from the vendored JSON schemas
// (protocol/schema/), so the ranges are Kafka 3.9's validVersions / flexibleVersions. What the
// broker *advertises* is the server's decision, not this table's.
#pragma once

#include <cstdint>
#include <span>

namespace strata::protocol {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kSaslHandshake = 17,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kOffsetForLeaderEpoch = 23,
  kAddPartitionsToTxn = 24,
  kAddOffsetsToTxn = 25,
  kEndTxn = 26,
  kWriteTxnMarkers = 27,
  kTxnOffsetCommit = 28,
  kDescribeConfigs = 32,
  kAlterConfigs = 33,
  kSaslAuthenticate = 36,
  kCreatePartitions = 37,
  kDeleteGroups = 42,
  kIncrementalAlterConfigs = 44,
  kOffsetDelete = 47,
  kDescribeCluster = 60,
};

struct ApiInfo {
  ApiKey key;
  const char* name;  // "Produce", "ApiVersions", ...
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // -1: no flexible version
  // Kafka marks the top version as not yet released ("latestVersionUnstable"): do not advertise.
  bool latest_version_unstable;

  bool IsValidVersion(int16_t v) const { return v >= min_version && v <= max_version; }
  bool IsFlexible(int16_t v) const {
    return first_flexible_version >= 0 && v >= first_flexible_version;
  }
};

// Every API above, ordered by key.
std::span<const ApiInfo> AllApis();
// nullptr for a key not in ApiKey.
const ApiInfo* FindApi(int16_t key);
inline const ApiInfo* FindApi(ApiKey key) { return FindApi(static_cast<int16_t>(key)); }

// Request header version for a request: 2 if the body version is flexible, else 1
// (ControlledShutdown v0 alone uses 0). A version above the API's range counts as flexible when
// the API has flexible versions (they only ever grow), so a too-new ApiVersions request's header
// still parses; an unknown API key gives 1.
int16_t RequestHeaderVersion(int16_t api_key, int16_t api_version);
// Response header version: 1 if flexible, else 0; ApiVersions always 0 (KIP-511).
int16_t ResponseHeaderVersion(int16_t api_key, int16_t api_version);

}  // namespace strata::protocol
