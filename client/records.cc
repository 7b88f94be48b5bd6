#include "client/records.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "log/batch_format.h"

namespace strata::client {

namespace {

std::string Str(std::span<const uint8_t> b) { return std::string(AsStringView(b)); }

ConsumerRecord ToConsumerRecord(const std::string& topic, int32_t partition,
                                const RecordBatchView& batch, const Record& r) {
  ConsumerRecord out;
  out.topic = topic;
  out.partition = partition;
  out.offset = r.offset;
  out.timestamp = r.timestamp;
  out.timestamp_type = batch.timestamp_type();
  if (r.key.has_value()) out.key = Str(*r.key);
  if (r.value.has_value()) out.value = Str(*r.value);
  for (const RecordHeader& h : r.headers) {
    RecordHeaderField& f = out.headers.emplace_back();
    f.key = Str(h.key);
    if (h.value.has_value()) f.value = Str(*h.value);
  }
  return out;
}

// Appends the records of one whole batch at or above *next; returns false when max_records
// stopped it early (the position then names the first record not taken).
absl::StatusOr<bool> DecodeBatch(const std::string& topic, int32_t partition,
                                 const RecordBatchView& batch, const DecodeOptions& options,
                                 std::vector<ConsumerRecord>* out, FetchDecodeResult* result) {
  ASSIGN_OR_RETURN(RecordReader reader, batch.Records());
  Record r;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(&r));
    if (!more) break;
    if (r.offset < result->next_offset) continue;
    if (result->records >= options.max_records) {
      result->next_offset = r.offset;
      return false;
    }
    out->push_back(ToConsumerRecord(topic, partition, batch, r));
    ++result->records;
    result->next_offset = r.offset + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<FetchDecodeResult> DecodeFetchedRecords(const std::string& topic, int32_t partition,
                                                       std::span<const uint8_t> bytes,
                                                       int64_t fetch_offset,
                                                       const DecodeOptions& options,
                                                       std::vector<ConsumerRecord>* out) {
  FetchDecodeResult result;
  result.next_offset = fetch_offset;
  size_t pos = 0;
  while (pos < bytes.size()) {
    std::span<const uint8_t> rest = bytes.subspan(pos);
    if (rest.size() < batch_format::kHeaderSize) {
      result.partial_tail = true;
      break;
    }
    ASSIGN_OR_RETURN(size_t size, RecordBatchView::PeekSize(rest));
    if (size > rest.size()) {
      result.partial_tail = true;
      break;
    }
    if (rest[batch_format::kMagicOffset] != batch_format::kMagic) {
      return absl::UnimplementedError(absl::StrCat(
          topic, "-", partition, ": record batch magic ",
          static_cast<int>(rest[batch_format::kMagicOffset]), " (only v2 batches are supported)"));
    }
    auto batch =
        options.check_crcs ? RecordBatchView::Parse(rest) : RecordBatchView::ParseNoCrc(rest);
    if (!batch.ok()) {
      return absl::Status(batch.status().code(),
                          absl::StrCat(topic, "-", partition, " at byte ", pos,
                                       " of the fetch: ", batch.status().message()));
    }
    pos += size;
    ++result.batches;
    if (batch->last_offset().value() < result.next_offset) continue;  // wholly before us
    if (!batch->is_control()) {
      ASSIGN_OR_RETURN(bool whole, DecodeBatch(topic, partition, *batch, options, out, &result));
      if (!whole) return result;
    }
    result.next_offset = std::max(result.next_offset, batch->last_offset().value() + 1);
  }
  return result;
}

}  // namespace strata::client
