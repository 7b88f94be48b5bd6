// Builds RecordBatch v2 bytes: records are encoded as they are added; Build() compresses them,
// writes the header and the CRC-32C.
//
//   RecordBatchBuilder b({.compression = Compression::kZstd});
//   b.Add("key", "value", clock->NowMs());
//   ASSIGN_OR_RETURN(std::string batch, b.Build());
//
// Used by the demo writer, the benchmarks, tests, the C++ client and the cleaner (which keeps
// original offsets: AddWithOffsetDelta). Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/types.h"
#include "log/record_batch.h"

namespace strata {

struct BatchOptions {
  Compression compression = Compression::kNone;
  int compression_level = 0;  // 0 = the codec's default
  TimestampType timestamp_type = TimestampType::kCreateTime;
  Offset base_offset{0};
  LeaderEpoch partition_leader_epoch = kNoLeaderEpoch;
  int64_t producer_id = batch_format::kNoProducerId;
  int16_t producer_epoch = batch_format::kNoProducerEpoch;
  int32_t base_sequence = batch_format::kNoSequence;
  bool transactional = false;
  bool control = false;
  // When set, baseTimestamp holds this delete horizon and attribute bit 6 is set (KIP-534).
  std::optional<int64_t> delete_horizon_ms;
};

struct HeaderField {
  std::string key;
  std::optional<std::string> value;
};

class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(BatchOptions options = {});

  // Adds a record at the next offset delta.
  void Add(std::optional<absl::string_view> key, std::optional<absl::string_view> value,
           int64_t timestamp_ms, const std::vector<HeaderField>& headers = {});
  // Adds a record with an explicit offset delta, which must exceed the previous one.
  void AddWithOffsetDelta(int32_t offset_delta, std::optional<absl::string_view> key,
                          std::optional<absl::string_view> value, int64_t timestamp_ms,
                          const std::vector<HeaderField>& headers = {});

  int32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Uncompressed size of the batch so far (header + records).
  size_t uncompressed_size_bytes() const { return batch_format::kHeaderSize + records_.size(); }

  // Produces the batch. `last_offset_delta` overrides lastOffsetDelta (it must not be less than
  // the last record's delta); the cleaner uses it to keep a batch's original offset range.
  absl::StatusOr<std::string> Build(std::optional<int32_t> last_offset_delta = std::nullopt);

 private:
  BatchOptions options_;
  std::string records_;
  int32_t count_ = 0;
  int32_t last_delta_ = -1;
  int64_t base_timestamp_ = kNoTimestamp;
  int64_t max_timestamp_ = kNoTimestamp;
};

// A transaction marker (COMMIT/ABORT) control batch: one record, key (version 0, type), value
// (version 0, coordinator epoch), as Kafka writes them.
std::string BuildControlBatch(ControlType type, int64_t producer_id, int16_t producer_epoch,
                              int32_t coordinator_epoch, int64_t timestamp_ms);

}  // namespace strata
