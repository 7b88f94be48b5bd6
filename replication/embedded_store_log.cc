// EmbeddedMetadataStore: recovery, appends and rewrites of metadata.log (format in
// replication/metadata_log.h and docs/formats/metadata-store.md).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "replication/embedded_store_impl.h"

namespace strata {

using metadata_log::RecordType;

absl::Status EmbeddedMetadataStore::Impl::CreateLog() {
  // The directory entry of metadata/ itself must survive a crash before the file inside it does.
  RETURN_IF_ERROR(options_.fs->SyncDir(DirName(options_.dir)));
  std::string contents = metadata_log::EncodeFileHeader();
  Record state{.type = RecordType::kState, .revision = 1, .lease = 1, .compact_revision = 1};
  metadata_log::AppendRecord(state, &contents);
  return WriteFileAtomically(options_.fs, path_, contents);
}

absl::Status EmbeddedMetadataStore::Impl::RecoverLog() {
  ASSIGN_OR_RETURN(auto file, options_.fs->Open(path_, OpenMode::kReadWrite));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string bytes(size, '\0');
  auto* data = reinterpret_cast<uint8_t*>(bytes.data());
  for (uint64_t pos = 0; pos < size;) {
    ASSIGN_OR_RETURN(size_t n, file->ReadAt(pos, {data + pos, size - pos}));
    if (n == 0) return absl::DataLossError(absl::StrCat(path_, ": shrank while being read"));
    pos += n;
  }
  RETURN_IF_ERROR(metadata_log::CheckFileHeader(AsBytes(bytes)));
  auto body = AsBytes(bytes).subspan(metadata_log::kFileHeaderSize);
  metadata_log::ScanResult scan = metadata_log::ScanRecords(body);
  if (scan.records.empty() || scan.records.front().type != RecordType::kState) {
    // The file is installed complete (header + state) by rename, so this is not a torn write.
    return absl::DataLossError(absl::StrCat(path_, ": no state record: ", scan.torn_reason));
  }
  for (const Record& record : scan.records) Apply(record, nullptr);
  file_size_ = metadata_log::kFileHeaderSize + scan.valid_bytes;
  if (scan.torn) {
    LOG_EVENT(Warn, "metadata.truncated_tail")
        .Kv("path", path_)
        .Kv("valid_bytes", file_size_)
        .Kv("dropped_bytes", size - file_size_)
        .Kv("reason", scan.torn_reason);
    RETURN_IF_ERROR(file->Truncate(file_size_));
    RETURN_IF_ERROR(file->Sync());
  }
  file_ = std::move(file);
  rewrite_at_bytes_ = std::max<uint64_t>(options_.rewrite_min_bytes, 4 * Snapshot().size());
  LOG_EVENT(Info, "metadata.recovered")
      .Kv("path", path_)
      .Kv("revision", revision_)
      .Kv("keys", kvs_.size())
      .Kv("records", scan.records.size());
  return absl::OkStatus();
}

absl::Status EmbeddedMetadataStore::Impl::Commit(const std::vector<Record>& records) {
  if (!broken_.ok()) return broken_;
  if (records.empty()) return absl::OkStatus();
  std::string buf;
  for (const Record& record : records) metadata_log::AppendRecord(record, &buf);
  absl::Status s = file_->WriteAt(file_size_, AsBytes(buf));
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    // Some of `buf` may be on disk: recovery decides at the next Open. Until then, refuse.
    broken_ = absl::Status(s.code(), absl::StrCat("metadata store needs a reopen after a failed "
                                                  "write: ",
                                                  s.message()));
    LOG_EVENT(Error, "metadata.write_failed").Kv("path", path_).Kv("error", s.ToString());
    return broken_;
  }
  file_size_ += buf.size();
  std::vector<WatchEvent> events;
  for (const Record& record : records) Apply(record, &events);
  Publish(events);
  // The records are durable whatever the rewrite does; a failed rewrite marks the store broken.
  IgnoreError(MaybeRewrite(), "the commit is durable; a failed rewrite sets broken_");
  return absl::OkStatus();
}

void EmbeddedMetadataStore::Impl::Apply(const Record& record, std::vector<WatchEvent>* events) {
  switch (record.type) {
    case RecordType::kState:
      revision_ = record.revision;
      compact_revision_ = record.compact_revision;
      next_lease_ = std::max(next_lease_, record.lease);
      history_.clear();
      return;
    case RecordType::kPut:
      return ApplyPut(record, events);
    case RecordType::kDelete:
      return ApplyDelete(record, events);
    case RecordType::kLeaseGrant:
      next_lease_ = std::max(next_lease_, record.lease + 1);
      return;
    case RecordType::kCompact:
      return DropHistoryBefore(record.revision);
  }
}

void EmbeddedMetadataStore::Impl::ApplyPut(const Record& record, std::vector<WatchEvent>* events) {
  KeyValue kv{.key = record.key,
              .value = record.value,
              .create_revision = record.create_revision,
              .mod_revision = record.revision,
              .version = record.version,
              .lease = record.lease};
  auto it = kvs_.find(record.key);
  if (it != kvs_.end() && it->second.lease != kNoLease && it->second.lease != record.lease) {
    if (auto old = leases_.find(it->second.lease); old != leases_.end()) {
      old->second.keys.erase(record.key);
    }
  }
  if (record.lease != kNoLease) {
    if (auto lease = leases_.find(record.lease); lease != leases_.end()) {
      lease->second.keys.insert(record.key);
    }
  }
  revision_ = std::max(revision_, record.revision);
  // Puts of a rewritten file's snapshot are older than its compact revision: not history.
  if (record.revision >= compact_revision_) {
    WatchEvent event{.type = WatchEvent::Type::kPut, .kv = kv};
    AddHistory(event);
    if (events != nullptr) events->push_back(std::move(event));
  }
  kvs_[record.key] = std::move(kv);
}

void EmbeddedMetadataStore::Impl::ApplyDelete(const Record& record,
                                              std::vector<WatchEvent>* events) {
  auto it = kvs_.find(record.key);
  if (it != kvs_.end()) {
    if (auto lease = leases_.find(it->second.lease); lease != leases_.end()) {
      lease->second.keys.erase(record.key);
    }
    kvs_.erase(it);
  }
  revision_ = std::max(revision_, record.revision);
  WatchEvent event{.type = WatchEvent::Type::kDelete,
                   .kv = {.key = record.key, .mod_revision = record.revision}};
  AddHistory(event);
  if (events != nullptr) events->push_back(std::move(event));
}

void EmbeddedMetadataStore::Impl::AddHistory(const WatchEvent& event) {
  history_.push_back(event);
  while (history_.size() > options_.max_history_events) {
    compact_revision_ = history_.front().kv.mod_revision + 1;
    history_.pop_front();
  }
}

void EmbeddedMetadataStore::Impl::DropHistoryBefore(int64_t revision) {
  compact_revision_ = std::max(compact_revision_, revision);
  while (!history_.empty() && history_.front().kv.mod_revision < compact_revision_) {
    history_.pop_front();
  }
}

std::string EmbeddedMetadataStore::Impl::Snapshot() {
  std::string out = metadata_log::EncodeFileHeader();
  // Nothing before the snapshot is kept, so history restarts after it at the next Open.
  metadata_log::AppendRecord({.type = RecordType::kState,
                              .revision = revision_,
                              .lease = next_lease_,
                              .compact_revision = revision_ + 1},
                             &out);
  for (const auto& [key, kv] : kvs_) {
    metadata_log::AppendRecord({.type = RecordType::kPut,
                                .revision = kv.mod_revision,
                                .create_revision = kv.create_revision,
                                .version = kv.version,
                                .lease = kv.lease,
                                .key = key,
                                .value = kv.value},
                               &out);
  }
  return out;
}

absl::Status EmbeddedMetadataStore::Impl::MaybeRewrite() {
  if (file_size_ < rewrite_at_bytes_) return absl::OkStatus();
  std::string contents = Snapshot();
  absl::Status s = WriteFileAtomically(options_.fs, path_, contents);
  if (s.ok()) s = OpenForAppend();
  if (!s.ok()) {
    // The rename may have happened: file_ might name the replaced file. Stop until reopened.
    broken_ = absl::Status(s.code(), absl::StrCat("metadata log rewrite failed: ", s.message()));
    LOG_EVENT(Error, "metadata.rewrite_failed").Kv("path", path_).Kv("error", s.ToString());
    return broken_;
  }
  LOG_EVENT(Info, "metadata.rewritten")
      .Kv("path", path_)
      .Kv("old_bytes", file_size_)
      .Kv("new_bytes", contents.size());
  file_size_ = contents.size();
  rewrite_at_bytes_ = std::max<uint64_t>(options_.rewrite_min_bytes, 4 * contents.size());
  return absl::OkStatus();
}

absl::Status EmbeddedMetadataStore::Impl::OpenForAppend() {
  ASSIGN_OR_RETURN(file_, options_.fs->Open(path_, OpenMode::kReadWrite));
  return absl::OkStatus();
}

}  // namespace strata
