// The storage shared by the offset index and the time index: a sorted, append-only array of
// (key, value) entries mirrored to a preallocated file. Not used directly; see offset_index.h and
// time_index.h, which give the keys and values their meaning.
//
// Concurrency: one writer (the partition's appender) calls Append/TruncateEntries/Flush/Trim;
// any number of readers call Lookup/EntryAt/size concurrently without a lock. Entries live in a
// fixed-capacity array allocated once (untouched pages cost no memory), published by a release
// store of the count; individual words are atomics, so a reader racing a truncation may see a
// stale entry but never a torn one.
//
// Durability: Append only changes memory. Flush() writes the entries added since the last flush
// (and fsyncs when asked). An index is a hint that can always be rebuilt from its segment, so
// recovery rebuilds any index that fails CheckEntries.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/file.h"

namespace strata::internal {

enum class IndexKind { kOffset, kTime };

class SparseIndex {
 public:
  struct Entry {
    int64_t key;    // offset index: relative offset; time index: timestamp
    int64_t value;  // offset index: file position;   time index: relative offset
  };

  enum class Mode {
    kReadOnly,  // tools: the file is opened read-only and never written; changes (a rebuild)
                // stay in memory
    kSealed,    // a rolled segment: writable file (truncation, deletion), no appends until
                // Reactivate()
    kActive,    // the active segment: preallocated to max_bytes, appendable
  };

  // Opens or creates the file. The in-memory array has room for
  // max_bytes / entry size entries (virtual memory; untouched pages cost nothing) so that a
  // sealed index can become active again after a truncation. Existing entries are loaded up to
  // the first invalid one; `*trailing_garbage` is set when non-zero bytes follow them.
  static absl::StatusOr<std::unique_ptr<SparseIndex>> Open(FileSystem* fs, std::string path,
                                                           IndexKind kind, uint64_t max_bytes,
                                                           Mode mode, bool* trailing_garbage);
  ~SparseIndex();

  size_t size() const { return count_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_; }
  bool full() const { return size() >= capacity_; }
  Entry EntryAt(size_t i) const;
  // Index of the last entry whose key is <= `key`, or -1 if none.
  int64_t FindLastKeyAtMost(int64_t key) const;
  // Index of the last entry whose value is < `value`, or -1 if none.
  int64_t FindLastValueBelow(int64_t value) const;

  // Keys must strictly increase; values must not decrease (strictly for the offset index).
  absl::Status Append(Entry e);
  // Keeps the first `n` entries; the file's copy of the rest is zeroed.
  absl::Status TruncateEntries(size_t n);
  // Writes unflushed entries; fsyncs when `sync`.
  absl::Status Flush(bool sync);
  // Shrinks the file to its entries (segment rolled or log closing); no more appends after.
  absl::Status TrimToSize();
  // Makes a sealed index appendable again (preallocating its file).
  absl::Status Reactivate();
  bool appendable() const { return appendable_; }
  absl::Status Rename(const std::string& new_path);
  // Closes and deletes the file.
  absl::Status Delete();

  const std::string& path() const { return path_; }
  size_t entry_size() const;
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  SparseIndex(FileSystem* fs, std::string path, IndexKind kind, size_t capacity);
  absl::Status Load(bool* trailing_garbage);
  void Store(size_t i, Entry e);
  void EncodeEntry(Entry e, uint8_t* out) const;
  Entry DecodeEntry(const uint8_t* in) const;

  FileSystem* fs_;
  std::string path_;
  IndexKind kind_;
  size_t capacity_;
  std::unique_ptr<File> file_;
  // 2 * capacity_ words: key, value per entry.
  std::atomic<int64_t>* words_ = nullptr;
  size_t words_bytes_ = 0;
  std::atomic<size_t> count_{0};
  size_t flushed_ = 0;          // entries already written to the file
  uint64_t file_bytes_ = 0;     // current file size
  bool appendable_ = false;
  bool read_only_ = false;
};

}  // namespace strata::internal
