// Shared helpers for the benchmarks: a scratch directory on the filesystem under test, batches
// of a given size, and timing.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "log/batch_builder.h"

namespace strata::bench {

// STRATA_BENCH_DIR (default: build/bench-scratch under the working directory) — the benchmarks
// write there, and raw-write baselines write to the same place so the ratios compare like with
// like. Removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = getenv("STRATA_BENCH_DIR");
    std::string root = base && *base ? base : "build/bench-scratch";
    (void)FileSystem::Default()->CreateDirs(root);
    std::string tmpl = root + "/run-XXXXXX";
    path_ = mkdtemp(tmpl.data()) ? tmpl : root;
  }
  ~ScratchDir() { (void)RemoveTree(FileSystem::Default(), path_); }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

// One uncompressed batch of about `batch_bytes`, made of records of up to 1 KiB.
inline std::string BatchOfSize(size_t batch_bytes) {
  size_t overhead = 61 + 16;  // batch header, and per record: key, varints
  size_t record = std::min<size_t>(1024, batch_bytes - overhead);
  size_t count = std::max<size_t>(1, (batch_bytes - 61) / (record + 16));
  RecordBatchBuilder b;
  std::string value(record, 'x');
  for (size_t i = 0; i < count; ++i) b.Add(absl::StrCat("key-", i), value, 1'700'000'000'000 + i);
  return *b.Build();
}

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace strata::bench
