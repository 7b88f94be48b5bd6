#include "replication/etcd_json.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace strata::etcd_json {
namespace {

using nlohmann::json;

std::string B64(absl::string_view s) { return absl::Base64Escape(s); }

// Parses without exceptions; a discarded value means malformed JSON.
absl::StatusOr<json> Parse(absl::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InternalError(
        absl::StrCat("etcd: malformed JSON response: ", body.substr(0, 200)));
  }
  return j;
}

// An int64 field sent as a string (proto3 JSON) or a number; absent = 0.
int64_t Int(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  return 0;
}

bool Bool(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

std::string Str(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::StatusOr<std::string> Bytes(const json& obj, const char* name) {
  std::string out;
  if (!absl::Base64Unescape(Str(obj, name), &out)) {
    return absl::InternalError(absl::StrCat("etcd: bad base64 in field ", name));
  }
  return out;
}

absl::StatusOr<KeyValue> ParseKv(const json& j) {
  KeyValue kv;
  ASSIGN_OR_RETURN(kv.key, Bytes(j, "key"));
  ASSIGN_OR_RETURN(kv.value, Bytes(j, "value"));
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.version = Int(j, "version");
  kv.lease = Int(j, "lease");
  return kv;
}

const json& Header(const json& j) {
  static const json kEmpty = json::object();
  auto it = j.find("header");
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

absl::StatusOr<std::vector<KeyValue>> ParseKvs(const json& j) {
  std::vector<KeyValue> kvs;
  auto it = j.find("kvs");
  if (it == j.end() || !it->is_array()) return kvs;
  for (const json& e : *it) {
    ASSIGN_OR_RETURN(KeyValue kv, ParseKv(e));
    kvs.push_back(std::move(kv));
  }
  return kvs;
}

// Streaming endpoints wrap each message in {"result": ...} (or {"error": ...}).
absl::StatusOr<json> Unwrap(json j) {
  if (auto err = j.find("error"); err != j.end() && err->is_object()) {
    return ErrorFromResponse(static_cast<long>(Int(*err, "http_code")), err->dump());
  }
  if (auto result = j.find("result"); result != j.end() && result->is_object()) return *result;
  return j;
}

absl::StatusCode CodeFromGrpc(int64_t code) {
  switch (code) {
    case 3:
      return absl::StatusCode::kInvalidArgument;
    case 4:
      return absl::StatusCode::kUnavailable;  // deadline exceeded: retry
    case 5:
      return absl::StatusCode::kNotFound;
    case 6:
      return absl::StatusCode::kAlreadyExists;
    case 8:
      return absl::StatusCode::kResourceExhausted;
    case 9:
      return absl::StatusCode::kFailedPrecondition;
    case 10:
      return absl::StatusCode::kAborted;
    case 11:
      return absl::StatusCode::kOutOfRange;
    case 14:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

KeyRange PrefixRange(absl::string_view prefix) {
  std::string end = PrefixEnd(prefix);
  // range_end "\0" means "to the end of the key space"; key "\0" is the smallest non-empty key.
  return KeyRange{.key = prefix.empty() ? std::string(1, '\0') : std::string(prefix),
                  .range_end = end.empty() ? std::string(1, '\0') : end};
}

std::string RangeRequest(absl::string_view key, absl::string_view range_end) {
  json j = {{"key", B64(key)}};
  if (!range_end.empty()) {
    j["range_end"] = B64(range_end);
    j["sort_order"] = "ASCEND";
    j["sort_target"] = "KEY";
  }
  return j.dump();
}

std::string PutRequest(absl::string_view key, absl::string_view value, LeaseId lease) {
  json j = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != kNoLease) j["lease"] = std::to_string(lease);
  return j.dump();
}

std::string DeleteRequest(absl::string_view key) {
  return json{{"key", B64(key)}, {"prev_kv", false}}.dump();
}

std::string CasRequest(absl::string_view key, int64_t expected_mod_revision,
                       const std::optional<std::string>& value, LeaseId lease) {
  // mod_revision == 0 also matches a key that does not exist (etcd compares a zero key-value).
  json compare = {{"key", B64(key)},
                  {"target", "MOD"},
                  {"result", "EQUAL"},
                  {"mod_revision", std::to_string(expected_mod_revision)}};
  json success;
  if (value.has_value()) {
    json put = {{"key", B64(key)}, {"value", B64(*value)}};
    if (lease != kNoLease) put["lease"] = std::to_string(lease);
    success = {{"request_put", put}};
  } else {
    success = {{"request_delete_range", {{"key", B64(key)}}}};
  }
  json failure = {{"request_range", {{"key", B64(key)}}}};
  return json{{"compare", json::array({compare})},
              {"success", json::array({success})},
              {"failure", json::array({failure})}}
      .dump();
}

std::string GrantRequest(int64_t ttl_s) { return json{{"TTL", std::to_string(ttl_s)}}.dump(); }

std::string LeaseRequest(LeaseId lease) { return json{{"ID", std::to_string(lease)}}.dump(); }

std::string CompactRequest(int64_t revision) {
  return json{{"revision", std::to_string(revision)}, {"physical", true}}.dump();
}

std::string WatchCreateRequest(absl::string_view key, absl::string_view range_end,
                               int64_t start_revision) {
  json create = {{"key", B64(key)}};
  if (!range_end.empty()) create["range_end"] = B64(range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  return json{{"create_request", create}}.dump();
}

absl::StatusOr<RangeResult> ParseRange(absl::string_view body) {
  ASSIGN_OR_RETURN(json j, Parse(body));
  RangeResult result;
  result.revision = Int(Header(j), "revision");
  ASSIGN_OR_RETURN(result.kvs, ParseKvs(j));
  return result;
}

absl::StatusOr<int64_t> ParseRevision(absl::string_view body) {
  ASSIGN_OR_RETURN(json j, Parse(body));
  int64_t revision = Int(Header(j), "revision");
  if (revision <= 0) return absl::InternalError("etcd: response without a revision");
  return revision;
}

absl::StatusOr<DeleteResult> ParseDelete(absl::string_view body) {
  ASSIGN_OR_RETURN(json j, Parse(body));
  return DeleteResult{.deleted = Int(j, "deleted") > 0, .revision = Int(Header(j), "revision")};
}

absl::StatusOr<CasResult> ParseCas(absl::string_view body) {
  ASSIGN_OR_RETURN(json j, Parse(body));
  CasResult result;
  result.applied = Bool(j, "succeeded");
  result.revision = Int(Header(j), "revision");
  if (result.applied) return result;
  auto responses = j.find("responses");
  if (responses == j.end() || !responses->is_array() || responses->empty()) return result;
  const json& first = (*responses)[0];
  auto range = first.find("response_range");
  if (range == first.end()) return result;
  ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, ParseKvs(*range));
  if (!kvs.empty()) result.current = std::move(kvs.front());
  return result;
}

absl::StatusOr<Grant> ParseGrant(absl::string_view body) {
  ASSIGN_OR_RETURN(json j, Parse(body));
  if (std::string error = Str(j, "error"); !error.empty()) {
    return absl::InternalError(absl::StrCat("etcd: lease grant: ", error));
  }
  Grant grant{.id = Int(j, "ID"), .ttl_s = Int(j, "TTL")};
  if (grant.id == kNoLease) return absl::InternalError("etcd: lease grant without an ID");
  return grant;
}

absl::StatusOr<int64_t> ParseKeepAliveTtl(absl::string_view body) {
  ASSIGN_OR_RETURN(json raw, Parse(body));
  ASSIGN_OR_RETURN(json j, Unwrap(std::move(raw)));
  return Int(j, "TTL");
}

absl::StatusOr<WatchMessage> ParseWatchMessage(absl::string_view line) {
  ASSIGN_OR_RETURN(json raw, Parse(line));
  ASSIGN_OR_RETURN(json j, Unwrap(std::move(raw)));
  WatchMessage m;
  m.created = Bool(j, "created");
  m.canceled = Bool(j, "canceled");
  m.compact_revision = Int(j, "compact_revision");
  m.header_revision = Int(Header(j), "revision");
  m.cancel_reason = Str(j, "cancel_reason");
  auto events = j.find("events");
  if (events == j.end() || !events->is_array()) return m;
  for (const json& e : *events) {
    WatchEvent event;
    event.type = Str(e, "type") == "DELETE" ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
    auto kv = e.find("kv");
    if (kv == e.end() || !kv->is_object()) return absl::InternalError("etcd: event without kv");
    ASSIGN_OR_RETURN(event.kv, ParseKv(*kv));
    m.events.push_back(std::move(event));
  }
  return m;
}

absl::Status ErrorFromResponse(long http_status, absl::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  int64_t code = 0;
  std::string message;
  if (!j.is_discarded() && j.is_object()) {
    code = Int(j, "code") != 0 ? Int(j, "code") : Int(j, "grpc_code");
    message = Str(j, "message");
  }
  if (message.empty()) message = std::string(body.substr(0, 200));
  absl::StatusCode status_code = CodeFromGrpc(code);
  // No gRPC code: the gateway or a proxy failed; 5xx is worth a retry.
  if (code == 0 && http_status >= 500) status_code = absl::StatusCode::kUnavailable;
  return absl::Status(status_code, absl::StrCat("etcd (HTTP ", http_status, "): ", message));
}

}  // namespace strata::etcd_json
