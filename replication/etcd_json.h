// Internal to replication/: the JSON bodies of etcd v3's gRPC gateway (etcd 3.4, /v3/...), built
// and parsed here so that nlohmann/json stays inside etcd_json.cc. Keys and values travel base64
// encoded; int64 fields arrive as JSON strings ("revision": "12") and fields equal to their
// default (0, false, PUT) are omitted, as proto3's JSON mapping does.
//
// Parsers never throw: malformed bodies become Internal errors; an etcd error body
// ({"error": ..., "code": N, "message": ...}) becomes the matching absl::Status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replication/metadata_store.h"

namespace strata::etcd_json {

// etcd's [key, range_end) for every key starting with `prefix` ("" = all keys: "\0", "\0").
struct KeyRange {
  std::string key;
  std::string range_end;
};
KeyRange PrefixRange(absl::string_view prefix);

// POST /v3/kv/range: `key` alone, or [key, range_end) when range_end is not empty ("\0" = all).
std::string RangeRequest(absl::string_view key, absl::string_view range_end);
// POST /v3/kv/put
std::string PutRequest(absl::string_view key, absl::string_view value, LeaseId lease);
// POST /v3/kv/deleterange
std::string DeleteRequest(absl::string_view key);
// POST /v3/kv/txn: if mod_revision(key) == expected then put (value set) or delete (nullopt),
// else read the key.
std::string CasRequest(absl::string_view key, int64_t expected_mod_revision,
                       const std::optional<std::string>& value, LeaseId lease);
// POST /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke
std::string GrantRequest(int64_t ttl_s);
std::string LeaseRequest(LeaseId lease);
// POST /v3/kv/compaction
std::string CompactRequest(int64_t revision);
// POST /v3/watch (a streaming response: one JSON object per line)
std::string WatchCreateRequest(absl::string_view key, absl::string_view range_end,
                               int64_t start_revision);

absl::StatusOr<RangeResult> ParseRange(absl::string_view body);
// The header revision of a put (or any response with a header).
absl::StatusOr<int64_t> ParseRevision(absl::string_view body);
absl::StatusOr<DeleteResult> ParseDelete(absl::string_view body);
absl::StatusOr<CasResult> ParseCas(absl::string_view body);

struct Grant {
  LeaseId id = kNoLease;
  int64_t ttl_s = 0;
};
absl::StatusOr<Grant> ParseGrant(absl::string_view body);
// The remaining TTL after a keep-alive; 0 means the lease no longer exists.
absl::StatusOr<int64_t> ParseKeepAliveTtl(absl::string_view body);

struct WatchMessage {
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0 with canceled: the start revision was compacted
  int64_t header_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};
// One line of the /v3/watch stream.
absl::StatusOr<WatchMessage> ParseWatchMessage(absl::string_view line);

// The status for a non-200 response (`body` is etcd's error JSON, if any).
absl::Status ErrorFromResponse(long http_status, absl::string_view body);

}  // namespace strata::etcd_json
