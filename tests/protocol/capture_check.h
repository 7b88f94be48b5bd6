// Checks captured Kafka traffic against the codec: every request and response frame of a
// connection must decode (header and body, nothing left over) and re-encode to the identical
// bytes. Used on live librdkafka captures and on the checked-in fixtures.
//
//   std::vector<Exchange> exchanges = CheckConnection(AsBytes(to_broker), AsBytes(to_client));
//   for (const Exchange& e : exchanges) ExpectTruncationsFail(e);
//
// Failures are reported with gtest's ADD_FAILURE / EXPECT_*, naming the api and version.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "protocol/header.h"

namespace strata::protocol::test {

// One request frame and, if the broker answered it, its response frame (both without the int32
// size prefix; views into the caller's streams).
struct Exchange {
  RequestHeader header;
  std::span<const uint8_t> request;
  std::span<const uint8_t> response;
};

// Decodes a request frame, sets *header and appends the re-encoded frame to *reencoded.
absl::Status RoundTripRequest(std::span<const uint8_t> frame, RequestHeader* header,
                              std::string* reencoded);
// Decodes a response frame to a request of (api_key, api_version) and re-encodes it. An
// ApiVersions response with error 35 (UNSUPPORTED_VERSION) has a v0 body whatever the request
// version was (KIP-511), as clients expect.
absl::Status RoundTripResponse(std::span<const uint8_t> frame, int16_t api_key,
                               int16_t api_version, std::string* reencoded);

struct CheckOptions {
  // librdkafka 2.0.2's mock cluster answers ApiVersions v3 (above its maximum, 2) with error 35
  // and a malformed body: a one-byte array count holding the element count (not count + 1),
  // then int16 fields and an int32 throttle time with no tagged sections. That is neither the
  // v0 body KIP-511 prescribes nor a valid v3 body; librdkafka ignores it and retries with v0.
  // With this set, such a response must fail to decode (and is dropped from the exchange)
  // instead of round-tripping.
  bool expect_malformed_mock_api_versions_error = false;
};

// Splits both streams into frames, pairs responses with requests by correlation id, and expects
// each frame to round-trip exactly. Returns the exchanges in request order.
std::vector<Exchange> CheckConnection(std::span<const uint8_t> to_broker,
                                      std::span<const uint8_t> to_client,
                                      const CheckOptions& options = {});

// Checks one request frame and its response frame (empty: none) and returns the exchange.
Exchange CheckExchange(std::span<const uint8_t> request, std::span<const uint8_t> response,
                       const CheckOptions& options = {});

// Exchange files (tests/fixtures/protocol/*.exchanges) hold exchanges from any number of
// connections as size-prefixed frames: request, response, request, response... with a
// zero-length frame where a request had no response. Correlation ids are per connection, so
// pairing is by position here. AppendExchange writes one pair, CheckExchangeFile checks them all.
void AppendExchange(const Exchange& e, std::string* file);
std::vector<Exchange> CheckExchangeFile(std::span<const uint8_t> file);

// Expects every strict prefix of the exchange's request and response to fail to decode.
void ExpectTruncationsFail(const Exchange& e);

// "Produce v7" style label for messages.
std::string ApiLabel(int16_t api_key, int16_t api_version);

}  // namespace strata::protocol::test
