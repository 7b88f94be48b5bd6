// Writer: encodes Kafka protocol primitives by appending to a std::string it does not own.
//
//   std::string out;
//   Writer w(&out);
//   EncodeResponseHeader(w, correlation_id, /*header_version=*/1);
//   response.Encode(w, version);        // generated code drives the Writer
//   // out holds the bytes; w.splices() lists holes left for spliced records (see types.h).
//
// `*out` must stay alive while the Writer is used. Offsets (size(), Splice::offset) count from
// the start of `*out`, including bytes that were there before the Writer was made, so a frame
// can be built in a reused buffer. `compact` selects the flexible-version (KIP-482) encoding.
// Writing never fails. Keeping values within their wire limits (strings up to 32767 bytes, array
// counts and byte lengths up to INT32_MAX) is the caller's job: beyond them the length wraps.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/types.h"

namespace strata::protocol {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  size_t size() const { return out_->size(); }
  std::string* buffer() { return out_; }
  // Holes for spliced Records, in output order.
  const std::vector<Splice>& splices() const { return splices_; }

  // Fixed-width big-endian values; bool is one byte 0/1.
  void Write(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void Write(int16_t v);
  void Write(int32_t v);
  void Write(int64_t v);
  void Write(uint16_t v);
  void Write(uint32_t v);
  void Write(double v);
  void Write(bool v) { out_->push_back(v ? 1 : 0); }
  void Write(const Uuid& v) { out_->append(reinterpret_cast<const char*>(v.data()), v.size()); }

  void WriteUnsignedVarint(uint32_t v);
  void WriteVarint(int32_t v);
  void WriteVarlong(int64_t v);
  void WriteRaw(absl::string_view bytes) { out_->append(bytes.data(), bytes.size()); }

  // Overwrites 4 bytes already written at `offset` (frame sizes).
  void PatchInt32(size_t offset, int32_t v);

  void WriteString(bool compact, absl::string_view s);
  void WriteNullableString(bool compact, const std::optional<std::string>& s);
  void WriteBytes(bool compact, absl::string_view b);
  void WriteNullableBytes(bool compact, const std::optional<std::string>& b);
  // Records: null, a splice hole (splice_id >= 0), or a copy of `bytes`.
  void WriteRecords(bool compact, const Records& r);

  // Array header: `count` elements, or -1 for null.
  void WriteArrayLength(bool compact, int32_t count);
  // `write_element(Writer&, const T&)` encodes one element.
  template <typename T, typename F>
  void WriteArray(bool compact, const std::vector<T>& v, F&& write_element) {
    WriteArrayLength(compact, static_cast<int32_t>(v.size()));
    for (const T& e : v) write_element(*this, e);
  }
  template <typename T, typename F>
  void WriteNullableArray(bool compact, const std::optional<std::vector<T>>& v,
                          F&& write_element) {
    if (!v.has_value()) return WriteArrayLength(compact, -1);
    WriteArray(compact, *v, write_element);
  }

  // An empty tagged-field section: one 0x00 byte.
  void WriteEmptyTaggedFields() { out_->push_back(0); }
  // One entry of a tagged-field section (after the caller wrote the field count): the tag,
  // the value's size and the value, encoded by `write_value(Writer&)` into a scratch buffer.
  // Splices inside a tagged value are not supported (no Kafka records field is tagged).
  template <typename F>
  void WriteTaggedField(uint32_t tag, F&& write_value) {
    std::string scratch;
    Writer value(&scratch);
    write_value(value);
    WriteUnsignedVarint(tag);
    WriteUnsignedVarint(static_cast<uint32_t>(scratch.size()));
    out_->append(scratch);
  }

 private:
  template <typename T>
  void WriteBigEndian(T v);
  void WriteUnsignedVarint64(uint64_t v);
  void WriteLength(bool compact, bool wide, int64_t length);

  std::string* out_;
  std::vector<Splice> splices_;
};

}  // namespace strata::protocol
