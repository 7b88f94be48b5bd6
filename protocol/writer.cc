#include "protocol/writer.h"

#include <bit>

#include "common/bytes.h"
#include "common/varint.h"

namespace strata::protocol {

template <typename T>
void Writer::WriteBigEndian(T v) {
  uint8_t b[sizeof(T)];
  if constexpr (sizeof(T) == 2) {
    StoreBE16(b, static_cast<uint16_t>(v));
  } else if constexpr (sizeof(T) == 4) {
    StoreBE32(b, static_cast<uint32_t>(v));
  } else {
    static_assert(sizeof(T) == 8);
    StoreBE64(b, std::bit_cast<uint64_t>(v));
  }
  out_->append(reinterpret_cast<const char*>(b), sizeof(b));
}

void Writer::Write(int16_t v) { WriteBigEndian(v); }
void Writer::Write(int32_t v) { WriteBigEndian(v); }
void Writer::Write(int64_t v) { WriteBigEndian(v); }
void Writer::Write(uint16_t v) { WriteBigEndian(v); }
void Writer::Write(uint32_t v) { WriteBigEndian(v); }
void Writer::Write(double v) { WriteBigEndian(v); }

void Writer::WriteUnsignedVarint64(uint64_t v) {
  uint8_t b[kMaxVarint64Bytes];
  size_t n = EncodeUnsignedVarint64(v, b);
  out_->append(reinterpret_cast<const char*>(b), n);
}

void Writer::WriteUnsignedVarint(uint32_t v) { WriteUnsignedVarint64(v); }
void Writer::WriteVarint(int32_t v) { WriteUnsignedVarint64(ZigZagEncode32(v)); }
void Writer::WriteVarlong(int64_t v) { WriteUnsignedVarint64(ZigZagEncode64(v)); }

void Writer::PatchInt32(size_t offset, int32_t v) {
  StoreBE32(reinterpret_cast<uint8_t*>(out_->data() + offset), static_cast<uint32_t>(v));
}

// Length prefix: -1 = null. Compact: uvarint length + 1; classic: int32 (wide) or int16.
void Writer::WriteLength(bool compact, bool wide, int64_t length) {
  if (compact) {
    WriteUnsignedVarint(static_cast<uint32_t>(length + 1));
  } else if (wide) {
    Write(static_cast<int32_t>(length));
  } else {
    Write(static_cast<int16_t>(length));
  }
}

void Writer::WriteString(bool compact, absl::string_view s) {
  WriteLength(compact, /*wide=*/false, static_cast<int64_t>(s.size()));
  WriteRaw(s);
}

void Writer::WriteNullableString(bool compact, const std::optional<std::string>& s) {
  if (!s.has_value()) return WriteLength(compact, /*wide=*/false, -1);
  WriteString(compact, *s);
}

void Writer::WriteBytes(bool compact, absl::string_view b) {
  WriteLength(compact, /*wide=*/true, static_cast<int64_t>(b.size()));
  WriteRaw(b);
}

void Writer::WriteNullableBytes(bool compact, const std::optional<std::string>& b) {
  if (!b.has_value()) return WriteLength(compact, /*wide=*/true, -1);
  WriteBytes(compact, *b);
}

void Writer::WriteRecords(bool compact, const Records& r) {
  if (r.is_null) return WriteLength(compact, /*wide=*/true, -1);
  if (r.splice_id >= 0) {
    WriteLength(compact, /*wide=*/true, static_cast<int64_t>(r.spliced_length));
    splices_.push_back(Splice{out_->size(), r.splice_id, r.spliced_length});
    return;
  }
  WriteLength(compact, /*wide=*/true, static_cast<int64_t>(r.bytes.size()));
  WriteRaw(AsStringView(r.bytes));
}

void Writer::WriteArrayLength(bool compact, int32_t count) {
  if (compact) {
    WriteUnsignedVarint(static_cast<uint32_t>(count + 1));
  } else {
    Write(count);
  }
}

}  // namespace strata::protocol
