// RecordBatch v2: a validating view over batch bytes, record iteration, and in-place header
// updates for the append path. Format constants: log/batch_format.h; prose: docs/formats/.
//
//   ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::Parse(bytes));  // checks CRC too
//   ASSIGN_OR_RETURN(RecordReader records, batch.Records(max_bytes));       // decompresses
//   Record r;
//   while (true) {
//     ASSIGN_OR_RETURN(bool more, records.Next(&r));
//     if (!more) break;
//     ... r.offset, r.key, r.value ...
//   }
//
// A view does not own its bytes; they must outlive it (and any RecordReader made from it, unless
// the batch was compressed, in which case the reader owns the decompressed records).
// Malformed bytes give a Status (InvalidArgument for a bad structure, DataLoss for a CRC
// mismatch), never a crash or a read outside the given span.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "log/batch_format.h"
#include "log/compression.h"

namespace strata {

enum class TimestampType { kCreateTime = 0, kLogAppendTime = 1 };

// Control record types (the key of the single record in a control batch).
enum class ControlType : int16_t { kAbort = 0, kCommit = 1, kLeaderChange = 2 };

struct RecordHeader {
  std::span<const uint8_t> key;  // UTF-8
  std::optional<std::span<const uint8_t>> value;
};

// One record, fields made absolute (offset = baseOffset + offsetDelta; likewise timestamps).
// Spans point into the batch bytes or the reader's decompressed buffer.
struct Record {
  int8_t attributes = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  int32_t offset_delta = 0;
  int64_t timestamp_delta = 0;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;  // nullopt = tombstone
  std::vector<RecordHeader> headers;
  size_t size_bytes = 0;  // encoded size including the length varint
};

class RecordReader;

class RecordBatchView {
 public:
  // Validates the header and the CRC-32C. `bytes` may extend past the batch; the view covers
  // exactly batchLength + 12 bytes.
  static absl::StatusOr<RecordBatchView> Parse(std::span<const uint8_t> bytes);
  // Same checks without the CRC (for code that verifies it separately or trusts the source).
  static absl::StatusOr<RecordBatchView> ParseNoCrc(std::span<const uint8_t> bytes);

  // Whole-batch size from the first 12 bytes, or an error if the length field is impossible
  // (smaller than a header). Needs at least kLogOverhead bytes.
  static absl::StatusOr<size_t> PeekSize(std::span<const uint8_t> bytes);

  std::span<const uint8_t> bytes() const { return bytes_; }
  size_t size_bytes() const { return bytes_.size(); }

  Offset base_offset() const;
  Offset last_offset() const { return base_offset() + last_offset_delta(); }
  int32_t batch_length() const;
  LeaderEpoch partition_leader_epoch() const;
  int8_t magic() const;
  uint32_t crc() const;
  int16_t attributes() const;
  Compression compression() const;
  TimestampType timestamp_type() const;
  bool is_transactional() const;
  bool is_control() const;
  bool has_delete_horizon() const;
  int32_t last_offset_delta() const;
  int64_t base_timestamp() const;
  int64_t max_timestamp() const;
  int64_t producer_id() const;
  int16_t producer_epoch() const;
  int32_t base_sequence() const;
  int32_t last_sequence() const;
  int32_t record_count() const;
  std::span<const uint8_t> records_data() const;

  // CRC-32C computed over the bytes (what crc() should be).
  uint32_t ComputeCrc() const;
  bool CrcMatches() const { return ComputeCrc() == crc(); }

  // Decodes the records. Decompression output is capped at `max_decompressed_bytes`.
  absl::StatusOr<RecordReader> Records(size_t max_decompressed_bytes = 64u << 20) const;

  // Decodes every record and checks the batch against them: the count matches, offset deltas
  // increase and stay within lastOffsetDelta, no trailing bytes. With `strict` (what a producer
  // must send) deltas must be exactly 0..count-1 and lastOffsetDelta = count-1.
  absl::Status ValidateRecords(bool strict, size_t max_decompressed_bytes = 64u << 20) const;

 private:
  explicit RecordBatchView(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::span<const uint8_t> bytes_;
};

// Iterates the records of one batch.
class RecordReader {
 public:
  // Returns false at the end. An error means the records are malformed; later calls keep failing.
  absl::StatusOr<bool> Next(Record* out);
  int32_t remaining() const { return remaining_; }

 private:
  friend class RecordBatchView;
  RecordReader(std::string owned, std::span<const uint8_t> data, int32_t count,
               int64_t base_offset, int64_t base_timestamp, bool log_append_time,
               int64_t max_timestamp);

  // The records: the batch's own bytes, or owned_ when they were decompressed. Computed on use
  // because moving the reader moves owned_'s buffer.
  std::span<const uint8_t> data() const;

  std::string owned_;
  std::span<const uint8_t> external_;
  bool owns_;
  size_t pos_ = 0;
  int32_t remaining_;
  int64_t base_offset_;
  int64_t base_timestamp_;
  bool log_append_time_;
  int64_t max_timestamp_;
  bool failed_ = false;
};

// In-place header updates on a writable batch (the append path writes from the receive buffer).
// `batch` must hold at least a full header. The first two lie outside the CRC.
void SetBaseOffset(std::span<uint8_t> batch, Offset base_offset);
void SetPartitionLeaderEpoch(std::span<uint8_t> batch, LeaderEpoch epoch);
// Marks the batch LogAppendTime with maxTimestamp = now_ms and recomputes the CRC.
void SetLogAppendTime(std::span<uint8_t> batch, int64_t now_ms);
// Recomputes and stores the CRC.
void UpdateCrc(std::span<uint8_t> batch);

// Parses the key of a control record; nullopt when it is not a well-formed control key.
std::optional<ControlType> ParseControlKey(std::span<const uint8_t> key);

}  // namespace strata
