// Early-return helpers for absl::Status / absl::StatusOr, used across all FL-Sailer libraries.
#ifndef FLSAILER_LIBS_COMMON_STATUS_MACROS_H_
#define FLSAILER_LIBS_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FLS_STATUS_CONCAT_INNER_(a, b) a##b
#define FLS_STATUS_CONCAT_(a, b) FLS_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define FLS_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    absl::Status fls_status_ = (expr);             \
    if (!fls_status_.ok()) return fls_status_;     \
  } while (0)

// `FLS_ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns x from a StatusOr, or returns its error.
#define FLS_ASSIGN_OR_RETURN(lhs, expr) \
  FLS_ASSIGN_OR_RETURN_IMPL_(FLS_STATUS_CONCAT_(fls_statusor_, __LINE__), lhs, expr)
#define FLS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()

#endif  // FLSAILER_LIBS_COMMON_STATUS_MACROS_H_
