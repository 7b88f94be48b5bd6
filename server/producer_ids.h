// Producer ids for InitProducerId, unique across restarts: ids are handed out from blocks whose
// end is persisted (`<data-dir>/__strata_metadata/producer-id-block`, a checkpoint file holding
// the first id of the next block) before any id of the block is used. A restart skips the rest
// of the current block. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"

namespace strata::server {

class ProducerIds {
 public:
  static constexpr int64_t kBlockSize = 1000;
  static absl::StatusOr<std::unique_ptr<ProducerIds>> Open(FileSystem* fs,
                                                           const std::string& data_dir);
  absl::StatusOr<int64_t> Next();

 private:
  ProducerIds(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  FileSystem* fs_;
  std::string path_;
  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t block_end_ ABSL_GUARDED_BY(mu_) = 0;  // exclusive; persisted
};

}  // namespace strata::server
