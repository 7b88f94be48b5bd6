#include "replication/metadata_log.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/status.h"

namespace strata::metadata_log {
namespace {

void WriteString(ByteWriter& w, absl::string_view s) {
  w.WriteUint32(static_cast<uint32_t>(s.size()));
  w.WriteBytes(s);
}

absl::StatusOr<std::string> ReadString(ByteReader& r) {
  ASSIGN_OR_RETURN(uint32_t n, r.ReadUint32());
  ASSIGN_OR_RETURN(auto bytes, r.ReadBytes(n));
  return std::string(AsStringView(bytes));
}

void EncodePayload(const Record& rec, ByteWriter& w) {
  switch (rec.type) {
    case RecordType::kPut:
      w.WriteInt64(rec.revision);
      w.WriteInt64(rec.create_revision);
      w.WriteInt64(rec.version);
      w.WriteInt64(rec.lease);
      WriteString(w, rec.key);
      WriteString(w, rec.value);
      break;
    case RecordType::kDelete:
      w.WriteInt64(rec.revision);
      WriteString(w, rec.key);
      break;
    case RecordType::kLeaseGrant:
      w.WriteInt64(rec.lease);
      w.WriteInt64(rec.ttl_ms);
      break;
    case RecordType::kCompact:
      w.WriteInt64(rec.revision);
      break;
    case RecordType::kState:
      w.WriteInt64(rec.revision);
      w.WriteInt64(rec.compact_revision);
      w.WriteInt64(rec.lease);
      break;
  }
}

absl::Status DecodePayload(ByteReader& r, Record& rec) {
  switch (rec.type) {
    case RecordType::kPut: {
      ASSIGN_OR_RETURN(rec.revision, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.create_revision, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.version, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.lease, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.key, ReadString(r));
      ASSIGN_OR_RETURN(rec.value, ReadString(r));
      return absl::OkStatus();
    }
    case RecordType::kDelete: {
      ASSIGN_OR_RETURN(rec.revision, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.key, ReadString(r));
      return absl::OkStatus();
    }
    case RecordType::kLeaseGrant: {
      ASSIGN_OR_RETURN(rec.lease, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.ttl_ms, r.ReadInt64());
      return absl::OkStatus();
    }
    case RecordType::kCompact: {
      ASSIGN_OR_RETURN(rec.revision, r.ReadInt64());
      return absl::OkStatus();
    }
    case RecordType::kState: {
      ASSIGN_OR_RETURN(rec.revision, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.compact_revision, r.ReadInt64());
      ASSIGN_OR_RETURN(rec.lease, r.ReadInt64());
      return absl::OkStatus();
    }
  }
  return CorruptionError(absl::StrCat("unknown record type ", static_cast<int>(rec.type)));
}

// Decodes one record at the start of `bytes`; sets *size to its framed size. An incomplete or
// invalid record is an error whose message says why.
absl::StatusOr<Record> DecodeOne(std::span<const uint8_t> bytes, size_t* size) {
  if (bytes.size() < kRecordHeaderSize) return CorruptionError("incomplete record header");
  const uint32_t crc = LoadBE32(bytes.data());
  const uint32_t length = LoadBE32(bytes.data() + 4);
  if (length < 1 || length > kMaxRecordBytes) {
    return CorruptionError(absl::StrCat("bad record length ", length));
  }
  if (bytes.size() - 8 < length) return CorruptionError("incomplete record");
  if (crc32c::Value(bytes.data() + 4, 4 + length) != crc) {
    return CorruptionError("record CRC mismatch");
  }
  Record rec;
  rec.type = static_cast<RecordType>(bytes[8]);
  ByteReader r(bytes.subspan(kRecordHeaderSize, length - 1));
  RETURN_IF_ERROR(DecodePayload(r, rec));
  if (!r.empty()) return CorruptionError("record has trailing bytes");
  *size = 8 + length;
  return rec;
}

}  // namespace

std::string EncodeFileHeader() {
  std::string out(kMagic, sizeof(kMagic));
  ByteWriter w(&out);
  w.WriteUint32(kFormatVersion);
  w.WriteUint32(crc32c::Value(out.data(), out.size()));
  return out;
}

absl::Status CheckFileHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kFileHeaderSize) return CorruptionError("metadata log header is incomplete");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return CorruptionError("metadata log has a wrong magic");
  }
  if (crc32c::Value(bytes.data(), 12) != LoadBE32(bytes.data() + 12)) {
    return CorruptionError("metadata log header CRC mismatch");
  }
  const uint32_t version = LoadBE32(bytes.data() + 8);
  if (version != kFormatVersion) {
    return CorruptionError(absl::StrCat("unsupported metadata log format version ", version));
  }
  return absl::OkStatus();
}

void AppendRecord(const Record& record, std::string* out) {
  const size_t start = out->size();
  out->append(8, '\0');  // crc and length, filled in below
  out->push_back(static_cast<char>(record.type));
  ByteWriter w(out);
  EncodePayload(record, w);
  const size_t length = out->size() - start - 8;
  auto* p = reinterpret_cast<uint8_t*>(out->data() + start);
  StoreBE32(p + 4, static_cast<uint32_t>(length));
  StoreBE32(p, crc32c::Value(p + 4, 4 + length));
}

ScanResult ScanRecords(std::span<const uint8_t> bytes) {
  ScanResult result;
  while (result.valid_bytes < bytes.size()) {
    size_t size = 0;
    auto rec = DecodeOne(bytes.subspan(result.valid_bytes), &size);
    if (!rec.ok()) {
      result.torn = true;
      result.torn_reason = std::string(rec.status().message());
      break;
    }
    result.records.push_back(*std::move(rec));
    result.valid_bytes += size;
  }
  return result;
}

}  // namespace strata::metadata_log
