#include "server/api/cancel_evaluation.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ocx::server {

absl::Status CancelEvaluationAs(const Identity& caller, const std::string& id,
                                store::Store* store, Dispatcher* dispatcher,
                                const AccessPolicy& access) {
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  OCX_ASSIGN_OR_RETURN(ocx::v1::Owner owner, store->OwnerOfEvaluation(id));
  OCX_RETURN_IF_ERROR(AuthorizeEvaluation(
      caller, absl::StrCat("evaluation ", id), owner, "cancel it", access));
  return dispatcher->Cancel(id, DescribeCaller(caller));
}

}  // namespace ocx::server
