// Big-endian fixed-width integers, as the Kafka protocol and the on-disk formats encode them.
//
// LoadBE*/StoreBE* work on raw pointers and are for code that has already checked bounds (the
// batch header, index entries). ByteReader checks every read and reports an overrun as a Status,
// so malformed input never reads past its buffer. ByteWriter appends to a std::string.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace strata {

inline uint16_t LoadBE16(const uint8_t* p) {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline uint32_t LoadBE32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBE64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void StoreBE16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreBE32(uint8_t* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void StoreBE64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

inline std::span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline absl::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads big-endian values from a bounded buffer. Every accessor fails with OutOfRange (never
// reads past the end) when fewer bytes remain than requested. The buffer must outlive the reader.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  absl::StatusOr<int8_t> ReadInt8();
  absl::StatusOr<int16_t> ReadInt16();
  absl::StatusOr<int32_t> ReadInt32();
  absl::StatusOr<int64_t> ReadInt64();
  absl::StatusOr<uint32_t> ReadUint32();
  // Zigzag varints as Kafka records encode them.
  absl::StatusOr<int32_t> ReadVarint();
  absl::StatusOr<int64_t> ReadVarlong();
  // Unsigned LEB128 as flexible protocol versions encode lengths.
  absl::StatusOr<uint32_t> ReadUnsignedVarint();
  // A view of the next `n` bytes, which stay owned by the underlying buffer.
  absl::StatusOr<std::span<const uint8_t>> ReadBytes(size_t n);
  absl::Status Skip(size_t n);

 private:
  absl::Status Need(size_t n) const;
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Appends big-endian values to a string it does not own.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void WriteInt8(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void WriteInt16(int16_t v);
  void WriteInt32(int32_t v);
  void WriteInt64(int64_t v);
  void WriteUint32(uint32_t v) { WriteInt32(static_cast<int32_t>(v)); }
  void WriteVarint(int32_t v);
  void WriteVarlong(int64_t v);
  void WriteUnsignedVarint(uint32_t v);
  void WriteBytes(std::span<const uint8_t> b) {
    out_->append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void WriteBytes(absl::string_view s) { out_->append(s.data(), s.size()); }
  size_t size() const { return out_->size(); }
  std::string* buffer() { return out_; }

 private:
  std::string* out_;
};

}  // namespace strata
