// Varints as Kafka encodes them.
//
// Records use zigzag *signed* varints (varint = 32-bit, varlong = 64-bit); flexible protocol
// versions use *unsigned* LEB128 for lengths and counts. Do not mix them up.
//
// Decoders take [p, end) and return the number of bytes consumed, or 0 when the input is
// truncated or the value is longer than its type allows (5 bytes for 32-bit, 10 for 64-bit).
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata {

inline constexpr size_t kMaxVarint32Bytes = 5;
inline constexpr size_t kMaxVarint64Bytes = 10;

inline constexpr uint32_t ZigZagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
inline constexpr uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline constexpr int32_t ZigZagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
inline constexpr int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Writes `v` as unsigned LEB128 into `out` (room for kMaxVarint64Bytes); returns bytes written.
inline size_t EncodeUnsignedVarint64(uint64_t v, uint8_t* out) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

// Decodes unsigned LEB128 of at most `max_bytes` bytes. Returns bytes consumed or 0 on error.
inline size_t DecodeUnsignedVarint64(const uint8_t* p, const uint8_t* end, uint64_t* value,
                                     size_t max_bytes = kMaxVarint64Bytes) {
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes && p + i < end; ++i) {
    uint64_t byte = p[i];
    result |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *value = result;
      return i + 1;
    }
  }
  return 0;
}

inline size_t DecodeVarint32(const uint8_t* p, const uint8_t* end, int32_t* value) {
  uint64_t raw;
  size_t n = DecodeUnsignedVarint64(p, end, &raw, kMaxVarint32Bytes);
  if (n == 0 || raw > UINT32_MAX) return 0;
  *value = ZigZagDecode32(static_cast<uint32_t>(raw));
  return n;
}

inline size_t DecodeVarint64(const uint8_t* p, const uint8_t* end, int64_t* value) {
  uint64_t raw;
  size_t n = DecodeUnsignedVarint64(p, end, &raw, kMaxVarint64Bytes);
  if (n == 0) return 0;
  *value = ZigZagDecode64(raw);
  return n;
}

// Size in bytes of the zigzag encoding, for computing record lengths before writing.
inline size_t VarintSize64(int64_t v) {
  uint64_t u = ZigZagEncode64(v);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

}  // namespace strata
