// Cancelling an evaluation on a caller's behalf: the one path both the gRPC
// CancelEvaluation and the web console's cancel button take, so the rule
// (owner or admin, authorization.h) and the event ("cancelled by alice (uid
// 1001, via ...)") cannot differ between them.
//
// Thread-safe: Dispatcher::Cancel queues a command for the loop and waits
// for its commit; the owner is read through the store's read pool.
#ifndef OCX_SERVER_API_CANCEL_EVALUATION_H_
#define OCX_SERVER_API_CANCEL_EVALUATION_H_

#include <string>

#include "absl/status/status.h"
#include "common/identity.h"
#include "server/api/authorization.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"

namespace ocx::server {

// Cancels evaluation `id` for `caller`. INVALID_ARGUMENT naming `id` when
// empty, NOT_FOUND for an unknown id, PERMISSION_DENIED unless the caller
// owns it or is an admin, FAILED_PRECONDITION when it has already ended.
absl::Status CancelEvaluationAs(const Identity& caller, const std::string& id,
                                store::Store* store, Dispatcher* dispatcher,
                                const AccessPolicy& access);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_CANCEL_EVALUATION_H_
