#include "common/bytes.h"

#include "absl/strings/str_cat.h"
#include "common/varint.h"

namespace strata {

absl::Status ByteReader::Need(size_t n) const {
  if (remaining() < n) {
    return absl::OutOfRangeError(absl::StrCat("need ", n, " bytes at position ", pos_, ", have ",
                                              remaining()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int8_t> ByteReader::ReadInt8() {
  if (auto s = Need(1); !s.ok()) return s;
  return static_cast<int8_t>(data_[pos_++]);
}

absl::StatusOr<int16_t> ByteReader::ReadInt16() {
  if (auto s = Need(2); !s.ok()) return s;
  auto v = static_cast<int16_t>(LoadBE16(data_.data() + pos_));
  pos_ += 2;
  return v;
}

absl::StatusOr<int32_t> ByteReader::ReadInt32() {
  if (auto s = Need(4); !s.ok()) return s;
  auto v = static_cast<int32_t>(LoadBE32(data_.data() + pos_));
  pos_ += 4;
  return v;
}

absl::StatusOr<uint32_t> ByteReader::ReadUint32() {
  if (auto s = Need(4); !s.ok()) return s;
  uint32_t v = LoadBE32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

absl::StatusOr<int64_t> ByteReader::ReadInt64() {
  if (auto s = Need(8); !s.ok()) return s;
  auto v = static_cast<int64_t>(LoadBE64(data_.data() + pos_));
  pos_ += 8;
  return v;
}

absl::StatusOr<int32_t> ByteReader::ReadVarint() {
  int32_t v;
  size_t n = DecodeVarint32(data_.data() + pos_, data_.data() + data_.size(), &v);
  if (n == 0) return absl::OutOfRangeError(absl::StrCat("bad varint at position ", pos_));
  pos_ += n;
  return v;
}

absl::StatusOr<int64_t> ByteReader::ReadVarlong() {
  int64_t v;
  size_t n = DecodeVarint64(data_.data() + pos_, data_.data() + data_.size(), &v);
  if (n == 0) return absl::OutOfRangeError(absl::StrCat("bad varlong at position ", pos_));
  pos_ += n;
  return v;
}

absl::StatusOr<uint32_t> ByteReader::ReadUnsignedVarint() {
  uint64_t v;
  size_t n = DecodeUnsignedVarint64(data_.data() + pos_, data_.data() + data_.size(), &v,
                                    kMaxVarint32Bytes);
  if (n == 0 || v > UINT32_MAX) {
    return absl::OutOfRangeError(absl::StrCat("bad unsigned varint at position ", pos_));
  }
  pos_ += n;
  return static_cast<uint32_t>(v);
}

absl::StatusOr<std::span<const uint8_t>> ByteReader::ReadBytes(size_t n) {
  if (auto s = Need(n); !s.ok()) return s;
  auto v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

absl::Status ByteReader::Skip(size_t n) {
  if (auto s = Need(n); !s.ok()) return s;
  pos_ += n;
  return absl::OkStatus();
}

void ByteWriter::WriteInt16(int16_t v) {
  uint8_t b[2];
  StoreBE16(b, static_cast<uint16_t>(v));
  out_->append(reinterpret_cast<char*>(b), 2);
}

void ByteWriter::WriteInt32(int32_t v) {
  uint8_t b[4];
  StoreBE32(b, static_cast<uint32_t>(v));
  out_->append(reinterpret_cast<char*>(b), 4);
}

void ByteWriter::WriteInt64(int64_t v) {
  uint8_t b[8];
  StoreBE64(b, static_cast<uint64_t>(v));
  out_->append(reinterpret_cast<char*>(b), 8);
}

void ByteWriter::WriteVarint(int32_t v) { WriteVarlong(v); }

void ByteWriter::WriteVarlong(int64_t v) {
  uint8_t b[kMaxVarint64Bytes];
  size_t n = EncodeUnsignedVarint64(ZigZagEncode64(v), b);
  out_->append(reinterpret_cast<char*>(b), n);
}

void ByteWriter::WriteUnsignedVarint(uint32_t v) {
  uint8_t b[kMaxVarint64Bytes];
  size_t n = EncodeUnsignedVarint64(v, b);
  out_->append(reinterpret_cast<char*>(b), n);
}

}  // namespace strata
