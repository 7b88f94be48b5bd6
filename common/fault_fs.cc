#include "common/fault_fs.h"

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"

namespace strata {
namespace {

using State = FaultInjectionFileSystem::FileState;

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base,
            std::shared_ptr<State> state)
      : fs_(fs), base_(std::move(base)), state_(std::move(state)) {}

  absl::Status WriteAt(uint64_t position, std::span<const uint8_t> data) override {
    std::lock_guard<std::mutex> lock(fs_->mu());
    bool short_write = false;
    int err = fs_->CheckFault(FsOp::kWrite, state_->path, &short_write);
    size_t n = data.size();
    if (err != 0) n = short_write ? data.size() / 2 : 0;
    if (auto room = fs_->space_room(*state_, position, n); room.has_value()) {
      n = *room;
      err = ENOSPC;
    }
    if (n > 0) {
      RETURN_IF_ERROR(base_->WriteAt(position, data.first(n)));
      Track(position, n);
    }
    if (err != 0) return ErrnoToStatus(err, absl::StrCat("write ", state_->path, " (injected)"));
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(uint64_t position, std::span<uint8_t> out) const override {
    return base_->ReadAt(position, out);
  }

  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(fs_->mu());
    bool unused;
    if (int err = fs_->CheckFault(FsOp::kSync, state_->path, &unused); err != 0) {
      return ErrnoToStatus(err, absl::StrCat("fdatasync ", state_->path, " (injected)"));
    }
    RETURN_IF_ERROR(base_->Sync());
    return CaptureDurableImage();
  }

  absl::Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(fs_->mu());
    bool unused;
    if (int err = fs_->CheckFault(FsOp::kTruncate, state_->path, &unused); err != 0) {
      return ErrnoToStatus(err, absl::StrCat("ftruncate ", state_->path, " (injected)"));
    }
    if (size > state_->size && fs_->space_room(*state_, state_->size, size - state_->size)) {
      return ErrnoToStatus(ENOSPC, absl::StrCat("ftruncate ", state_->path, " (injected)"));
    }
    RETURN_IF_ERROR(base_->Truncate(size));
    fs_->AddUsed(static_cast<int64_t>(size) - static_cast<int64_t>(state_->size));
    state_->size = size;
    state_->min_size_since_sync = std::min(state_->min_size_since_sync, size);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }
  int native_handle() const override { return base_->native_handle(); }
  const std::string& path() const override { return base_->path(); }

 private:
  void Track(uint64_t position, uint64_t n) {
    state_->dirty.emplace_back(position, n);
    if (position + n > state_->size) {
      fs_->AddUsed(static_cast<int64_t>(position + n - state_->size));
      state_->size = position + n;
    }
  }

  // Called with the lock held after a successful fsync: the durable image becomes the file's
  // current contents, computed from the previous image plus the ranges written since.
  absl::Status CaptureDurableImage() {
    std::string& img = state_->durable;
    img.resize(std::min<uint64_t>(img.size(), state_->min_size_since_sync));
    img.resize(state_->size, '\0');
    for (auto [pos, len] : state_->dirty) {
      if (pos >= img.size()) continue;
      len = std::min<uint64_t>(len, img.size() - pos);
      ASSIGN_OR_RETURN(size_t got,
                       base_->ReadAt(pos, {reinterpret_cast<uint8_t*>(img.data() + pos), len}));
      if (got != len) return absl::InternalError("fault fs: short read capturing image");
    }
    state_->dirty.clear();
    state_->min_size_since_sync = UINT64_MAX;
    return absl::OkStatus();
  }

  FaultInjectionFileSystem* fs_;
  std::unique_ptr<File> base_;
  std::shared_ptr<State> state_;
};

bool IsMutatingOpen(OpenMode mode) {
  return mode == OpenMode::kCreate || mode == OpenMode::kCreateExclusive ||
         mode == OpenMode::kCreateTruncate;
}

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base) : base_(base) {}
FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

void FaultInjectionFileSystem::AddRule(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(std::move(rule));
  rule_seen_.push_back(0);
}

void FaultInjectionFileSystem::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  rule_seen_.clear();
}

void FaultInjectionFileSystem::SetSpaceLimit(std::optional<uint64_t> bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  space_limit_ = bytes;
}

uint64_t FaultInjectionFileSystem::UsedBytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<uint64_t>(std::max<int64_t>(used_bytes_, 0));
}

void FaultInjectionFileSystem::SetRandomFaults(uint64_t seed, double probability) {
  std::lock_guard<std::mutex> lock(mu_);
  rng_.seed(seed);
  fault_probability_ = probability;
}

void FaultInjectionFileSystem::CrashAfter(int64_t ops) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_countdown_ = ops;
}

bool FaultInjectionFileSystem::crashed() {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

int64_t FaultInjectionFileSystem::mutating_calls() {
  std::lock_guard<std::mutex> lock(mu_);
  return mutating_calls_;
}

std::optional<uint64_t> FaultInjectionFileSystem::space_room(const FileState& state,
                                                             uint64_t position, uint64_t n) {
  uint64_t new_end = position + n;
  if (!space_limit_ || new_end <= state.size) return std::nullopt;
  uint64_t used = static_cast<uint64_t>(std::max<int64_t>(used_bytes_, 0));
  uint64_t free = *space_limit_ > used ? *space_limit_ - used : 0;
  uint64_t fits_to = state.size + free;  // the file may grow up to here
  if (new_end <= fits_to) return std::nullopt;
  return fits_to > position ? fits_to - position : 0;
}

int FaultInjectionFileSystem::CheckFault(FsOp op, const std::string& path, bool* short_write) {
  *short_write = false;
  if (crashed_) return EIO;
  if (crash_countdown_ == 0) {
    crashed_ = true;
    return EIO;
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    FaultRule& r = rules_[i];
    if (r.op != op || r.times == 0) continue;
    if (!r.path_contains.empty() && path.find(r.path_contains) == std::string::npos) continue;
    if (rule_seen_[i]++ < r.skip) continue;
    if (r.times > 0) --r.times;
    *short_write = r.short_write;
    return r.error;
  }
  if (fault_probability_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) <
                                    fault_probability_) {
    return EIO;
  }
  ++mutating_calls_;
  if (crash_countdown_ > 0) --crash_countdown_;
  return 0;
}

std::shared_ptr<FaultInjectionFileSystem::FileState> FaultInjectionFileSystem::StateFor(
    const std::string& path, bool created) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second;
  auto state = std::make_shared<FileState>();
  state->path = path;
  if (!created) {
    // A file that existed before we saw it: its current contents count as durable.
    if (auto contents = ReadFileToString(base_, path); contents.ok()) {
      state->durable = std::move(*contents);
    }
  }
  state->size = state->durable.size();
  used_bytes_ += static_cast<int64_t>(state->size);
  files_[path] = state;
  return state;
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFileSystem::Open(const std::string& path,
                                                                     OpenMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsMutatingOpen(mode)) {
    bool unused;
    if (int err = CheckFault(FsOp::kOpen, path, &unused); err != 0) {
      return ErrnoToStatus(err, absl::StrCat("open ", path, " (injected)"));
    }
  }
  bool existed = base_->Exists(path);
  ASSIGN_OR_RETURN(auto file, base_->Open(path, mode));
  auto state = StateFor(path, !existed);
  if (!existed) pending_dir_ops_[DirName(path)].push_back({DirOp::kCreate, "", path, nullptr});
  if (mode == OpenMode::kCreateTruncate && state->size > 0) {
    used_bytes_ -= static_cast<int64_t>(state->size);
    state->size = 0;
    state->min_size_since_sync = 0;
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(file), std::move(state)));
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  bool unused;
  if (int err = CheckFault(FsOp::kRename, to, &unused); err != 0) {
    return ErrnoToStatus(err, absl::StrCat("rename ", from, " (injected)"));
  }
  if (base_->IsDirectory(from)) {
    // Directory renames (partition deletion) are treated as durable at once; files tracked
    // under the directory move with it.
    RETURN_IF_ERROR(base_->Rename(from, to));
    MovePrefix(from, to);
    return absl::OkStatus();
  }
  auto moved = StateFor(from, false);
  std::shared_ptr<FileState> replaced;
  if (base_->Exists(to)) replaced = StateFor(to, false);
  RETURN_IF_ERROR(base_->Rename(from, to));
  files_.erase(from);
  if (replaced) used_bytes_ -= static_cast<int64_t>(replaced->size);
  moved->path = to;
  files_[to] = moved;
  pending_dir_ops_[DirName(to)].push_back({DirOp::kRename, from, to, replaced});
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  bool unused;
  if (int err = CheckFault(FsOp::kRemove, path, &unused); err != 0) {
    return ErrnoToStatus(err, absl::StrCat("unlink ", path, " (injected)"));
  }
  RETURN_IF_ERROR(base_->Remove(path));
  if (auto it = files_.find(path); it != files_.end()) {
    used_bytes_ -= static_cast<int64_t>(it->second->size);
    files_.erase(it);
  }
  // A removed file needs no undo of its creation any more.
  auto& ops = pending_dir_ops_[DirName(path)];
  std::erase_if(ops, [&](const DirOp& op) { return op.kind == DirOp::kCreate && op.to == path; });
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::CreateDirs(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  bool unused;
  if (int err = CheckFault(FsOp::kCreateDirs, path, &unused); err != 0) {
    return ErrnoToStatus(err, absl::StrCat("mkdir ", path, " (injected)"));
  }
  return base_->CreateDirs(path);
}

absl::Status FaultInjectionFileSystem::RemoveDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  bool unused;
  if (int err = CheckFault(FsOp::kRemove, path, &unused); err != 0) {
    return ErrnoToStatus(err, absl::StrCat("rmdir ", path, " (injected)"));
  }
  RETURN_IF_ERROR(base_->RemoveDir(path));
  std::string prefix = path + "/";
  std::erase_if(files_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
  pending_dir_ops_.erase(path);
  return absl::OkStatus();
}

void FaultInjectionFileSystem::MovePrefix(const std::string& from, const std::string& to) {
  std::string prefix = from + "/";
  std::map<std::string, std::shared_ptr<FileState>> moved_files;
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first.rfind(prefix, 0) == 0) {
      std::string path = to + it->first.substr(from.size());
      it->second->path = path;
      moved_files[path] = it->second;
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  files_.merge(moved_files);
  std::map<std::string, std::vector<DirOp>> moved_ops;
  for (auto it = pending_dir_ops_.begin(); it != pending_dir_ops_.end();) {
    if (it->first == from || it->first.rfind(prefix, 0) == 0) {
      std::vector<DirOp> ops = std::move(it->second);
      for (DirOp& op : ops) {
        if (op.to.rfind(prefix, 0) == 0) op.to = to + op.to.substr(from.size());
        if (op.from.rfind(prefix, 0) == 0) op.from = to + op.from.substr(from.size());
      }
      moved_ops[to + it->first.substr(from.size())] = std::move(ops);
      it = pending_dir_ops_.erase(it);
    } else {
      ++it;
    }
  }
  pending_dir_ops_.merge(moved_ops);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& dir) {
  return base_->ListDir(dir);
}

absl::StatusOr<uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) {
  return base_->FileSize(path);
}

absl::Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  bool unused;
  if (int err = CheckFault(FsOp::kSyncDir, dir, &unused); err != 0) {
    return ErrnoToStatus(err, absl::StrCat("fsync dir ", dir, " (injected)"));
  }
  RETURN_IF_ERROR(base_->SyncDir(dir));
  std::string key = dir;
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  pending_dir_ops_.erase(key);
  return absl::OkStatus();
}

uint64_t FaultInjectionFileSystem::SyncedSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second->durable.size();
}

absl::Status FaultInjectionFileSystem::RestoreFile(const FileState& state) {
  ASSIGN_OR_RETURN(auto file, base_->Open(state.path, OpenMode::kCreate));
  RETURN_IF_ERROR(file->Truncate(state.durable.size()));
  return file->WriteAt(0, AsBytes(state.durable));
}

absl::Status FaultInjectionFileSystem::UndoDirOps() {
  for (auto& [dir, ops] : pending_dir_ops_) {
    for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
      if (it->kind == DirOp::kCreate) {
        if (base_->Exists(it->to)) RETURN_IF_ERROR(base_->Remove(it->to));
        files_.erase(it->to);
        continue;
      }
      auto moved = files_.find(it->to);
      if (moved != files_.end() && base_->Exists(it->to)) {
        RETURN_IF_ERROR(base_->Rename(it->to, it->from));
        auto state = moved->second;
        files_.erase(moved);
        state->path = it->from;
        files_[it->from] = state;
      }
      if (it->replaced) {
        it->replaced->path = it->to;
        files_[it->to] = it->replaced;
      }
    }
  }
  pending_dir_ops_.clear();
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(UndoDirOps());
  used_bytes_ = 0;
  for (auto& [path, state] : files_) {
    if (!base_->Exists(DirName(path))) continue;  // its directory was removed
    RETURN_IF_ERROR(RestoreFile(*state));
    state->size = state->durable.size();
    state->dirty.clear();
    state->min_size_since_sync = UINT64_MAX;
    used_bytes_ += static_cast<int64_t>(state->size);
  }
  rules_.clear();
  rule_seen_.clear();
  crashed_ = false;
  crash_countdown_ = -1;
  fault_probability_ = 0;
  return absl::OkStatus();
}

}  // namespace strata
