// Status plumbing. Debian's abseil (20220623) has no ABSL_RETURN_IF_ERROR.
#ifndef OCX_COMMON_STATUS_MACROS_H_
#define OCX_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OCX_STATUS_CONCAT_INNER_(x, y) x##y
#define OCX_STATUS_CONCAT_(x, y) OCX_STATUS_CONCAT_INNER_(x, y)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define OCX_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status ocx_status_ = (expr);       \
    if (!ocx_status_.ok()) return ocx_status_; \
  } while (0)

// `lhs = value of expr` when expr (an absl::StatusOr) is OK; returns its
// status otherwise.
#define OCX_ASSIGN_OR_RETURN(lhs, expr)                                        \
  OCX_ASSIGN_OR_RETURN_IMPL_(OCX_STATUS_CONCAT_(ocx_statusor_, __LINE__), lhs, \
                             expr)
#define OCX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

namespace ocx {

// Returns `status` with `context: ` prefixed to its message, same code and
// payloads.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace ocx

#endif  // OCX_COMMON_STATUS_MACROS_H_
