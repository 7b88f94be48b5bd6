// The API table, header version rules, and error codes against the vendored error-codes.tsv.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "common/bytes.h"
#include "protocol/api.h"
#include "protocol/api_versions.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "protocol/header.h"
#include "protocol/offset_delete.h"
#include "protocol/produce.h"
#include "tests/protocol/hex.h"

#ifndef STRATA_PROTOCOL_SCHEMA_DIR
#error "STRATA_PROTOCOL_SCHEMA_DIR must be defined"
#endif

namespace strata::protocol::test {
namespace {

TEST(ApiTest, TableMatchesTheGeneratedMessages) {
  EXPECT_EQ(AllApis().size(), 33u);
  int16_t previous = -1;
  for (const ApiInfo& api : AllApis()) {
    EXPECT_GT(static_cast<int16_t>(api.key), previous) << "ordered by key";
    previous = static_cast<int16_t>(api.key);
    EXPECT_EQ(FindApi(api.key), &api);
  }
  const ApiInfo* produce = FindApi(ApiKey::kProduce);
  ASSERT_NE(produce, nullptr);
  EXPECT_STREQ(produce->name, "Produce");
  EXPECT_EQ(produce->min_version, ProduceRequest::kMinVersion);
  EXPECT_EQ(produce->max_version, ProduceRequest::kMaxVersion);
  EXPECT_EQ(produce->first_flexible_version, 9);
  EXPECT_EQ(FindApi(ApiKey::kFetch)->max_version, FetchResponse::kMaxVersion);
  EXPECT_EQ(FindApi(ApiKey::kOffsetDelete)->first_flexible_version,
            OffsetDeleteRequest::kFirstFlexibleVersion);
  EXPECT_EQ(OffsetDeleteRequest::kFirstFlexibleVersion, -1);
  EXPECT_FALSE(FindApi(ApiKey::kListOffsets)->latest_version_unstable) << "false in Kafka 3.9";
  EXPECT_EQ(FindApi(7), nullptr);
  EXPECT_EQ(FindApi(-1), nullptr);
  EXPECT_EQ(FindApi(1000), nullptr);
}

TEST(ApiTest, HeaderVersions) {
  EXPECT_EQ(RequestHeaderVersion(0, 8), 1);
  EXPECT_EQ(RequestHeaderVersion(0, 9), 2);
  EXPECT_EQ(RequestHeaderVersion(18, 3), 2);
  EXPECT_EQ(RequestHeaderVersion(18, 9), 2) << "a too-new ApiVersions is still flexible";
  EXPECT_EQ(RequestHeaderVersion(47, 0), 1) << "OffsetDelete is never flexible";
  EXPECT_EQ(RequestHeaderVersion(7, 0), 0) << "ControlledShutdown v0";
  EXPECT_EQ(RequestHeaderVersion(7, 1), 1);
  EXPECT_EQ(RequestHeaderVersion(1234, 0), 1) << "unknown api";
  EXPECT_EQ(ResponseHeaderVersion(18, 3), 0) << "ApiVersions always v0";
  EXPECT_EQ(ResponseHeaderVersion(1, 11), 0);
  EXPECT_EQ(ResponseHeaderVersion(1, 12), 1);
  EXPECT_EQ(ResponseHeaderVersion(22, 2), 1);
}

TEST(HeaderTest, DecodesHeadersOfUnknownApisSoTheCallerCanAnswer) {
  const std::string frame = Hex("03e8 | 0005 | 0000002a | ffff | 0102");
  Reader r(AsBytes(frame));
  auto h = RequestHeader::Decode(r);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->api_key, 1000);
  EXPECT_EQ(h->correlation_id, 42);
  EXPECT_FALSE(h->client_id.has_value());
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(HeaderTest, TruncatedHeadersFail) {
  const std::string frame = Hex("0012 | 0003 | 00000001 | 0003 616263 | 00");
  for (size_t n = 0; n < frame.size(); ++n) {
    Reader r(AsBytes(frame).first(n));
    EXPECT_FALSE(RequestHeader::Decode(r).ok()) << n;
  }
}

TEST(ErrorsTest, MatchTheVendoredTable) {
  std::ifstream in(std::string(STRATA_PROTOCOL_SCHEMA_DIR) + "/error-codes.tsv");
  ASSERT_TRUE(in.good());
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("code", 0) == 0) continue;
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 3u) << line;
    auto code = static_cast<ErrorCode>(std::stoi(cols[0]));
    EXPECT_EQ(ErrorName(code), cols[1]);
    EXPECT_EQ(IsRetriable(code), cols[2] == "yes") << cols[1];
    ++rows;
  }
  EXPECT_EQ(rows, 129);
  EXPECT_EQ(static_cast<int16_t>(ErrorCode::kUnknownTopicOrPartition), 3);
  EXPECT_EQ(static_cast<int16_t>(ErrorCode::kUnsupportedVersion), 35);
  EXPECT_STREQ(ErrorName(static_cast<ErrorCode>(500)), "UNKNOWN_ERROR_CODE");
  EXPECT_TRUE(IsRetriable(ErrorCode::kNotLeaderOrFollower));
  EXPECT_FALSE(IsRetriable(ErrorCode::kNone));
}

}  // namespace
}  // namespace strata::protocol::test
