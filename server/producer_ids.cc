#include "server/producer_ids.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/checkpoint_file.h"
#include "server/topic_store.h"

namespace strata::server {

absl::StatusOr<std::unique_ptr<ProducerIds>> ProducerIds::Open(FileSystem* fs,
                                                               const std::string& data_dir) {
  std::string dir = JoinPath(data_dir, TopicStore::kDir);
  RETURN_IF_ERROR(fs->CreateDirs(dir));
  std::unique_ptr<ProducerIds> ids(new ProducerIds(fs, JoinPath(dir, "producer-id-block")));
  auto lines = ReadCheckpointFile(fs, ids->path_, 0, 1);
  int64_t next = 0;
  if (lines.ok() && lines->size() == 1) {
    if (!absl::SimpleAtoi((*lines)[0][0], &next) || next < 0) {
      return CorruptionError(absl::StrCat("bad ", ids->path_));
    }
  } else if (!absl::IsNotFound(lines.status())) {
    return lines.ok() ? CorruptionError(absl::StrCat("bad ", ids->path_)) : lines.status();
  }
  absl::MutexLock lock(&ids->mu_);
  ids->next_ = next;
  ids->block_end_ = next;  // the first Next() claims a new block
  return ids;
}

absl::StatusOr<int64_t> ProducerIds::Next() {
  absl::MutexLock lock(&mu_);
  if (next_ >= block_end_) {
    if (source_) {
      ASSIGN_OR_RETURN(next_, source_(next_, kBlockSize));
    }
    int64_t end = next_ + kBlockSize;
    RETURN_IF_ERROR(WriteCheckpointFile(fs_, path_, 0, {{absl::StrCat(end)}}));
    block_end_ = end;
  }
  return next_++;
}

}  // namespace strata::server
