// Records as a consumer sees them, and decoding them from the bytes of a Fetch response.
//
//   std::vector<ConsumerRecord> out;
//   ASSIGN_OR_RETURN(FetchDecodeResult r,
//                    DecodeFetchedRecords("orders", 0, partition_data.records.bytes,
//                                         /*fetch_offset=*/position, {}, &out));
//   position = r.next_offset;
//
// A fetch returns whole batches starting with the one that holds the fetch offset, and may end
// with a partial batch cut at max_bytes. Decoding therefore:
//   - skips records below the fetch offset (the start of the first batch),
//   - stops at a trailing partial batch (partial_tail; it is fetched again next time),
//   - skips control batches (transaction markers) but moves the position past them,
//   - moves the position past each whole batch's last offset (compacted batches may end in a
//     gap), so the next fetch never asks for the same batch again,
//   - checks each batch's CRC-32C when check_crcs (DataLoss on a mismatch, as Kafka's
//     CorruptRecordException).
// ConsumerRecord owns its bytes: it stays valid after the response frame is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log/record_batch.h"

namespace strata::client {

struct RecordHeaderField {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeaderField&) const = default;
};

struct ConsumerRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;    // nullopt = null key
  std::optional<std::string> value;  // nullopt = tombstone
  std::vector<RecordHeaderField> headers;
};

struct DecodeOptions {
  bool check_crcs = true;
  // Decoded records are not added beyond this many (the position stops at the first one left).
  size_t max_records = SIZE_MAX;
};

struct FetchDecodeResult {
  int64_t next_offset = 0;  // where the next fetch should start
  size_t batches = 0;       // whole batches seen (control batches included)
  size_t records = 0;       // records appended to *out
  bool partial_tail = false;
};

absl::StatusOr<FetchDecodeResult> DecodeFetchedRecords(const std::string& topic, int32_t partition,
                                                       std::span<const uint8_t> bytes,
                                                       int64_t fetch_offset,
                                                       const DecodeOptions& options,
                                                       std::vector<ConsumerRecord>* out);

}  // namespace strata::client
