// Topic metadata of a single broker, persisted in the data directory (until replication brings
// a MetadataStore): one file per topic, `<data-dir>/__strata_metadata/topics/<topic>`, in
// .properties form (docs/formats/topic-metadata.md):
//
//   version=1
//   id=6c1f0d2e8a5b4c3d9e7f011223344556
//   partitions=3
//   config.retention.ms=3600000
//
// Writes are crash-safe (temporary file, fsync, rename). Thread-safe.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"

namespace strata::server {

using TopicId = std::array<uint8_t, 16>;

struct TopicInfo {
  std::string name;
  TopicId id{};
  int32_t partitions = 0;
  std::map<std::string, std::string> configs;  // overrides only
};

// Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
absl::Status ValidateTopicName(absl::string_view name);
std::string TopicIdHex(const TopicId& id);

class TopicStore {
 public:
  static constexpr char kDir[] = "__strata_metadata";

  static absl::StatusOr<std::unique_ptr<TopicStore>> Open(FileSystem* fs,
                                                          const std::string& data_dir);
  std::optional<TopicInfo> Get(absl::string_view name) const;
  std::vector<TopicInfo> List() const;
  // Creates or replaces the topic's record.
  absl::Status Put(const TopicInfo& topic);
  absl::Status Remove(absl::string_view name);
  static TopicId NewId();

 private:
  TopicStore(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  FileSystem* fs_;
  std::string dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, TopicInfo, std::less<>> topics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
