#include "tests/protocol/capture_check.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "protocol/api.h"
#include "protocol/errors.h"
#include "protocol/frame.h"
#include "protocol/generic_codec.h"

namespace strata::protocol::test {
namespace {

constexpr size_t kMaxFrameBytes = 64 << 20;

absl::Status CheckConsumed(const Reader& r) {
  if (r.remaining() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(r.remaining(), " bytes after the body"));
}

// The body version of a response: the request's, except for ApiVersions error 35.
int16_t ResponseBodyVersion(std::span<const uint8_t> body, int16_t api_key, int16_t version) {
  constexpr auto kUnsupported = static_cast<int16_t>(ErrorCode::kUnsupportedVersion);
  if (api_key == static_cast<int16_t>(ApiKey::kApiVersions) && body.size() >= 2 &&
      static_cast<int16_t>(LoadBE16(body.data())) == kUnsupported) {
    return 0;
  }
  return version;
}

std::vector<std::span<const uint8_t>> Frames(std::span<const uint8_t> stream, const char* what) {
  size_t consumed = 0;
  auto frames = SplitFrames(stream, kMaxFrameBytes, &consumed);
  EXPECT_TRUE(frames.ok()) << what << ": " << frames.status();
  if (!frames.ok()) return {};
  // A connection cut mid-frame (client destroyed) may leave a tail; that is not a codec matter.
  return *std::move(frames);
}

// An ApiVersions response with error 35 to a request above version 2 (see CheckOptions).
bool IsMockApiVersionsError(const Exchange& e, std::span<const uint8_t> frame) {
  constexpr auto kUnsupported = static_cast<int16_t>(ErrorCode::kUnsupportedVersion);
  return e.header.api_key == static_cast<int16_t>(ApiKey::kApiVersions) &&
         e.header.api_version > 2 && frame.size() >= 6 &&
         static_cast<int16_t>(LoadBE16(frame.data() + 4)) == kUnsupported;
}

}  // namespace

std::string ApiLabel(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = FindApi(api_key);
  return absl::StrCat(api != nullptr ? api->name : "unknown api", " v", api_version);
}

absl::Status RoundTripRequest(std::span<const uint8_t> frame, RequestHeader* header,
                              std::string* reencoded) {
  Reader r(frame);
  ASSIGN_OR_RETURN(*header, RequestHeader::Decode(r));
  Writer w(reencoded);
  EncodeRequestHeader(w, *header);
  RETURN_IF_ERROR(DecodeRequestBody(header->api_key, header->api_version, r, reencoded));
  return CheckConsumed(r);
}

absl::Status RoundTripResponse(std::span<const uint8_t> frame, int16_t api_key,
                               int16_t api_version, std::string* reencoded) {
  Reader r(frame);
  const int16_t header_version = ResponseHeaderVersion(api_key, api_version);
  ASSIGN_OR_RETURN(int32_t correlation_id, DecodeResponseHeader(r, header_version));
  Writer w(reencoded);
  EncodeResponseHeader(w, correlation_id, header_version);
  const int16_t body_version = ResponseBodyVersion(r.rest(), api_key, api_version);
  RETURN_IF_ERROR(DecodeResponseBody(api_key, body_version, r, reencoded));
  return CheckConsumed(r);
}

Exchange CheckRequest(std::span<const uint8_t> frame) {
  Exchange e{.request = frame};
  std::string again;
  absl::Status s = RoundTripRequest(frame, &e.header, &again);
  EXPECT_TRUE(s.ok()) << ApiLabel(e.header.api_key, e.header.api_version) << ": " << s;
  EXPECT_EQ(again, AsStringView(frame)) << ApiLabel(e.header.api_key, e.header.api_version);
  return e;
}

void CheckResponse(Exchange* e, std::span<const uint8_t> frame, const CheckOptions& options) {
  std::string again;
  absl::Status s = RoundTripResponse(frame, e->header.api_key, e->header.api_version, &again);
  const std::string label = ApiLabel(e->header.api_key, e->header.api_version) + " response";
  if (options.expect_malformed_mock_api_versions_error && IsMockApiVersionsError(*e, frame)) {
    EXPECT_FALSE(s.ok()) << label << ": the mock's malformed error body decoded; drop the quirk";
    return;
  }
  e->response = frame;
  EXPECT_TRUE(s.ok()) << label << ": " << s;
  EXPECT_EQ(again, AsStringView(frame)) << label;
}

Exchange CheckExchange(std::span<const uint8_t> request, std::span<const uint8_t> response,
                       const CheckOptions& options) {
  Exchange e = CheckRequest(request);
  if (response.empty()) return e;
  EXPECT_TRUE(response.size() >= 4 &&
              static_cast<int32_t>(LoadBE32(response.data())) == e.header.correlation_id)
      << ApiLabel(e.header.api_key, e.header.api_version) << ": correlation ids differ";
  CheckResponse(&e, response, options);
  return e;
}

std::vector<Exchange> CheckConnection(std::span<const uint8_t> to_broker,
                                      std::span<const uint8_t> to_client,
                                      const CheckOptions& options) {
  std::vector<Exchange> exchanges;
  std::map<int32_t, size_t> by_correlation_id;
  for (std::span<const uint8_t> frame : Frames(to_broker, "requests")) {
    exchanges.push_back(CheckRequest(frame));
    by_correlation_id[exchanges.back().header.correlation_id] = exchanges.size() - 1;
  }
  for (std::span<const uint8_t> frame : Frames(to_client, "responses")) {
    auto it = frame.size() >= 4 ? by_correlation_id.find(static_cast<int32_t>(
                                      LoadBE32(frame.data())))
                                : by_correlation_id.end();
    if (it == by_correlation_id.end()) {
      ADD_FAILURE() << "response without a request";
      continue;
    }
    CheckResponse(&exchanges[it->second], frame, options);
  }
  return exchanges;
}

std::vector<Exchange> CheckExchangeFile(std::span<const uint8_t> file) {
  std::vector<std::span<const uint8_t>> frames = Frames(file, "exchange file");
  EXPECT_EQ(frames.size() % 2, 0u) << "request/response pairs";
  std::vector<Exchange> exchanges;
  for (size_t i = 0; i + 1 < frames.size(); i += 2) {
    exchanges.push_back(CheckExchange(frames[i], frames[i + 1], {}));
  }
  return exchanges;
}

void AppendExchange(const Exchange& e, std::string* file) {
  for (std::span<const uint8_t> frame : {e.request, e.response}) {
    uint8_t size[4];
    StoreBE32(size, static_cast<uint32_t>(frame.size()));
    file->append(reinterpret_cast<const char*>(size), sizeof(size));
    file->append(reinterpret_cast<const char*>(frame.data()), frame.size());
  }
}

void ExpectTruncationsFail(const Exchange& e) {
  const std::string label = ApiLabel(e.header.api_key, e.header.api_version);
  for (size_t n = 0; n < e.request.size(); ++n) {
    RequestHeader h;
    std::string ignored;
    EXPECT_FALSE(RoundTripRequest(e.request.first(n), &h, &ignored).ok())
        << label << " request truncated to " << n << " bytes";
  }
  for (size_t n = 0; n < e.response.size(); ++n) {
    std::string ignored;
    EXPECT_FALSE(
        RoundTripResponse(e.response.first(n), e.header.api_key, e.header.api_version, &ignored)
            .ok())
        << label << " response truncated to " << n << " bytes";
  }
}

}  // namespace strata::protocol::test
