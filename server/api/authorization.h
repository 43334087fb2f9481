// Authorization: who may do what (docs/security.md, "Ownership and
// authorization"). Every rule of the API lives here, so the handlers ask one
// question each and the rules are tested without gRPC:
//   - an evaluation's reads and steering (get, watch, tasks, logs, results,
//     cancel) are for its owner and admins (ocx::MayAccess);
//   - a managed-server replica's log is for admins and the owners of the
//     evaluations that use its pool (servers are shared; the list of
//     servers is open to every identified caller);
//   - submitting (and planning) is open to every identified caller when
//     ocxd runs as root, and otherwise to ocxd's own account and admins,
//     since every task would run as that account.
// A refusal is PERMISSION_DENIED naming the owner and who may, and nothing
// else about the evaluation.
//
// Thread-safe: pure functions of their arguments (OwnerFilter reads the
// password database).
#ifndef OCX_SERVER_API_AUTHORIZATION_H_
#define OCX_SERVER_API_AUTHORIZATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/identity.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/store.h"

namespace ocx::server {

// What the rules depend on besides the caller. Injected (not read from
// geteuid()) so that tests can play a daemon run by any account.
struct AccessPolicy {
  // The account ocxd runs as (ocx::DaemonIdentity). Evaluations stored
  // before owners existed belong to it; unless it is root, only it and
  // admins may submit.
  Identity daemon;
  // DaemonConfig.access.admin_group (empty: root is the only admin); named
  // in messages.
  std::string admin_group;
};

// The owner an evaluation is shown and checked with: the stored one, or
// the daemon's account for rows stored before owners existed.
ocx::v1::Owner EffectiveOwner(const ocx::v1::Owner& stored,
                              const AccessPolicy& policy);

// OK when `caller` may act on an evaluation owned by `owner` (stored form);
// otherwise PERMISSION_DENIED "<subject> belongs to <user>; only <user> and
// admins (...) may <action>". `subject`: "evaluation e1", "task e1-infer-0";
// `action`: "cancel it", "read its logs".
absl::Status AuthorizeEvaluation(const Identity& caller,
                                 absl::string_view subject,
                                 const ocx::v1::Owner& owner,
                                 absl::string_view action,
                                 const AccessPolicy& policy);

// OK when `caller` may read the log of replica `replica_id`, whose pool's
// users are `pool`: an admin, or the owner of an evaluation using the pool.
absl::Status AuthorizeReplicaLog(const Identity& caller,
                                 const std::string& replica_id,
                                 const store::PoolOwners& pool,
                                 const AccessPolicy& policy);

// OK when `caller` may submit (Create) or plan; otherwise PERMISSION_DENIED
// saying which account ocxd runs as and how to get access. `action`:
// "submit evaluations", "plan evaluations".
absl::Status AuthorizeSubmit(const Identity& caller, absl::string_view action,
                             const AccessPolicy& policy);

// The caller as the event log records it: "alice (uid 1001, via unix
// socket)", "root (uid 0, admin, via unix socket)".
std::string DescribeCaller(const Identity& caller);

// ListEvaluationsRequest.owner as an owner-uid filter
// (store::EvaluationFilter): "" everyone (empty result), "me" the caller, or
// a local user name; the daemon's account also owns the rows from before
// owners existed (uid -1). INVALID_ARGUMENT naming `owner` for an unknown
// user.
absl::StatusOr<std::vector<int64_t>> OwnerFilter(const std::string& owner,
                                                 const Identity& caller,
                                                 const AccessPolicy& policy);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_AUTHORIZATION_H_
