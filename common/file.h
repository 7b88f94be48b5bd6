// Disk access for everything that touches the data directory.
//
// All storage code goes through FileSystem/File so that tests can swap in
// FaultInjectionFileSystem (common/fault_fs.h), which fails chosen calls and simulates power loss.
// PosixFileSystem is the real implementation.
//
// Durability contract (what callers may rely on):
//   - WriteAt/Truncate change the file's contents immediately for every reader of the same file
//     (page cache), but survive a crash only after Sync() returns OK.
//   - A newly created or renamed file's *name* survives a crash only after SyncDir() of its
//     directory returns OK. Rename is atomic: after a crash the name refers to the old or the
//     new file, never to a mix.
//   - Remove is treated as immediately durable by the fault injector; callers that need to know
//     should SyncDir.
//
// Thread safety: a File may be read from (ReadAt, Size) by many threads while one thread writes
// (WriteAt, Truncate, Sync). The FileSystem object is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata {

class File {
 public:
  virtual ~File() = default;

  // Writes all of `data` at `position`, growing the file as needed. On error some prefix of
  // `data` may have been written (a short write followed by ENOSPC, say).
  virtual absl::Status WriteAt(uint64_t position, std::span<const uint8_t> data) = 0;

  // Reads up to out.size() bytes at `position`; returns how many were read (fewer only at EOF).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t position, std::span<uint8_t> out) const = 0;

  // Flushes written data (not necessarily metadata such as mtime) to stable storage: fdatasync.
  virtual absl::Status Sync() = 0;

  // Sets the file's size, cutting or zero-extending it.
  virtual absl::Status Truncate(uint64_t size) = 0;

  virtual absl::StatusOr<uint64_t> Size() const = 0;

  // The OS file descriptor for zero-copy paths (sendfile), or -1 when there is none. Valid for
  // the lifetime of this object.
  virtual int native_handle() const = 0;

  virtual const std::string& path() const = 0;
};

enum class OpenMode {
  kReadOnly,         // must exist
  kReadWrite,        // must exist
  kCreate,           // read-write, created if missing
  kCreateExclusive,  // read-write, fails with AlreadyExists if present
  kCreateTruncate,   // read-write, created or emptied
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  // Atomically replaces `to` with `from`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // Creates `path` and its missing parents. OK if it already exists as a directory.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Removes an empty directory.
  virtual absl::Status RemoveDir(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..", in no particular order.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Makes creations, renames and removals inside `dir` durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;

  // The process-wide POSIX file system.
  static FileSystem* Default();
};

// Joins path components with a single '/'.
std::string JoinPath(absl::string_view a, absl::string_view b);
// The directory part of `path` ("." when there is none).
std::string DirName(absl::string_view path);
// The last component of `path`.
std::string BaseName(absl::string_view path);

// Reads a whole (small) file.
absl::StatusOr<std::string> ReadFileToString(FileSystem* fs, const std::string& path);

// Writes `contents` to `path` crash-safely: write `path`.tmp, fsync it, rename over `path`,
// fsync the directory. After a crash the file holds the old or the new contents.
absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path,
                                 absl::string_view contents);

// Removes a directory tree. Used for topic deletion and test cleanup.
absl::Status RemoveTree(FileSystem* fs, const std::string& path);

}  // namespace strata
