// The four codecs of Kafka record batches, both ways.
//
//   gzip   RFC 1952 gzip stream (zlib)
//   snappy Compress writes the xerial "snappy-java" framing the Java client uses; Decompress
//          accepts that framing and raw snappy blocks (librdkafka writes raw)
//   lz4    LZ4 frame format (KIP-57)
//   zstd   zstd frame; streamed, so frames without a content size are fine
//
// Decompress never produces more than `max_output_bytes` (a decompression bomb gets an error).
// Malformed input gives InvalidArgument/DataLoss, never a crash. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strata {

enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

inline constexpr uint8_t kMaxCompressionCodec = 4;

// "none", "gzip", "snappy", "lz4", "zstd".
const char* CompressionName(Compression c);
// Parses the names above (Kafka's compression.type values); "producer" is not a codec.
bool ParseCompression(absl::string_view name, Compression* out);

absl::StatusOr<std::string> Compress(Compression codec, std::span<const uint8_t> input,
                                     int level = 0);
absl::StatusOr<std::string> Decompress(Compression codec, std::span<const uint8_t> input,
                                       size_t max_output_bytes);

}  // namespace strata
