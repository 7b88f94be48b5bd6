#include "client/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace strata::client {

namespace {

constexpr char kPayloadUrl[] = "strata.client/kafka-error-code";

absl::StatusCode CanonicalCode(protocol::ErrorCode code) {
  using protocol::ErrorCode;
  switch (code) {
    case ErrorCode::kUnknownTopicOrPartition:
    case ErrorCode::kGroupIdNotFound:
      return absl::StatusCode::kNotFound;
    case ErrorCode::kTopicAlreadyExists:
      return absl::StatusCode::kAlreadyExists;
    case ErrorCode::kOffsetOutOfRange:
      return absl::StatusCode::kOutOfRange;
    case ErrorCode::kRequestTimedOut:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorCode::kInvalidTopicException:
    case ErrorCode::kInvalidPartitions:
    case ErrorCode::kInvalidReplicationFactor:
    case ErrorCode::kInvalidReplicaAssignment:
    case ErrorCode::kInvalidConfig:
    case ErrorCode::kInvalidRequest:
    case ErrorCode::kInvalidRecord:
    case ErrorCode::kInvalidTimestamp:
    case ErrorCode::kInvalidRequiredAcks:
    case ErrorCode::kMessageTooLarge:
    case ErrorCode::kRecordListTooLarge:
      return absl::StatusCode::kInvalidArgument;
    case ErrorCode::kUnsupportedVersion:
    case ErrorCode::kUnsupportedCompressionType:
    case ErrorCode::kUnsupportedForMessageFormat:
      return absl::StatusCode::kUnimplemented;
    default:
      return protocol::IsRetriable(code) ? absl::StatusCode::kUnavailable
                                         : absl::StatusCode::kFailedPrecondition;
  }
}

}  // namespace

absl::Status KafkaError(int16_t code, absl::string_view context,
                        const std::optional<std::string>& detail) {
  auto kafka = static_cast<protocol::ErrorCode>(code);
  std::string message = absl::StrCat(context, ": ", protocol::ErrorName(kafka));
  if (detail.has_value() && !detail->empty()) absl::StrAppend(&message, ": ", *detail);
  absl::Status s(CanonicalCode(kafka), message);
  s.SetPayload(kPayloadUrl, absl::Cord(absl::StrCat(code)));
  return s;
}

std::optional<protocol::ErrorCode> KafkaErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);  // absl::optional here, not std::
  int code;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return static_cast<protocol::ErrorCode>(code);
}

bool IsRetriableError(const absl::Status& status) {
  if (std::optional<protocol::ErrorCode> code = KafkaErrorOf(status)) {
    return protocol::IsRetriable(*code);
  }
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace strata::client
