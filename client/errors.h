// Kafka error codes as absl::Status values for client code.
//
//   if (p.error_code != 0) return KafkaError(p.error_code, absl::StrCat("Produce ", topic));
//   ...
//   if (KafkaErrorOf(status) == protocol::ErrorCode::kTopicAlreadyExists) { /* fine */ }
//
// The message always carries Kafka's error name ("CreateTopics orders: TOPIC_ALREADY_EXISTS:
// ...") and the code is attached as a payload, so callers can branch on the exact Kafka error.
// The canonical code says what kind of failure it is: a retriable Kafka error is Unavailable,
// UNKNOWN_TOPIC_OR_PARTITION and GROUP_ID_NOT_FOUND NotFound, TOPIC_ALREADY_EXISTS
// AlreadyExists, OFFSET_OUT_OF_RANGE OutOfRange, invalid-input errors InvalidArgument, anything
// else FailedPrecondition (NON_EMPTY_GROUP, UNKNOWN_MEMBER_ID, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "protocol/errors.h"

namespace strata::client {

// A Status for a non-zero Kafka error code. `context` names the operation and resource;
// `detail` is the broker's error message, if it sent one.
absl::Status KafkaError(int16_t code, absl::string_view context,
                        const std::optional<std::string>& detail = std::nullopt);

inline absl::Status KafkaError(protocol::ErrorCode code, absl::string_view context,
                               const std::optional<std::string>& detail = std::nullopt) {
  return KafkaError(static_cast<int16_t>(code), context, detail);
}

// The Kafka error code a Status made by KafkaError carries; nullopt for any other Status.
std::optional<protocol::ErrorCode> KafkaErrorOf(const absl::Status& status);

// True for errors worth retrying: retriable Kafka errors and transport failures (Unavailable,
// DeadlineExceeded).
bool IsRetriableError(const absl::Status& status);

}  // namespace strata::client
