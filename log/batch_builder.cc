#include "log/batch_builder.h"

#include <cassert>

#include "common/bytes.h"
#include "common/status.h"
#include "common/varint.h"

namespace strata {

using namespace batch_format;  // NOLINT

RecordBatchBuilder::RecordBatchBuilder(BatchOptions options) : options_(std::move(options)) {}

void RecordBatchBuilder::Add(std::optional<absl::string_view> key,
                             std::optional<absl::string_view> value, int64_t timestamp_ms,
                             const std::vector<HeaderField>& headers) {
  AddWithOffsetDelta(last_delta_ + 1, key, value, timestamp_ms, headers);
}

namespace {

void WriteNullable(ByteWriter& w, const std::optional<absl::string_view>& v) {
  if (!v.has_value()) {
    w.WriteVarint(-1);
    return;
  }
  w.WriteVarint(static_cast<int32_t>(v->size()));
  w.WriteBytes(*v);
}

}  // namespace

void RecordBatchBuilder::AddWithOffsetDelta(int32_t offset_delta,
                                            std::optional<absl::string_view> key,
                                            std::optional<absl::string_view> value,
                                            int64_t timestamp_ms,
                                            const std::vector<HeaderField>& headers) {
  assert(offset_delta > last_delta_);
  // With a delete horizon, baseTimestamp holds the horizon and deltas are relative to it
  // (KIP-534), so readers still compute baseTimestamp + delta.
  if (count_ == 0) base_timestamp_ = options_.delete_horizon_ms.value_or(timestamp_ms);
  max_timestamp_ = count_ == 0 ? timestamp_ms : std::max(max_timestamp_, timestamp_ms);

  std::string body;
  ByteWriter w(&body);
  w.WriteInt8(0);  // record attributes: unused
  w.WriteVarlong(timestamp_ms - base_timestamp_);
  w.WriteVarint(offset_delta);
  WriteNullable(w, key);
  WriteNullable(w, value);
  w.WriteVarint(static_cast<int32_t>(headers.size()));
  for (const auto& h : headers) {
    w.WriteVarint(static_cast<int32_t>(h.key.size()));
    w.WriteBytes(h.key);
    if (h.value.has_value()) {
      WriteNullable(w, absl::string_view(*h.value));
    } else {
      WriteNullable(w, std::nullopt);
    }
  }
  ByteWriter out(&records_);
  out.WriteVarint(static_cast<int32_t>(body.size()));
  records_.append(body);
  ++count_;
  last_delta_ = offset_delta;
}

absl::StatusOr<std::string> RecordBatchBuilder::Build(std::optional<int32_t> last_offset_delta) {
  int32_t last_delta = std::max(last_delta_, 0);
  if (last_offset_delta.has_value()) {
    if (*last_offset_delta < last_delta_) {
      return absl::InvalidArgumentError("lastOffsetDelta below the last record's delta");
    }
    last_delta = *last_offset_delta;
  }
  std::string compressed;
  absl::string_view records = records_;
  if (options_.compression != Compression::kNone) {
    ASSIGN_OR_RETURN(compressed,
                     Compress(options_.compression, AsBytes(records_), options_.compression_level));
    records = compressed;
  }
  uint16_t attributes = static_cast<uint16_t>(options_.compression);
  if (options_.timestamp_type == TimestampType::kLogAppendTime) attributes |= kTimestampTypeBit;
  if (options_.transactional) attributes |= kTransactionalBit;
  if (options_.control) attributes |= kControlBit;
  if (options_.delete_horizon_ms.has_value()) attributes |= kDeleteHorizonBit;

  std::string out;
  out.reserve(kHeaderSize + records.size());
  ByteWriter w(&out);
  w.WriteInt64(options_.base_offset.value());
  w.WriteInt32(static_cast<int32_t>(kHeaderSize - kLogOverhead + records.size()));
  w.WriteInt32(options_.partition_leader_epoch.value());
  w.WriteInt8(kMagic);
  w.WriteInt32(0);  // CRC, filled in below
  w.WriteInt16(static_cast<int16_t>(attributes));
  w.WriteInt32(last_delta);
  w.WriteInt64(count_ == 0 ? options_.delete_horizon_ms.value_or(base_timestamp_)
                           : base_timestamp_);
  w.WriteInt64(max_timestamp_);
  w.WriteInt64(options_.producer_id);
  w.WriteInt16(options_.producer_epoch);
  w.WriteInt32(options_.base_sequence);
  w.WriteInt32(count_);
  w.WriteBytes(records);
  UpdateCrc({reinterpret_cast<uint8_t*>(out.data()), out.size()});
  return out;
}

std::string BuildControlBatch(ControlType type, int64_t producer_id, int16_t producer_epoch,
                              int32_t coordinator_epoch, int64_t timestamp_ms) {
  RecordBatchBuilder b({.producer_id = producer_id,
                        .producer_epoch = producer_epoch,
                        .transactional = true,
                        .control = true});
  std::string key, value;
  ByteWriter kw(&key);
  kw.WriteInt16(0);
  kw.WriteInt16(static_cast<int16_t>(type));
  ByteWriter vw(&value);
  vw.WriteInt16(0);
  vw.WriteInt32(coordinator_epoch);
  b.Add(key, value, timestamp_ms);
  // An uncompressed builder cannot fail.
  return *b.Build();
}

}  // namespace strata
