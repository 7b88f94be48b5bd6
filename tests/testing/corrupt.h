// Corruption helpers for recovery tests (after LevelDB's log_test: SetByte, ShrinkSize, ...).
#pragma once

#include <string>

#include "common/bytes.h"
#include "common/file.h"

namespace strata::testing {

inline std::string ReadAll(const std::string& path) {
  auto s = ReadFileToString(FileSystem::Default(), path);
  return s.ok() ? *s : std::string();
}

inline void WriteAll(const std::string& path, const std::string& contents) {
  auto f = FileSystem::Default()->Open(path, OpenMode::kCreateTruncate);
  if (f.ok()) (void)(*f)->WriteAt(0, AsBytes(contents));
}

inline void XorByte(const std::string& path, uint64_t position, uint8_t mask) {
  std::string s = ReadAll(path);
  s[position] = static_cast<char>(s[position] ^ mask);
  WriteAll(path, s);
}

inline void SetBytes(const std::string& path, uint64_t position, const std::string& bytes) {
  std::string s = ReadAll(path);
  s.replace(position, bytes.size(), bytes);
  WriteAll(path, s);
}

inline void ShrinkTo(const std::string& path, uint64_t size) {
  auto f = FileSystem::Default()->Open(path, OpenMode::kReadWrite);
  if (f.ok()) (void)(*f)->Truncate(size);
}

inline uint64_t SizeOf(const std::string& path) {
  auto s = FileSystem::Default()->FileSize(path);
  return s.ok() ? *s : 0;
}

}  // namespace strata::testing
