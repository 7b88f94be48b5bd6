// Whole frames: int32 size (bytes that follow), header, body.
//
//   // server: append a response frame to a reused buffer; splices say where file bytes go
//   Writer w(&out);
//   AppendResponseFrame(w, h.correlation_id, h.api_version, fetch_response);
//
//   // client / tests: a request frame as one string
//   std::string frame = EncodeRequestFrame(RequestHeader{.api_key = 3, .api_version = 4,
//                                          .correlation_id = 1, .client_id = "me"}, metadata);
//
//   // splitting a received byte stream
//   size_t consumed;
//   ASSIGN_OR_RETURN(auto frames, SplitFrames(stream, kMaxFrameBytes, &consumed));
//
// The size written for a frame counts spliced Records bytes (types.h) recorded inside it, so it
// is the size of what finally goes on the wire.
#pragma once

#include <cassert>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/api.h"
#include "protocol/header.h"
#include "protocol/writer.h"

namespace strata::protocol {

// Reserves a frame's int32 size at the writer's end and returns its offset.
size_t BeginFrame(Writer& w);
// Writes the size reserved at `frame_start`: the bytes written since plus the lengths of the
// splices recorded since.
void FinishFrame(Writer& w, size_t frame_start);

template <typename Request>
void AppendRequestFrame(Writer& w, const RequestHeader& header, const Request& body) {
  assert(header.api_key == Request::kApiKey);
  size_t start = BeginFrame(w);
  EncodeRequestHeader(w, header);
  body.Encode(w, header.api_version);
  FinishFrame(w, start);
}

template <typename Request>
std::string EncodeRequestFrame(const RequestHeader& header, const Request& body) {
  std::string out;
  Writer w(&out);
  AppendRequestFrame(w, header, body);
  return out;
}

// The response header version follows from Response::kApiKey and `api_version`.
template <typename Response>
void AppendResponseFrame(Writer& w, int32_t correlation_id, int16_t api_version,
                         const Response& body) {
  size_t start = BeginFrame(w);
  EncodeResponseHeader(w, correlation_id, ResponseHeaderVersion(Response::kApiKey, api_version));
  body.Encode(w, api_version);
  FinishFrame(w, start);
}

template <typename Response>
std::string EncodeResponseFrame(int32_t correlation_id, int16_t api_version,
                                const Response& body) {
  std::string out;
  Writer w(&out);
  AppendResponseFrame(w, correlation_id, api_version, body);
  return out;
}

// Splits the complete frames at the front of `stream`. Returns views of their contents (without
// the size field) and sets *consumed to the bytes they span; an incomplete tail is left for the
// next call. A negative size or one above `max_frame_bytes` is an error.
absl::StatusOr<std::vector<std::span<const uint8_t>>> SplitFrames(
    std::span<const uint8_t> stream, size_t max_frame_bytes, size_t* consumed);

}  // namespace strata::protocol
