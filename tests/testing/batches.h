// Helpers for building test batches.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "log/batch_builder.h"

namespace strata::testing {

// A batch of `count` records "key-<i>" -> "value-<i>-<padding>" starting at timestamp `ts`.
inline std::string MakeBatch(int count, int64_t ts = 1'700'000'000'000, size_t value_bytes = 16,
                             Compression codec = Compression::kNone, int first = 0) {
  RecordBatchBuilder b({.compression = codec});
  for (int i = first; i < first + count; ++i) {
    std::string value = absl::StrCat("value-", i, "-");
    if (value.size() < value_bytes) value.append(value_bytes - value.size(), 'x');
    b.Add(absl::StrCat("key-", i), value, ts + i);
  }
  return *b.Build();
}

inline std::span<uint8_t> Mutable(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

}  // namespace strata::testing
