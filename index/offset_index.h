// Sparse offset index of one segment (Kafka's .index): maps the last offset of a batch to the
// batch's file position, one entry every index.interval.bytes of log.
//
//   auto [offset, position] = index.Lookup(Offset(1234));
//   // `position` is where the batch holding the largest indexed offset <= 1234 starts; scan
//   // batch headers forward from there to reach offset 1234 exactly.
//
// Layout: index/index_format.h and docs/formats/offset-index.md. Concurrency and durability:
// index/sparse_index.h (one appender, lock-free readers; Flush makes entries durable; always
// rebuildable from the segment).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"
#include "common/types.h"
#include "index/sparse_index.h"

namespace strata {

using IndexMode = internal::SparseIndex::Mode;

struct OffsetPosition {
  Offset offset;
  FilePosition position;
};

class OffsetIndex {
 public:
  static absl::StatusOr<std::unique_ptr<OffsetIndex>> Open(FileSystem* fs, std::string path,
                                                           Offset base_offset, uint64_t max_bytes,
                                                           IndexMode mode);

  Offset base_offset() const { return base_; }
  size_t size() const { return index_->size(); }
  bool full() const { return index_->full(); }
  OffsetPosition EntryAt(size_t i) const;
  // The entry with the largest offset <= target; {base_offset, 0} when there is none.
  OffsetPosition Lookup(Offset target) const;

  // `offset` must be in [base, base + 2^32) and beyond the last entry; so must `position`.
  absl::Status Append(Offset offset, FilePosition position);
  // Removes the entries for offsets >= `offset`.
  absl::Status TruncateTo(Offset offset);
  // Removes every entry.
  absl::Status Reset() { return index_->TruncateEntries(0); }

  // Sanity check against the segment: entries inside a log of `log_bytes` bytes, no garbage after
  // them. An index that fails must be rebuilt (DataLoss).
  absl::Status Check(uint64_t log_bytes) const;

  absl::Status Flush(bool sync) { return index_->Flush(sync); }
  absl::Status TrimToSize() { return index_->TrimToSize(); }
  absl::Status Reactivate() { return index_->Reactivate(); }
  bool appendable() const { return index_->appendable(); }
  absl::Status Rename(const std::string& p) { return index_->Rename(p); }
  absl::Status Delete() { return index_->Delete(); }
  const std::string& path() const { return index_->path(); }
  uint64_t file_bytes() const { return index_->file_bytes(); }

 private:
  OffsetIndex(Offset base, std::unique_ptr<internal::SparseIndex> index, bool garbage)
      : base_(base), index_(std::move(index)), trailing_garbage_(garbage) {}
  Offset base_;
  std::unique_ptr<internal::SparseIndex> index_;
  bool trailing_garbage_;
};

}  // namespace strata
