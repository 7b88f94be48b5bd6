// Kafka errors as Status values, and host:port parsing.
#include "client/errors.h"

#include <gtest/gtest.h>

#include "client/connection.h"

namespace strata::client {
namespace {

using protocol::ErrorCode;

TEST(KafkaErrorTest, CarriesTheNameTheCodeAndAKind) {
  absl::Status s = KafkaError(ErrorCode::kTopicAlreadyExists, "CreateTopics orders", "exists");
  EXPECT_TRUE(absl::IsAlreadyExists(s));
  EXPECT_EQ(s.message(), "CreateTopics orders: TOPIC_ALREADY_EXISTS: exists");
  EXPECT_EQ(KafkaErrorOf(s), ErrorCode::kTopicAlreadyExists);
  EXPECT_FALSE(IsRetriableError(s));

  s = KafkaError(static_cast<int16_t>(6), "Produce t-0");
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(s.message(), "Produce t-0: NOT_LEADER_OR_FOLLOWER");
  EXPECT_TRUE(IsRetriableError(s));

  EXPECT_TRUE(absl::IsNotFound(KafkaError(ErrorCode::kUnknownTopicOrPartition, "x")));
  EXPECT_TRUE(absl::IsNotFound(KafkaError(ErrorCode::kGroupIdNotFound, "x")));
  EXPECT_TRUE(absl::IsFailedPrecondition(KafkaError(ErrorCode::kNonEmptyGroup, "x")));
  EXPECT_TRUE(absl::IsOutOfRange(KafkaError(ErrorCode::kOffsetOutOfRange, "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(KafkaError(ErrorCode::kInvalidPartitions, "x")));
  EXPECT_TRUE(absl::IsFailedPrecondition(KafkaError(ErrorCode::kOutOfOrderSequenceNumber, "x")));
  EXPECT_EQ(KafkaErrorOf(absl::UnavailableError("plain")), std::nullopt);
  EXPECT_TRUE(IsRetriableError(absl::UnavailableError("socket closed")));
  EXPECT_TRUE(IsRetriableError(absl::DeadlineExceededError("timeout")));
  EXPECT_FALSE(IsRetriableError(absl::InvalidArgumentError("bad")));
}

TEST(HostPortTest, Parses) {
  auto hp = ParseHostPort("localhost:9092");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "localhost");
  EXPECT_EQ(hp->port, 9092);
  hp = ParseHostPort("[::1]:19092");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->ToString(), "[::1]:19092");
  EXPECT_FALSE(ParseHostPort("nohost").ok());
  EXPECT_FALSE(ParseHostPort("h:99999").ok());
  EXPECT_FALSE(ParseHostPort(":1").ok());
  auto list = ParseBootstrap("a:1, b:2");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<HostPort>{{"a", 1}, {"b", 2}}));
  EXPECT_FALSE(ParseBootstrap("").ok());
}

}  // namespace
}  // namespace strata::client
