// libFuzzer target for the request decoder: any bytes (a request frame without its int32 size)
// -> RequestHeader::Decode, then the body of whatever api key and version the header names.
// No crash, no over-read (ASan), no undefined behaviour (UBSan), no huge allocation (libFuzzer's
// -rss_limit_mb). A body that decodes must re-encode to a body that decodes to the same message
// bytes again (encode(decode(x)) is a fixed point after one round). Seeds: requests captured
// from librdkafka (tests/fuzz/corpus/request/, see tests/fixtures/protocol/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/generic_codec.h"
#include "protocol/header.h"
#include "protocol/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy sized exactly to the input, so ASan sees any over-read.
  std::vector<uint8_t> copy(data, data + size);
  strata::protocol::Reader r({copy.data(), copy.size()});
  auto header = strata::protocol::RequestHeader::Decode(r);
  if (!header.ok()) return 0;
  std::string once;
  if (!strata::protocol::DecodeRequestBody(header->api_key, header->api_version, r, &once).ok()) {
    return 0;
  }
  strata::protocol::Reader again({reinterpret_cast<const uint8_t*>(once.data()), once.size()});
  std::string twice;
  if (!strata::protocol::DecodeRequestBody(header->api_key, header->api_version, again, &twice)
           .ok() ||
      again.remaining() != 0 || twice != once) {
    std::abort();  // the encoder wrote something its own decoder does not read back the same
  }
  return 0;
}
