// Typed reasons a Log refuses an append, carried as a payload on the absl::Status so that the
// server can map them to Kafka error codes (only server/ speaks Kafka error codes).
//
//   if (auto kind = GetAppendError(status)) { switch (*kind) { ... } }
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strata {

enum class AppendError {
  kOutOfOrderSequence,   // a gap in an idempotent producer's sequence numbers
  kInvalidProducerEpoch, // an older epoch than the partition has seen for that producer
  kTransactionsUnsupported,
};

absl::Status MakeAppendError(AppendError kind, absl::string_view message);
std::optional<AppendError> GetAppendError(const absl::Status& status);

}  // namespace strata
