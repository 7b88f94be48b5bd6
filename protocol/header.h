// Request and response headers (RequestHeader.json v0-v2, ResponseHeader.json v0-v1).
//
// Server side: decode the header, then the body from the same Reader.
//
//   Reader r(frame);                                   // frame without its int32 size
//   ASSIGN_OR_RETURN(RequestHeader h, RequestHeader::Decode(r));
//   const ApiInfo* api = FindApi(h.api_key);
//   if (api == nullptr || !api->IsValidVersion(h.api_version)) ...   // refuse: see api.h
//   FetchRequest req;
//   RETURN_IF_ERROR(req.Decode(r, h.api_version));
//   ...
//   EncodeResponseHeader(w, h.correlation_id, ResponseHeaderVersion(h.api_key, h.api_version));
//
// RequestHeader::Decode picks the header version itself from the api key and version
// (RequestHeaderVersion): v0 has no client id, v1 adds the client id (always an int16-length
// nullable string, even in v2), v2 adds a tagged-field section, whose fields are skipped.
// It succeeds for api keys and versions this codec does not know, so the caller still learns
// the correlation id; rejecting them is the caller's decision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace strata::protocol {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;

  static absl::StatusOr<RequestHeader> Decode(Reader& r);
  bool operator==(const RequestHeader&) const = default;
};

// Client side: writes `h` in the header version its api key and version call for.
void EncodeRequestHeader(Writer& w, const RequestHeader& h);

// Writes a response header: correlation id, then (v1) an empty tagged-field section.
void EncodeResponseHeader(Writer& w, int32_t correlation_id, int16_t header_version);
// Client side: reads a response header of the given version, returns the correlation id.
absl::StatusOr<int32_t> DecodeResponseHeader(Reader& r, int16_t header_version);

}  // namespace strata::protocol
