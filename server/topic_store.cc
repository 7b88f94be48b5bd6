#include "server/topic_store.h"

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata::server {

absl::Status ValidateTopicName(absl::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("illegal topic name '", name, "'"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("topic name '", name, "' has a character other than [a-zA-Z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

std::string TopicIdHex(const TopicId& id) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
}

TopicId TopicStore::NewId() {
  static std::mt19937_64 rng(std::random_device{}());
  static absl::Mutex mu;
  absl::MutexLock lock(&mu);
  TopicId id;
  for (auto& b : id) b = static_cast<uint8_t>(rng());
  return id;
}

namespace {

std::string Encode(const TopicInfo& t) {
  std::string out =
      absl::StrCat("version=1\nid=", TopicIdHex(t.id), "\npartitions=", t.partitions, "\n");
  for (const auto& [k, v] : t.configs) absl::StrAppend(&out, "config.", k, "=", v, "\n");
  return out;
}

absl::StatusOr<TopicInfo> Decode(absl::string_view name, absl::string_view text) {
  TopicInfo t;
  t.name = std::string(name);
  bool has_version = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return CorruptionError(absl::StrCat("topic ", name));
    absl::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "version") {
      has_version = value == "1";
    } else if (key == "id") {
      std::string bytes = absl::HexStringToBytes(value);
      if (bytes.size() != 16) return CorruptionError(absl::StrCat("topic ", name, ": bad id"));
      std::copy(bytes.begin(), bytes.end(), t.id.begin());
    } else if (key == "partitions") {
      if (!absl::SimpleAtoi(value, &t.partitions) || t.partitions < 1) {
        return CorruptionError(absl::StrCat("topic ", name, ": bad partition count"));
      }
    } else if (absl::StartsWith(key, "config.")) {
      t.configs[std::string(key.substr(7))] = std::string(value);
    }
  }
  if (!has_version || t.partitions < 1) {
    return CorruptionError(absl::StrCat("topic ", name, ": missing version or partitions"));
  }
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TopicStore>> TopicStore::Open(FileSystem* fs,
                                                             const std::string& data_dir) {
  std::string dir = JoinPath(JoinPath(data_dir, kDir), "topics");
  RETURN_IF_ERROR(fs->CreateDirs(dir));
  std::unique_ptr<TopicStore> store(new TopicStore(fs, dir));
  ASSIGN_OR_RETURN(auto names, fs->ListDir(dir));
  absl::MutexLock lock(&store->mu_);
  for (const auto& name : names) {
    if (absl::EndsWith(name, ".tmp")) {
      RETURN_IF_ERROR(fs->Remove(JoinPath(dir, name)));
      continue;
    }
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs, JoinPath(dir, name)));
    ASSIGN_OR_RETURN(TopicInfo t, Decode(name, text));
    store->topics_[name] = std::move(t);
  }
  return store;
}

std::optional<TopicInfo> TopicStore::Get(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::vector<TopicInfo> TopicStore::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

absl::Status TopicStore::Put(const TopicInfo& topic) {
  RETURN_IF_ERROR(ValidateTopicName(topic.name));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(WriteFileAtomically(fs_, JoinPath(dir_, topic.name), Encode(topic)));
  topics_[topic.name] = topic;
  return absl::OkStatus();
}

absl::Status TopicStore::Remove(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return absl::NotFoundError(absl::StrCat("topic ", name));
  RETURN_IF_ERROR(fs_->Remove(JoinPath(dir_, std::string(name))));
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  topics_.erase(it);
  return absl::OkStatus();
}

}  // namespace strata::server
