// FaultInjectionFileSystem: a FileSystem wrapper for tests that fails chosen calls and simulates
// power loss (after LevelDB's fault-injection Env and RocksDB's FaultInjectionTestFS).
//
//   FaultInjectionFileSystem fs(FileSystem::Default());
//   fs.AddRule({.op = FsOp::kSync, .path_contains = ".log", .error = EIO});  // next fsync fails
//   fs.SetSpaceLimit(1 << 20);            // writes past 1 MiB of file data fail with ENOSPC
//   fs.CrashAfter(rng() % 500);           // the "process" dies after N more mutating calls
//   ... run the code under test ...
//   fs.DropUnsyncedData();                // power loss: only synced bytes and names remain
//
// What it tracks:
//   - per file, the contents as of the last successful Sync (the "durable image"); writes and
//     truncations since then are dropped by DropUnsyncedData;
//   - per directory, creations and renames since the last SyncDir; DropUnsyncedData removes the
//     created files and renames the renamed ones back (restoring a file the rename replaced).
//   - Remove, CreateDirs, RemoveDir and directory renames are treated as durable at once (a simplification, documented here
//     because a real file system may lose an unsynced unlink too).
// Reads always go to the real file and are never failed.
//
// Thread-safe. Files must be opened through this object for their writes to be tracked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/file.h"

namespace strata {

enum class FsOp { kOpen, kWrite, kSync, kTruncate, kRename, kRemove, kCreateDirs, kSyncDir };

struct FaultRule {
  FsOp op = FsOp::kWrite;
  std::string path_contains;  // empty: any path
  int error = 5;              // errno to fail with (EIO)
  int skip = 0;               // let this many matching calls pass first
  int times = 1;              // how many matching calls fail; -1 = all of them
  bool short_write = false;   // kWrite only: write the first half, then fail
};

class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base);
  ~FaultInjectionFileSystem() override;

  void AddRule(FaultRule rule);
  void ClearRules();
  // Total apparent bytes of the files this object has seen; growth past it fails with ENOSPC
  // after writing what fits. nullopt = unlimited.
  void SetSpaceLimit(std::optional<uint64_t> bytes);
  uint64_t UsedBytes();
  // Every mutating call fails with EIO with this probability, drawn from a seeded generator.
  void SetRandomFaults(uint64_t seed, double probability);
  // After `ops` more mutating calls succeed, the process is considered dead: every later
  // mutating call fails with EIO and changes nothing.
  void CrashAfter(int64_t ops);
  bool crashed();
  int64_t mutating_calls();

  // Power loss: restores every tracked file to its durable image and undoes unsynced creations
  // and renames. Then clears rules, crash state and faults so the directory can be reopened.
  absl::Status DropUnsyncedData();

  // Bytes of `path` that are durable (size of its durable image); 0 if unknown.
  uint64_t SyncedSize(const std::string& path);

  // FileSystem:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::Status RemoveDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  bool IsDirectory(const std::string& path) override { return base_->IsDirectory(path); }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;

  // Internal state shared with the File wrappers; public only for them.
  struct FileState {
    std::string path;
    std::string durable;                                 // contents at the last Sync
    uint64_t size = 0;                                   // current apparent size
    uint64_t min_size_since_sync = UINT64_MAX;           // smallest size a truncate set
    std::vector<std::pair<uint64_t, uint64_t>> dirty;    // (position, length) since the last Sync
  };
  // Decides whether a call on `path` fails; returns the errno or 0. Counts the call.
  int CheckFault(FsOp op, const std::string& path, bool* short_write);
  std::mutex& mu() { return mu_; }
  // How many of `n` bytes written at `position` fit under the space limit; nullopt = all.
  std::optional<uint64_t> space_room(const FileState& state, uint64_t position, uint64_t n);
  void AddUsed(int64_t delta) { used_bytes_ += delta; }
  FileSystem* base() { return base_; }

 private:
  struct DirOp {
    enum Kind { kCreate, kRename } kind;
    std::string from;  // kRename
    std::string to;    // the created path, or the rename target
    std::shared_ptr<FileState> replaced;  // kRename over an existing file
  };

  std::shared_ptr<FileState> StateFor(const std::string& path, bool created);
  absl::Status RestoreFile(const FileState& state);
  absl::Status UndoDirOps();
  // Rewrites tracked paths under directory `from` to live under `to` (mu_ held).
  void MovePrefix(const std::string& from, const std::string& to);

  FileSystem* base_;
  std::mutex mu_;
  std::vector<FaultRule> rules_;
  std::vector<int> rule_seen_;
  std::map<std::string, std::shared_ptr<FileState>> files_;
  std::map<std::string, std::vector<DirOp>> pending_dir_ops_;  // keyed by directory
  std::optional<uint64_t> space_limit_;
  int64_t used_bytes_ = 0;
  std::mt19937_64 rng_;
  double fault_probability_ = 0;
  int64_t crash_countdown_ = -1;
  bool crashed_ = false;
  int64_t mutating_calls_ = 0;
};

}  // namespace strata
