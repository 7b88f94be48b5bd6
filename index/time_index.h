// Sparse time index of one segment (Kafka's .timeindex): (largest timestamp so far, offset of the
// batch that carried it), appended beside offset-index entries whenever the segment's maximum
// timestamp grew. Used by ListOffsets-by-timestamp and time-based retention.
//
//   TimestampOffset hint = index.Lookup(ts);  // largest indexed timestamp <= ts
//   // batches before hint.offset all have timestamps <= hint.timestamp; scan from there for
//   // the first batch whose maxTimestamp >= ts.
//
// Layout: index/index_format.h, docs/formats/time-index.md. Concurrency and durability as in
// index/sparse_index.h.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"
#include "index/offset_index.h"
#include "index/sparse_index.h"

namespace strata {

struct TimestampOffset {
  TimestampMs timestamp;
  Offset offset;
};

class TimeIndex {
 public:
  static absl::StatusOr<std::unique_ptr<TimeIndex>> Open(FileSystem* fs, std::string path,
                                                         Offset base_offset, uint64_t max_bytes,
                                                         IndexMode mode);

  Offset base_offset() const { return base_; }
  size_t size() const { return index_->size(); }
  bool full() const { return index_->full(); }
  TimestampOffset EntryAt(size_t i) const;
  // The last entry, or {kNoTimestamp, base_offset} when empty.
  TimestampOffset LastEntry() const;
  // The entry with the largest timestamp <= ts; {kNoTimestamp, base_offset} when none.
  TimestampOffset Lookup(TimestampMs ts) const;

  // Appends when `timestamp` exceeds the last entry's (otherwise a no-op, as in Kafka).
  absl::Status MaybeAppend(TimestampMs timestamp, Offset offset);
  // Removes the entries whose offset is >= `offset`.
  absl::Status TruncateTo(Offset offset);
  absl::Status Reset() { return index_->TruncateEntries(0); }

  // Sanity check: offsets inside [base, last_offset], no garbage after the entries.
  absl::Status Check(Offset last_offset) const;

  absl::Status Flush(bool sync) { return index_->Flush(sync); }
  absl::Status TrimToSize() { return index_->TrimToSize(); }
  absl::Status Reactivate() { return index_->Reactivate(); }
  bool appendable() const { return index_->appendable(); }
  absl::Status Rename(const std::string& p) { return index_->Rename(p); }
  absl::Status Delete() { return index_->Delete(); }
  const std::string& path() const { return index_->path(); }
  uint64_t file_bytes() const { return index_->file_bytes(); }

 private:
  TimeIndex(Offset base, std::unique_ptr<internal::SparseIndex> index, bool garbage)
      : base_(base), index_(std::move(index)), trailing_garbage_(garbage) {}
  Offset base_;
  std::unique_ptr<internal::SparseIndex> index_;
  bool trailing_garbage_;
};

}  // namespace strata
