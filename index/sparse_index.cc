#include "index/sparse_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"
#include "index/index_format.h"

namespace strata::internal {

using index_format::kOffsetEntrySize;
using index_format::kTimeEntrySize;

SparseIndex::SparseIndex(FileSystem* fs, std::string path, IndexKind kind, size_t capacity)
    : fs_(fs), path_(std::move(path)), kind_(kind), capacity_(capacity) {}

SparseIndex::~SparseIndex() {
  if (words_ != nullptr) munmap(words_, words_bytes_);
}

size_t SparseIndex::entry_size() const {
  return kind_ == IndexKind::kOffset ? kOffsetEntrySize : kTimeEntrySize;
}

void SparseIndex::EncodeEntry(Entry e, uint8_t* out) const {
  if (kind_ == IndexKind::kOffset) {
    StoreBE32(out, static_cast<uint32_t>(e.key));
    StoreBE32(out + 4, static_cast<uint32_t>(e.value));
  } else {
    StoreBE64(out, static_cast<uint64_t>(e.key));
    StoreBE32(out + 8, static_cast<uint32_t>(e.value));
  }
}

SparseIndex::Entry SparseIndex::DecodeEntry(const uint8_t* in) const {
  if (kind_ == IndexKind::kOffset) return {LoadBE32(in), LoadBE32(in + 4)};
  return {static_cast<int64_t>(LoadBE64(in)), LoadBE32(in + 8)};
}

SparseIndex::Entry SparseIndex::EntryAt(size_t i) const {
  return {words_[2 * i].load(std::memory_order_relaxed),
          words_[2 * i + 1].load(std::memory_order_relaxed)};
}

void SparseIndex::Store(size_t i, Entry e) {
  words_[2 * i].store(e.key, std::memory_order_relaxed);
  words_[2 * i + 1].store(e.value, std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<SparseIndex>> SparseIndex::Open(FileSystem* fs, std::string path,
                                                               IndexKind kind, uint64_t max_bytes,
                                                               Mode mode,
                                                               bool* trailing_garbage) {
  bool read_only = mode == Mode::kReadOnly;
  size_t es = kind == IndexKind::kOffset ? kOffsetEntrySize : kTimeEntrySize;
  std::unique_ptr<SparseIndex> index(new SparseIndex(fs, path, kind, 0));
  ASSIGN_OR_RETURN(index->file_,
                   fs->Open(path, read_only ? OpenMode::kReadOnly : OpenMode::kCreate));
  ASSIGN_OR_RETURN(index->file_bytes_, index->file_->Size());
  uint64_t on_disk_entries = index->file_bytes_ / es;
  index->capacity_ = static_cast<size_t>(std::max(max_bytes / es, on_disk_entries));
  index->read_only_ = read_only;
  index->words_bytes_ = std::max<size_t>(index->capacity_, 1) * 2 * sizeof(int64_t);
  void* mem = mmap(nullptr, index->words_bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return ErrnoToStatus(errno, "mmap index entries");
  index->words_ = static_cast<std::atomic<int64_t>*>(mem);
  RETURN_IF_ERROR(index->Load(trailing_garbage));
  if (mode == Mode::kActive) RETURN_IF_ERROR(index->Reactivate());
  if (read_only) index->appendable_ = true;  // rebuilds happen in memory only
  return index;
}

// Reads entries until the first invalid one. Past it, only a bounded window is checked for
// non-zero bytes: enough to tell garbage from a preallocated zero tail without reading all of
// a 10 MiB preallocated file.
absl::Status SparseIndex::Load(bool* trailing_garbage) {
  constexpr size_t kChunk = 64 * 1024;
  constexpr uint64_t kTrailingCheckBytes = 64 * 1024;
  *trailing_garbage = false;
  const size_t es = entry_size();
  const uint64_t usable = file_bytes_ - file_bytes_ % es;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kChunk - kChunk % es]);
  size_t n = 0;
  std::optional<uint64_t> end_pos;  // where the valid entries ended
  Entry prev{-1, -1};
  for (uint64_t pos = 0; pos < usable;) {
    if (end_pos.has_value() && pos >= *end_pos + kTrailingCheckBytes) break;
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk - kChunk % es, usable - pos));
    ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos, {buf.get(), want}));
    want = got - got % es;
    if (want == 0) break;
    for (size_t off = 0; off < want; off += es) {
      if (end_pos.has_value()) {
        if (std::any_of(buf.get() + off, buf.get() + off + es, [](uint8_t b) { return b != 0; })) {
          *trailing_garbage = true;
          break;
        }
        continue;
      }
      Entry e = DecodeEntry(buf.get() + off);
      bool ordered = n == 0 || (e.key > prev.key && (kind_ == IndexKind::kOffset
                                                         ? e.value > prev.value
                                                         : e.value >= prev.value));
      bool zero = e.key == 0 && e.value == 0;
      if (zero || !ordered || n >= capacity_) {
        end_pos = pos + off;
        *trailing_garbage = !zero;
        if (!zero) break;
        continue;
      }
      Store(n++, e);
      prev = e;
    }
    if (*trailing_garbage) break;
    pos += want;
  }
  count_.store(n, std::memory_order_release);
  flushed_ = n;
  return absl::OkStatus();
}

int64_t SparseIndex::FindLastKeyAtMost(int64_t key) const {
  int64_t lo = 0, hi = static_cast<int64_t>(size()) - 1, found = -1;
  while (lo <= hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (words_[2 * mid].load(std::memory_order_relaxed) <= key) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

int64_t SparseIndex::FindLastValueBelow(int64_t value) const {
  int64_t lo = 0, hi = static_cast<int64_t>(size()) - 1, found = -1;
  while (lo <= hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (words_[2 * mid + 1].load(std::memory_order_relaxed) < value) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

absl::Status SparseIndex::Append(Entry e) {
  size_t n = size();
  if (!appendable_) return absl::FailedPreconditionError(absl::StrCat(path_, " is sealed"));
  if (n >= capacity_) return absl::ResourceExhaustedError(absl::StrCat(path_, " is full"));
  if (n > 0) {
    Entry last = EntryAt(n - 1);
    bool ordered = e.key > last.key &&
                   (kind_ == IndexKind::kOffset ? e.value > last.value : e.value >= last.value);
    if (!ordered) {
      return absl::InvalidArgumentError(absl::StrCat("out-of-order index entry (", e.key, ", ",
                                                     e.value, ") after (", last.key, ", ",
                                                     last.value, ") in ", path_));
    }
  }
  Store(n, e);
  count_.store(n + 1, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status SparseIndex::TruncateEntries(size_t n) {
  if (n >= size()) return absl::OkStatus();
  count_.store(n, std::memory_order_release);
  if (flushed_ > n && !read_only_) {
    // Zero the file's stale entries so that a reload does not resurrect them.
    std::vector<uint8_t> zeros((flushed_ - n) * entry_size(), 0);
    RETURN_IF_ERROR(file_->WriteAt(n * entry_size(), zeros));
    flushed_ = n;
  }
  return absl::OkStatus();
}

absl::Status SparseIndex::Flush(bool sync) {
  if (read_only_) return absl::OkStatus();
  size_t n = size();
  if (n > flushed_) {
    size_t es = entry_size();
    std::vector<uint8_t> buf((n - flushed_) * es);
    for (size_t i = flushed_; i < n; ++i) EncodeEntry(EntryAt(i), buf.data() + (i - flushed_) * es);
    RETURN_IF_ERROR(file_->WriteAt(flushed_ * es, buf));
    flushed_ = n;
    file_bytes_ = std::max<uint64_t>(file_bytes_, n * es);
  }
  if (sync) RETURN_IF_ERROR(file_->Sync());
  return absl::OkStatus();
}

absl::Status SparseIndex::TrimToSize() {
  if (read_only_) return absl::OkStatus();
  RETURN_IF_ERROR(Flush(false));
  uint64_t bytes = size() * entry_size();
  if (file_bytes_ != bytes) {
    RETURN_IF_ERROR(file_->Truncate(bytes));
    file_bytes_ = bytes;
  }
  appendable_ = false;
  return absl::OkStatus();
}

absl::Status SparseIndex::Reactivate() {
  if (read_only_) return absl::OkStatus();
  uint64_t bytes = capacity_ * entry_size();
  if (file_bytes_ < bytes) {
    RETURN_IF_ERROR(file_->Truncate(bytes));  // preallocate (sparse, zero-filled)
    file_bytes_ = bytes;
  }
  appendable_ = true;
  return absl::OkStatus();
}

absl::Status SparseIndex::Rename(const std::string& new_path) {
  RETURN_IF_ERROR(fs_->Rename(path_, new_path));
  path_ = new_path;
  return absl::OkStatus();
}

absl::Status SparseIndex::Delete() {
  file_.reset();
  return fs_->Remove(path_);
}

}  // namespace strata::internal
