// A temporary directory for one test, removed with everything in it when the object dies.
#pragma once

#include <stdlib.h>

#include <string>

#include "common/file.h"

namespace strata::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/strata-test-XXXXXX";
    char* p = mkdtemp(tmpl.data());
    path_ = p ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) IgnoreRemove(RemoveTree(FileSystem::Default(), path_));
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return JoinPath(path_, name); }

 private:
  static void IgnoreRemove(const absl::Status&) {}
  std::string path_;
};

}  // namespace strata::testing
