#include "common/file.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"

namespace strata {

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (a.back() == '/') return absl::StrCat(a, b);
  return absl::StrCat(a, "/", b);
}

std::string DirName(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

absl::StatusOr<std::string> ReadFileToString(FileSystem* fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kReadOnly));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string contents(size, '\0');
  ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, {reinterpret_cast<uint8_t*>(contents.data()), size}));
  contents.resize(n);
  return contents;
}

absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path,
                                 absl::string_view contents) {
  std::string tmp = absl::StrCat(path, ".tmp");
  {
    ASSIGN_OR_RETURN(auto file, fs->Open(tmp, OpenMode::kCreateTruncate));
    RETURN_IF_ERROR(file->WriteAt(0, AsBytes(contents)));
    RETURN_IF_ERROR(file->Sync());
  }
  RETURN_IF_ERROR(fs->Rename(tmp, path));
  return fs->SyncDir(DirName(path));
}

absl::Status RemoveTree(FileSystem* fs, const std::string& path) {
  if (!fs->IsDirectory(path)) return fs->Remove(path);
  ASSIGN_OR_RETURN(auto names, fs->ListDir(path));
  for (const auto& name : names) RETURN_IF_ERROR(RemoveTree(fs, JoinPath(path, name)));
  return fs->RemoveDir(path);
}

}  // namespace strata
