// Producer ids for InitProducerId, unique across restarts: ids are handed out from blocks whose
// end is persisted (`<data-dir>/__strata_metadata/producer-id-block`, a checkpoint file holding
// the first id of the next block) before any id of the block is used. A restart skips the rest
// of the current block. In a cluster a block source (ClaimIdBlock over the MetadataStore) hands
// out the blocks, so no two brokers ever give the same id. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
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
  // Returns the first id of a newly claimed block of `size` ids, none below `min_start`.
  using BlockSource = std::function<absl::StatusOr<int64_t>(int64_t min_start, int64_t size)>;
  void set_block_source(BlockSource source) {
    absl::MutexLock lock(&mu_);
    source_ = std::move(source);
  }

 private:
  ProducerIds(FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  FileSystem* fs_;
  std::string path_;
  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t block_end_ ABSL_GUARDED_BY(mu_) = 0;  // exclusive; persisted
  BlockSource source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
