// Decoding by api key, for code that does not know the message type statically: the fuzz target,
// the capture tests, and tools that dump traffic. A handler that knows its message uses the
// generated struct directly (protocol/<api>.h) instead; this header pulls no message in.
//
//   Reader r(frame);
//   ASSIGN_OR_RETURN(RequestHeader h, RequestHeader::Decode(r));
//   std::string again;
//   RETURN_IF_ERROR(DecodeRequestBody(h.api_key, h.api_version, r, &again));
//   // `again` is the body re-encoded from the decoded message.
//
// Unknown api keys give Unimplemented, versions outside the API's range Unimplemented, malformed
// bodies InvalidArgument (see the generated Decode functions). Bytes left in `r` after the body
// are not an error here; callers that require an exact fit check r.remaining().
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "protocol/reader.h"

namespace strata::protocol {

// Decodes the body of request `api_key` at `api_version`; if `reencoded` is non-null, appends
// the decoded message's encoding to it.
absl::Status DecodeRequestBody(int16_t api_key, int16_t api_version, Reader& r,
                               std::string* reencoded);
// The same for a response body.
absl::Status DecodeResponseBody(int16_t api_key, int16_t api_version, Reader& r,
                                std::string* reencoded);

}  // namespace strata::protocol
