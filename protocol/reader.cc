#include "protocol/reader.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/varint.h"

namespace strata::protocol {
namespace {

// Longest string Kafka accepts: strings carry an int16 length in classic versions.
constexpr int64_t kMaxStringLength = 0x7fff;

}  // namespace

absl::Status CheckVersion(const char* message, int16_t version, int16_t min, int16_t max) {
  if (version >= min && version <= max) return absl::OkStatus();
  return absl::UnimplementedError(
      absl::StrCat(message, " version ", version, " is not in ", min, "-", max));
}

absl::Status Reader::Need(size_t n) const {
  if (remaining() < n) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated: need ", n, " bytes at position ", pos_, ", have ", remaining()));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Reader::ReadBigEndian(T* v) {
  RETURN_IF_ERROR(Need(sizeof(T)));
  const uint8_t* p = data_.data() + pos_;
  if constexpr (sizeof(T) == 1) {
    *v = static_cast<T>(*p);
  } else if constexpr (sizeof(T) == 2) {
    *v = static_cast<T>(LoadBE16(p));
  } else if constexpr (sizeof(T) == 4) {
    *v = static_cast<T>(LoadBE32(p));
  } else {
    static_assert(sizeof(T) == 8);
    *v = std::bit_cast<T>(LoadBE64(p));
  }
  pos_ += sizeof(T);
  return absl::OkStatus();
}

absl::Status Reader::Read(int8_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(int16_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(int32_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(int64_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(uint16_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(uint32_t* v) { return ReadBigEndian(v); }
absl::Status Reader::Read(double* v) { return ReadBigEndian(v); }

absl::Status Reader::Read(bool* v) {
  RETURN_IF_ERROR(Need(1));
  *v = data_[pos_++] != 0;
  return absl::OkStatus();
}

absl::Status Reader::Read(Uuid* v) {
  RETURN_IF_ERROR(Need(v->size()));
  std::memcpy(v->data(), data_.data() + pos_, v->size());
  pos_ += v->size();
  return absl::OkStatus();
}

absl::Status Reader::ReadUnsignedVarint(uint32_t* v) {
  uint64_t raw;
  size_t n = DecodeUnsignedVarint64(data_.data() + pos_, data_.data() + data_.size(), &raw,
                                    kMaxVarint32Bytes);
  if (n == 0 || raw > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("bad unsigned varint at position ", pos_));
  }
  *v = static_cast<uint32_t>(raw);
  pos_ += n;
  return absl::OkStatus();
}

absl::Status Reader::ReadVarint(int32_t* v) {
  size_t n = DecodeVarint32(data_.data() + pos_, data_.data() + data_.size(), v);
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat("bad varint at position ", pos_));
  pos_ += n;
  return absl::OkStatus();
}

absl::Status Reader::ReadVarlong(int64_t* v) {
  size_t n = DecodeVarint64(data_.data() + pos_, data_.data() + data_.size(), v);
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat("bad varlong at position ", pos_));
  pos_ += n;
  return absl::OkStatus();
}

absl::StatusOr<std::span<const uint8_t>> Reader::ReadSpan(size_t n) {
  RETURN_IF_ERROR(Need(n));
  auto v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

absl::Status Reader::Skip(size_t n) {
  RETURN_IF_ERROR(Need(n));
  pos_ += n;
  return absl::OkStatus();
}

// Reads a length prefix: int16 (strings) or int32 (bytes, records) in classic form, uvarint
// length + 1 in compact form. Sets -1 for null; any other negative length is an error, and so
// is a length larger than the bytes that remain.
absl::Status Reader::ReadLength(bool compact, bool wide, int64_t* length) {
  size_t at = pos_;
  if (compact) {
    uint32_t raw;
    RETURN_IF_ERROR(ReadUnsignedVarint(&raw));
    *length = static_cast<int64_t>(raw) - 1;
  } else if (wide) {
    int32_t raw;
    RETURN_IF_ERROR(Read(&raw));
    *length = raw;
  } else {
    int16_t raw;
    RETURN_IF_ERROR(Read(&raw));
    *length = raw;
  }
  if (*length < -1 || *length > static_cast<int64_t>(remaining())) {
    return absl::InvalidArgumentError(absl::StrCat("bad length ", *length, " at position ", at,
                                                   " (", remaining(), " bytes remain)"));
  }
  return absl::OkStatus();
}

absl::Status Reader::CheckNull(bool nullable, const char* what) const {
  if (nullable) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("null ", what, " in a non-nullable field before position ", pos_));
}

absl::Status Reader::ReadNullableString(bool compact, bool nullable,
                                        std::optional<std::string>* out) {
  int64_t length;
  RETURN_IF_ERROR(ReadLength(compact, /*wide=*/false, &length));
  if (length < 0) {
    out->reset();
    return CheckNull(nullable, "string");
  }
  if (length > kMaxStringLength) {
    return absl::InvalidArgumentError(absl::StrCat("string of ", length, " bytes at ", pos_));
  }
  out->emplace(reinterpret_cast<const char*>(data_.data() + pos_), static_cast<size_t>(length));
  pos_ += static_cast<size_t>(length);
  return absl::OkStatus();
}

absl::Status Reader::ReadString(bool compact, std::string* out) {
  std::optional<std::string> v;
  RETURN_IF_ERROR(ReadNullableString(compact, /*nullable=*/false, &v));
  *out = std::move(*v);
  return absl::OkStatus();
}

absl::Status Reader::ReadRecords(bool compact, bool nullable, Records* out) {
  int64_t length;
  RETURN_IF_ERROR(ReadLength(compact, /*wide=*/true, &length));
  *out = Records{};
  if (length < 0) {
    out->is_null = true;
    return CheckNull(nullable, "records");
  }
  out->bytes = data_.subspan(pos_, static_cast<size_t>(length));
  pos_ += static_cast<size_t>(length);
  return absl::OkStatus();
}

absl::Status Reader::ReadNullableBytes(bool compact, bool nullable,
                                       std::optional<std::string>* out) {
  Records view;
  RETURN_IF_ERROR(ReadRecords(compact, nullable, &view));
  if (view.is_null) {
    out->reset();
  } else {
    out->emplace(AsStringView(view.bytes));
  }
  return absl::OkStatus();
}

absl::Status Reader::ReadBytes(bool compact, std::string* out) {
  Records view;
  RETURN_IF_ERROR(ReadRecords(compact, /*nullable=*/false, &view));
  out->assign(reinterpret_cast<const char*>(view.bytes.data()), view.bytes.size());
  return absl::OkStatus();
}

absl::Status Reader::ReadArrayLength(bool compact, int32_t* count) {
  size_t at = pos_;
  int64_t n;
  if (compact) {
    uint32_t raw;
    RETURN_IF_ERROR(ReadUnsignedVarint(&raw));
    n = static_cast<int64_t>(raw) - 1;
  } else {
    int32_t raw;
    RETURN_IF_ERROR(Read(&raw));
    n = raw;
  }
  if (n < -1 || n > static_cast<int64_t>(remaining())) {
    return absl::InvalidArgumentError(absl::StrCat("bad array count ", n, " at position ", at,
                                                   " (", remaining(), " bytes remain)"));
  }
  *count = static_cast<int32_t>(n);
  return absl::OkStatus();
}

absl::Status Reader::ReadTaggedHeader(uint32_t* tag, Reader* field) {
  uint32_t size;
  RETURN_IF_ERROR(ReadUnsignedVarint(tag));
  RETURN_IF_ERROR(ReadUnsignedVarint(&size));
  ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, ReadSpan(size));
  *field = Reader(bytes);
  return absl::OkStatus();
}

absl::Status Reader::CheckTaggedFieldUsed(uint32_t tag, const Reader& field) const {
  if (field.remaining() == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("tagged field ", tag, " has ",
                                                 field.remaining(), " unused bytes before ", pos_));
}

absl::Status Reader::SkipTaggedFields() {
  return ReadTaggedFields([](uint32_t, Reader&) -> absl::StatusOr<bool> { return false; });
}

}  // namespace strata::protocol
