// strata group reset-offsets without a broker: its flags (topic selections, ISO-8601 times,
// scope and target) and how a new offset is chosen and clamped.
#include "tools/group_reset.h"

#include <gtest/gtest.h>

namespace strata::tools {
namespace {

using Kind = ResetTarget::Kind;

constexpr int64_t kT0Ms = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

TEST(ParseTopicSelectionTest, TopicsAndPartitions) {
  auto all = ParseTopicSelection("orders");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->topic, "orders");
  EXPECT_TRUE(all->partitions.empty());
  auto some = ParseTopicSelection("orders.v2:3,0,3");
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->topic, "orders.v2");
  EXPECT_EQ(some->partitions, (std::vector<int32_t>{3, 0})) << "duplicates dropped";
  for (const char* bad : {"", ":1", "orders:", "orders:1,", "orders:-1", "orders:a", "t:1;2"}) {
    EXPECT_FALSE(ParseTopicSelection(bad).ok()) << bad;
  }
}

TEST(ParseDateTimeMsTest, ZonesAndFractions) {
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20").value(), kT0Ms) << "no zone: UTC";
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20Z").value(), kT0Ms);
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20z").value(), kT0Ms);
  EXPECT_EQ(ParseDateTimeMs("2023-11-15T00:13:20+02:00").value(), kT0Ms);
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T17:43:20-04:30").value(), kT0Ms);
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20.5Z").value(), kT0Ms + 500);
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20.123").value(), kT0Ms + 123);
  EXPECT_EQ(ParseDateTimeMs("2023-11-14T22:13:20.123999+00:00").value(), kT0Ms + 123);
  EXPECT_EQ(ParseDateTimeMs("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(ParseDateTimeMs("2024-02-29T00:00:00Z").value(), 1'709'164'800'000) << "leap day";
  for (const char* bad :
       {"", "yesterday", "2023-11-14", "2023-11-14 22:13:20", "2023-11-14T22:13",
        "2023-13-01T00:00:00", "2023-02-30T00:00:00", "2023-11-14T24:00:01",
        "2023-11-14T22:13:20+2:00", "2023-11-14T22:13:20+25:00", "2023-11-14T22:13:20 UTC",
        "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"}) {
    auto ms = ParseDateTimeMs(bad);
    EXPECT_FALSE(ms.ok()) << bad << " -> " << ms.value_or(-1);
  }
}

TEST(NewOffsetTest, EachTargetClampedToTheLog) {
  // Log [10, 50), committed 30.
  auto at = [](Kind kind, int64_t value = 0, int64_t committed = 30, int64_t at_time = -1) {
    return NewOffset({kind, value}, committed, 10, 50, at_time);
  };
  EXPECT_EQ(at(Kind::kEarliest).value(), 10);
  EXPECT_EQ(at(Kind::kLatest).value(), 50);
  EXPECT_EQ(at(Kind::kOffset, 42).value(), 42);
  EXPECT_EQ(at(Kind::kOffset, 3).value(), 10);
  EXPECT_EQ(at(Kind::kOffset, 99).value(), 50);
  EXPECT_EQ(at(Kind::kShiftBy, -5).value(), 25);
  EXPECT_EQ(at(Kind::kShiftBy, -100).value(), 10);
  EXPECT_EQ(at(Kind::kShiftBy, 100).value(), 50);
  EXPECT_EQ(at(Kind::kShiftBy, INT64_MAX).value(), 50) << "no overflow";
  EXPECT_EQ(at(Kind::kShiftBy, 1, /*committed=*/5).value(), 10) << "committed below the log";
  EXPECT_TRUE(absl::IsFailedPrecondition(at(Kind::kShiftBy, 1, /*committed=*/-1).status()));
  EXPECT_EQ(at(Kind::kDateTime, kT0Ms, 30, /*at_time=*/17).value(), 17);
  EXPECT_EQ(at(Kind::kDateTime, kT0Ms, 30, /*at_time=*/-1).value(), 50) << "none: the end";
  EXPECT_EQ(NewOffset({Kind::kLatest, 0}, -1, 0, 0, -1).value(), 0) << "empty log";
}

absl::StatusOr<ResetOptions> Parse(const std::vector<std::string>& argv) {
  cli::Args args;
  RETURN_IF_ERROR(args.Parse(argv, {"all-topics", "to-earliest", "to-latest", "dry-run"},
                             {"to-offset", "shift-by", "to-datetime"}, {"topic"}));
  return ParseResetOptions(args);
}

TEST(ParseResetOptionsTest, ExactlyOneScopeAndOneTarget) {
  auto o = Parse({"--topic", "a:1", "--topic", "b", "--shift-by", "-3", "--dry-run"});
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->topics.size(), 2u);
  EXPECT_EQ(o->topics[1].topic, "b");
  EXPECT_FALSE(o->all_topics);
  EXPECT_EQ(o->target.kind, Kind::kShiftBy);
  EXPECT_EQ(o->target.value, -3);
  EXPECT_TRUE(o->dry_run);

  o = Parse({"--all-topics", "--to-datetime", "2023-11-14T22:13:20Z"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->all_topics);
  EXPECT_EQ(o->target.kind, Kind::kDateTime);
  EXPECT_EQ(o->target.value, kT0Ms);
  EXPECT_FALSE(o->dry_run);

  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--to-earliest"},
                                             {"--topic", "a", "--all-topics", "--to-earliest"},
                                             {"--topic", "a"},
                                             {"--topic", "a", "--to-earliest", "--to-latest"},
                                             {"--topic", "a", "--to-offset", "ten"},
                                             {"--topic", "a", "--to-datetime", "noon"},
                                             {"--topic", "a:", "--to-latest"}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(Parse(bad).status())) << bad[0] << " " << bad[1];
  }
}

}  // namespace
}  // namespace strata::tools
