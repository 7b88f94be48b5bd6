// Status helpers shared by every module.
//
// Errors are values: functions that can fail return absl::Status or absl::StatusOr<T>. Abseil
// 20220623 (Debian 12) has no RETURN_IF_ERROR / ASSIGN_OR_RETURN, so they live here.
//
//   absl::StatusOr<Segment> Open(...) {
//     RETURN_IF_ERROR(fs->CreateDirs(dir));
//     ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kReadWrite));
//     ...
//   }
//
// I/O errors carry a kind (after RocksDB's IOStatus) expressed through the canonical code:
//   no space left      -> kResourceExhausted   (IsNoSpace)
//   corruption / loss  -> kDataLoss            (IsCorruption)
//   transient / retry  -> kUnavailable         (IsRetryable)
// Ignoring an error is a visible, greppable call: IgnoreError(status, "why").
#pragma once

#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status strata_status_ = (expr);          \
    if (!strata_status_.ok()) return strata_status_; \
  } while (0)

// `lhs` may be a declaration (`auto x`) or an existing lvalue.
#define ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL_(STRATA_CONCAT_(strata_statusor_, __LINE__), lhs, expr)

#define STRATA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

namespace strata {

// Builds a status from an errno value: ENOSPC/EDQUOT -> ResourceExhausted, EIO -> DataLoss is not
// implied (EIO may be transient), EAGAIN/EINTR -> Unavailable, ENOENT -> NotFound, others Internal.
absl::Status ErrnoToStatus(int errno_value, absl::string_view context);

inline bool IsNoSpace(const absl::Status& s) { return absl::IsResourceExhausted(s); }
inline bool IsCorruption(const absl::Status& s) { return absl::IsDataLoss(s); }
inline bool IsRetryable(const absl::Status& s) { return absl::IsUnavailable(s); }

// Builds a corruption status (kDataLoss) with a message.
absl::Status CorruptionError(absl::string_view message);

// Marks a deliberately ignored error. `why` documents the decision at the call site.
inline void IgnoreError(const absl::Status& /*status*/, absl::string_view /*why*/) {}

}  // namespace strata
