// Sequential readers over a segment file, used by Segment (internal to log/).
//
// HeaderScanner reads batch headers a chunk at a time, so walking a few KiB of small batches
// costs one pread, not one per batch. BatchReader reads whole batches (for validation and
// recovery) through a large buffer. Both stop at `end` and never read past it; neither is
// thread-safe (make one per scan).
#pragma once

#include <algorithm>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "log/segment.h"

namespace strata::internal {

class HeaderScanner {
 public:
  // The default chunk covers one index interval (4 KiB) plus a header, which is what a lookup
  // scans from an index entry, in one pread. Buffers come from a per-thread pool, so scanners
  // are cheap to make and may nest.
  static constexpr size_t kDefaultChunk = 4096 + 64;
  static constexpr size_t kMaxChunk = 64 * 1024;
  HeaderScanner(const File& file, uint64_t end, size_t chunk_bytes = kDefaultChunk)
      : file_(file), end_(end), chunk_bytes_(std::min(chunk_bytes, kMaxChunk)) {}
  ~HeaderScanner();
  HeaderScanner(const HeaderScanner&) = delete;
  HeaderScanner& operator=(const HeaderScanner&) = delete;
  // The summary of the batch starting at `position`. OutOfRange when the batch does not fit
  // before `end` (a torn tail), DataLoss when the header is malformed.
  absl::StatusOr<BatchSummary> At(uint64_t position);

 private:
  const File& file_;
  uint64_t end_;
  size_t chunk_bytes_;
  std::unique_ptr<uint8_t[]> buf_;  // kMaxChunk bytes from the pool; valid: [0, buf_len_)
  size_t buf_len_ = 0;
  uint64_t buf_pos_ = 0;
};

class BatchReader {
 public:
  BatchReader(const File& file, uint64_t end) : file_(file), end_(end) {}
  // The bytes of the whole batch at `position` (valid until the next call), after checking that
  // the length field is sane and the batch fits before `end`.
  absl::StatusOr<std::span<const uint8_t>> At(uint64_t position);

 private:
  absl::Status Fill(uint64_t position, size_t min_bytes);
  const File& file_;
  uint64_t end_;
  std::string buf_;
  uint64_t buf_pos_ = 0;
};

}  // namespace strata::internal
