// The embedded metadata store's on-disk log: <data-dir>/metadata/metadata.log.
// Specified in prose, with byte diagrams and a worked example, in docs/formats/metadata-store.md;
// pinned by tests/replication/embedded_store_test.cc (MetadataLogFormat.GoldenBytes).
//
//   file   := header record*
//   header := magic "STRATAMD" (8) | format version u32 (=1) | crc32c u32 of the 12 bytes before
//   record := crc32c u32 | length u32 | type u8 | payload (length - 1 bytes)
//             crc32c covers every byte after itself: length, type and payload.
//
// All integers are big-endian. A file is created complete (header + kState record) with
// write-temp/fsync/rename/fsync-dir, then only appended to; every acknowledged change has been
// fsynced. Recovery keeps the longest prefix of whole, CRC-valid records and truncates the rest (a
// torn tail from a crash during an append). When the log grows, the store rewrites it as a new
// file holding kState plus one kPut per live key, installed the same crash-safe way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strata::metadata_log {

inline constexpr char kMagic[8] = {'S', 'T', 'R', 'A', 'T', 'A', 'M', 'D'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 16;   // magic, version, crc
inline constexpr size_t kRecordHeaderSize = 9;  // crc, length, type
// A record may hold a key and a value of up to this many bytes together (a limit on everything).
inline constexpr uint32_t kMaxRecordBytes = 16 << 20;
inline constexpr char kFileName[] = "metadata.log";
static_assert(kFileHeaderSize == sizeof(kMagic) + 4 + 4);

enum class RecordType : uint8_t {
  // revision i64 | create_revision i64 | version i64 | lease i64 | key_len u32 | key |
  // value_len u32 | value
  kPut = 1,
  // revision i64 | key_len u32 | key
  kDelete = 2,
  // lease i64 | ttl_ms i64    (lease ids are never reused, even across restarts)
  kLeaseGrant = 3,
  // revision i64              (history before it is discarded)
  kCompact = 4,
  // revision i64 | compact_revision i64 | next_lease i64    (first record of every file)
  kState = 5,
};

struct Record {
  RecordType type = RecordType::kPut;
  int64_t revision = 0;          // kPut, kDelete, kCompact, kState
  int64_t create_revision = 0;   // kPut
  int64_t version = 0;           // kPut
  int64_t lease = 0;             // kPut (0 = none), kLeaseGrant, kState (next lease id)
  int64_t ttl_ms = 0;            // kLeaseGrant
  int64_t compact_revision = 0;  // kState
  std::string key;               // kPut, kDelete
  std::string value;             // kPut

  bool operator==(const Record&) const = default;
};

// The 16-byte file header.
std::string EncodeFileHeader();
// Checks magic, version and CRC of the first kFileHeaderSize bytes. DataLoss when they are wrong.
absl::Status CheckFileHeader(std::span<const uint8_t> bytes);

// Appends one framed record to `out`.
void AppendRecord(const Record& record, std::string* out);

// The result of reading a log's records (after the header).
struct ScanResult {
  std::vector<Record> records;
  size_t valid_bytes = 0;   // bytes of whole, valid records (from the start of `bytes`)
  bool torn = false;        // bytes after valid_bytes were dropped
  std::string torn_reason;  // why, when torn
};

// Decodes records from `bytes` until the end or the first incomplete or invalid record.
ScanResult ScanRecords(std::span<const uint8_t> bytes);

}  // namespace strata::metadata_log
