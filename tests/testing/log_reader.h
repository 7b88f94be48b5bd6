// Reads every record of a Log back through its public read path, for tests.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bytes.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace strata::testing {

struct ReadRecord {
  int64_t offset;
  std::string key;
  std::string value;
  int64_t timestamp;
};

// Reads the bytes of a slice.
inline absl::StatusOr<std::string> SliceBytes(const FileSlice& slice) {
  std::string out(slice.length, '\0');
  if (slice.length == 0) return out;
  auto n = slice.file->ReadAt(slice.position, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
  if (!n.ok()) return n.status();
  if (*n != slice.length) return absl::DataLossError("short slice read");
  return out;
}

// Every record from `from` to the high watermark, checking each batch's CRC.
inline absl::StatusOr<std::vector<ReadRecord>> ReadAllRecords(const Log& log,
                                                              Offset from = Offset(-1),
                                                              uint64_t max_bytes = 64 * 1024) {
  std::vector<ReadRecord> out;
  Offset next = from < Offset(0) ? log.log_start_offset() : from;
  while (next < log.high_watermark()) {
    auto r = log.Read(next, max_bytes, log.high_watermark());
    if (!r.ok()) return r.status();
    if (r->slice.length == 0) break;
    auto bytes = SliceBytes(r->slice);
    if (!bytes.ok()) return bytes.status();
    std::span<const uint8_t> rest = AsBytes(*bytes);
    while (!rest.empty()) {
      auto view = RecordBatchView::Parse(rest);
      if (!view.ok()) return view.status();
      auto reader = view->Records();
      if (!reader.ok()) return reader.status();
      Record rec;
      while (true) {
        auto more = reader->Next(&rec);
        if (!more.ok()) return more.status();
        if (!*more) break;
        if (Offset(rec.offset) < next) continue;
        out.push_back({rec.offset, rec.key ? std::string(AsStringView(*rec.key)) : "",
                       rec.value ? std::string(AsStringView(*rec.value)) : "", rec.timestamp});
      }
      next = view->last_offset() + 1;
      rest = rest.subspan(view->size_bytes());
    }
  }
  return out;
}

}  // namespace strata::testing
