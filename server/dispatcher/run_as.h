// Run as the submitter (docs/security.md, "Run as owner and confinement"):
// when ocxd runs as root, an evaluation's tasks, its managed-server
// replicas and its files belong to the evaluation's owner. This module
// turns a stored Owner into the account runners switch to, and makes a
// work dir the way the owner would.
//
// Thread-safe: no shared state (the account database is read each call).
#ifndef OCX_SERVER_DISPATCHER_RUN_AS_H_
#define OCX_SERVER_DISPATCHER_RUN_AS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/identity.h"
#include "common/owned_files.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {

// The account an owner's attempts run as: the owner's uid with its current
// groups from the account database; an account that is gone keeps its
// stored uid and gid (its files are still theirs). An owner stored before
// owners existed (empty user) is the daemon's account, root here: such
// tasks run only with allow_root_tasks.
Identity RunAsAccount(const ocx::v1::Owner& owner);

// The owner of files made for `run_as` (FileOwner::kKeep when unset).
FileOwner FilesFor(const std::optional<Identity>& run_as);

// Makes `work_dir` (mkdir -p). Without `run_as`: new directories 0750.
// With it: `mkdir -p -m 0750` runs as that account, so the work dir is
// made only where the owner may make it, and is theirs.
// FAILED_PRECONDITION naming work_dir when it cannot be made.
absl::Status MakeWorkDirAs(const std::string& work_dir,
                           const std::optional<Identity>& run_as);

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_RUN_AS_H_
