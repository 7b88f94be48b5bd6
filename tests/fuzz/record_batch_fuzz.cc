// libFuzzer target for the RecordBatch v2 parser: any bytes, no crash, no over-read (ASan), no
// undefined behaviour (UBSan). Exercises the header checks, the CRC, decompression with every
// codec and record decoding, on a copy sized exactly to the input so ASan sees over-reads.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "log/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);
  std::span<const uint8_t> bytes(copy.data(), copy.size());
  (void)strata::RecordBatchView::PeekSize(bytes);
  auto view = strata::RecordBatchView::ParseNoCrc(bytes);
  if (!view.ok()) return 0;
  (void)view->CrcMatches();
  (void)view->ValidateRecords(/*strict=*/false, /*max_decompressed_bytes=*/1 << 20);
  auto reader = view->Records(1 << 20);
  if (!reader.ok()) return 0;
  strata::Record r;
  for (int i = 0; i < 100000; ++i) {
    auto more = reader->Next(&r);
    if (!more.ok() || !*more) break;
  }
  return 0;
}
