#include "protocol/header.h"

#include "protocol/api.h"

namespace strata::protocol {

absl::StatusOr<RequestHeader> RequestHeader::Decode(Reader& r) {
  RequestHeader h;
  RETURN_IF_ERROR(r.Read(&h.api_key));
  RETURN_IF_ERROR(r.Read(&h.api_version));
  RETURN_IF_ERROR(r.Read(&h.correlation_id));
  const int16_t header_version = RequestHeaderVersion(h.api_key, h.api_version);
  if (header_version >= 1) {
    // ClientId has "flexibleVersions": "none": int16 length even in header v2.
    RETURN_IF_ERROR(r.ReadNullableString(/*compact=*/false, /*nullable=*/true, &h.client_id));
  }
  if (header_version >= 2) RETURN_IF_ERROR(r.SkipTaggedFields());
  return h;
}

void EncodeRequestHeader(Writer& w, const RequestHeader& h) {
  const int16_t header_version = RequestHeaderVersion(h.api_key, h.api_version);
  w.Write(h.api_key);
  w.Write(h.api_version);
  w.Write(h.correlation_id);
  if (header_version >= 1) w.WriteNullableString(/*compact=*/false, h.client_id);
  if (header_version >= 2) w.WriteEmptyTaggedFields();
}

void EncodeResponseHeader(Writer& w, int32_t correlation_id, int16_t header_version) {
  w.Write(correlation_id);
  if (header_version >= 1) w.WriteEmptyTaggedFields();
}

absl::StatusOr<int32_t> DecodeResponseHeader(Reader& r, int16_t header_version) {
  int32_t correlation_id;
  RETURN_IF_ERROR(r.Read(&correlation_id));
  if (header_version >= 1) RETURN_IF_ERROR(r.SkipTaggedFields());
  return correlation_id;
}

}  // namespace strata::protocol
