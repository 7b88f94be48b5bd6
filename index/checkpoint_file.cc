#include "index/checkpoint_file.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace strata {

absl::Status WriteCheckpointFile(FileSystem* fs, const std::string& path, int version,
                                 const std::vector<CheckpointLine>& entries) {
  std::string text = absl::StrCat(version, "\n", entries.size(), "\n");
  for (const auto& e : entries) absl::StrAppend(&text, absl::StrJoin(e, " "), "\n");
  return WriteFileAtomically(fs, path, text);
}

absl::StatusOr<std::vector<CheckpointLine>> ReadCheckpointFile(FileSystem* fs,
                                                               const std::string& path,
                                                               int expected_version,
                                                               size_t fields_per_entry) {
  if (!fs->Exists(path)) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs, path));
  auto bad = [&](absl::string_view why) {
    return CorruptionError(absl::StrCat("malformed checkpoint ", path, ": ", why));
  };
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  int version;
  size_t count;
  if (lines.size() < 2 || !absl::SimpleAtoi(lines[0], &version) ||
      !absl::SimpleAtoi(lines[1], &count)) {
    return bad("missing version or count line");
  }
  if (version != expected_version) return bad(absl::StrCat("unsupported version ", version));
  if (lines.size() - 2 != count) {
    return bad(absl::StrCat("count says ", count, " entries, file has ", lines.size() - 2));
  }
  std::vector<CheckpointLine> entries;
  for (size_t i = 2; i < lines.size(); ++i) {
    CheckpointLine fields = absl::StrSplit(lines[i], ' ');
    if (fields.size() != fields_per_entry) {
      return bad(absl::StrCat("line ", i + 1, " has ", fields.size(), " fields"));
    }
    entries.push_back(std::move(fields));
  }
  return entries;
}

}  // namespace strata
