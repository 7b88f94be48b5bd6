// Reader: bounds-checked decoding of Kafka protocol primitives from one frame.
//
// Every accessor checks the remaining length first and returns InvalidArgument on malformed or
// truncated input; nothing reads past the span and no length or count from the wire is trusted
// for an allocation before it has been checked against the bytes that remain.
//
//   Reader r(frame);                                    // frame: std::span<const uint8_t>
//   ASSIGN_OR_RETURN(RequestHeader h, RequestHeader::Decode(r));
//   ProduceRequest req;
//   RETURN_IF_ERROR(req.Decode(r, h.api_version));     // generated code drives the Reader
//
// Strings and bytes are copied out; Records are views into the frame (see protocol/types.h), so
// the frame must outlive any message decoded from it. `compact` selects the flexible-version
// (KIP-482) encoding: uvarint length + 1 with 0 = null, instead of int16/int32 lengths.
// Not thread-safe; cheap to copy (a span and a position).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"
#include "protocol/types.h"

namespace strata::protocol {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  // The bytes not read yet.
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

  // Fixed-width big-endian values. bool is one byte, non-zero = true.
  absl::Status Read(int8_t* v);
  absl::Status Read(int16_t* v);
  absl::Status Read(int32_t* v);
  absl::Status Read(int64_t* v);
  absl::Status Read(uint16_t* v);
  absl::Status Read(uint32_t* v);
  absl::Status Read(double* v);
  absl::Status Read(bool* v);
  absl::Status Read(Uuid* v);
  template <typename T>
  absl::StatusOr<T> Read() {
    T v{};
    RETURN_IF_ERROR(Read(&v));
    return v;
  }

  // Unsigned LEB128 (at most 5 bytes) and zigzag varint / varlong.
  absl::Status ReadUnsignedVarint(uint32_t* v);
  absl::Status ReadVarint(int32_t* v);
  absl::Status ReadVarlong(int64_t* v);

  // A view of the next `n` bytes.
  absl::StatusOr<std::span<const uint8_t>> ReadSpan(size_t n);
  absl::Status Skip(size_t n);

  // Strings (int16 length, or compact). A null where the field is not nullable is an error.
  absl::Status ReadString(bool compact, std::string* out);
  absl::Status ReadNullableString(bool compact, bool nullable, std::optional<std::string>* out);
  // Bytes (int32 length, or compact).
  absl::Status ReadBytes(bool compact, std::string* out);
  absl::Status ReadNullableBytes(bool compact, bool nullable, std::optional<std::string>* out);
  // Records: like nullable bytes, but `out->bytes` is a view into the frame.
  absl::Status ReadRecords(bool compact, bool nullable, Records* out);

  // An array header: sets *count to the element count, or -1 for null. A count larger than
  // the remaining bytes is an error (every element takes at least one byte on the wire).
  absl::Status ReadArrayLength(bool compact, int32_t* count);

  // Arrays: `read_element(Reader&, T&)` decodes one element (default-constructed before).
  template <typename T, typename F>
  absl::Status ReadArray(bool compact, std::vector<T>* out, F&& read_element);
  template <typename T, typename F>
  absl::Status ReadNullableArray(bool compact, bool nullable, std::optional<std::vector<T>>* out,
                                 F&& read_element);

  // A tagged-field section. `handle(uint32_t tag, Reader& field)` returns StatusOr<bool>: true
  // when it decoded the field (which must then use exactly the field's bytes), false to skip an
  // unknown tag.
  template <typename F>
  absl::Status ReadTaggedFields(F&& handle);
  // A tagged-field section whose fields are all unknown to the caller.
  absl::Status SkipTaggedFields();

 private:
  absl::Status Need(size_t n) const;
  template <typename T>
  absl::Status ReadBigEndian(T* v);
  absl::Status ReadLength(bool compact, bool wide, int64_t* length);
  absl::Status CheckNull(bool nullable, const char* what) const;
  absl::Status ReadTaggedHeader(uint32_t* tag, Reader* field);
  absl::Status CheckTaggedFieldUsed(uint32_t tag, const Reader& field) const;
  template <typename T, typename F>
  absl::Status ReadElements(int32_t count, std::vector<T>* out, F& read_element);

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// OK if `version` is in [min, max]; else Unimplemented naming the message (generated Decode).
absl::Status CheckVersion(const char* message, int16_t version, int16_t min, int16_t max);

// How many elements an array decode reserves up front; larger arrays grow as they decode, so a
// forged count can make us allocate no more than the frame's own size suggests.
inline constexpr size_t kMaxArrayReserve = 1024;

template <typename T, typename F>
absl::Status Reader::ReadElements(int32_t count, std::vector<T>* out, F& read_element) {
  out->clear();
  out->reserve(std::min(static_cast<size_t>(count), kMaxArrayReserve));
  for (int32_t i = 0; i < count; ++i) {
    RETURN_IF_ERROR(read_element(*this, out->emplace_back()));
  }
  return absl::OkStatus();
}

template <typename T, typename F>
absl::Status Reader::ReadArray(bool compact, std::vector<T>* out, F&& read_element) {
  int32_t count;
  RETURN_IF_ERROR(ReadArrayLength(compact, &count));
  if (count < 0) return CheckNull(/*nullable=*/false, "array");
  return ReadElements(count, out, read_element);
}

template <typename T, typename F>
absl::Status Reader::ReadNullableArray(bool compact, bool nullable,
                                       std::optional<std::vector<T>>* out, F&& read_element) {
  int32_t count;
  RETURN_IF_ERROR(ReadArrayLength(compact, &count));
  if (count < 0) {
    out->reset();
    return CheckNull(nullable, "array");
  }
  return ReadElements(count, &out->emplace(), read_element);
}

template <typename F>
absl::Status Reader::ReadTaggedFields(F&& handle) {
  uint32_t count;
  RETURN_IF_ERROR(ReadUnsignedVarint(&count));
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t tag;
    Reader field({});
    RETURN_IF_ERROR(ReadTaggedHeader(&tag, &field));
    ASSIGN_OR_RETURN(bool known, handle(tag, field));
    if (known) RETURN_IF_ERROR(CheckTaggedFieldUsed(tag, field));
  }
  return absl::OkStatus();
}

}  // namespace strata::protocol
