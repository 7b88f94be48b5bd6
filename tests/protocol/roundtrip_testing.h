// Support for the generated round-trip tests (protocol/codegen/cpp_tests.py emits one test file
// per message pair, with Fill and ClearAbsent overloads for every struct in namespace
// strata::protocol, the messages' own, so that argument-dependent lookup finds them here).
//
//   ExpectRoundTripsInEveryVersion<ProduceRequest>();
//
// For every valid version, once with non-null values and once with nullable fields null where
// the version allows it: fill every field with a distinct non-default value, encode, decode,
// compare with the filled message minus the fields the version lacks, re-encode to the same
// bytes, and check that every strict prefix of the encoding fails to decode.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "protocol/reader.h"
#include "protocol/types.h"
#include "protocol/writer.h"

namespace strata::protocol::test {

// Deterministic field values: a counter, so each run fills the same message.
class FillContext {
 public:
  explicit FillContext(bool null_values) : nulls(null_values) {}

  // Set nullable fields to null (where the version allows null).
  const bool nulls;

  template <typename T>
  T Next(T avoid = T{}) {
    auto v = static_cast<T>(++counter_ % 100 + 1);
    return v == avoid ? static_cast<T>(v + 1) : v;
  }
  std::string NextString() { return absl::StrCat("s", ++counter_); }
  std::string NextBytes() { return absl::StrCat(std::string("\0\xff", 2), ++counter_); }
  Uuid NextUuid() {
    Uuid u{};
    for (auto& b : u) b = static_cast<uint8_t>(++counter_);
    return u;
  }
  // A view over bytes this context owns: the message must not outlive the context.
  Records NextRecords() {
    const std::string& s = records_.emplace_back(absl::StrCat("records-", ++counter_));
    return Records{.bytes = AsBytes(s)};
  }

 private:
  uint32_t counter_ = 0;
  std::deque<std::string> records_;
};

template <typename M>
void ExpectRoundTrip(int16_t version, bool nulls) {
  SCOPED_TRACE(absl::StrCat(M::kName, " v", version, nulls ? " with nulls" : ""));
  FillContext ctx(nulls);
  M filled;
  Fill(&filled, version, ctx);
  std::string bytes;
  Writer w(&bytes);
  filled.Encode(w, version);

  M expected = filled;
  ClearAbsent(&expected, version);
  M decoded;
  Reader r(AsBytes(bytes));
  ASSERT_TRUE(decoded.Decode(r, version).ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(decoded == expected);

  std::string again;
  Writer w2(&again);
  decoded.Encode(w2, version);
  EXPECT_EQ(again, bytes);

  for (size_t n = 0; n < bytes.size(); ++n) {
    M partial;
    Reader pr(AsBytes(absl::string_view(bytes).substr(0, n)));
    ASSERT_FALSE(partial.Decode(pr, version).ok()) << "prefix of " << n << " bytes decoded";
  }
}

template <typename M>
void ExpectRoundTripsInEveryVersion() {
  for (int v = M::kMinVersion; v <= M::kMaxVersion; ++v) {
    ExpectRoundTrip<M>(static_cast<int16_t>(v), /*nulls=*/false);
    ExpectRoundTrip<M>(static_cast<int16_t>(v), /*nulls=*/true);
  }
  M m;
  Reader r({});
  EXPECT_TRUE(absl::IsUnimplemented(m.Decode(r, M::kMaxVersion + 1))) << M::kName;
  EXPECT_TRUE(absl::IsUnimplemented(m.Decode(r, M::kMinVersion - 1))) << M::kName;
}

}  // namespace strata::protocol::test
