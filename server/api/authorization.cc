#include "server/api/authorization.h"

#include "absl/strings/str_cat.h"

namespace ocx::server {
namespace {

// "admins (root)" or "admins (root and members of group ocx-admins)".
std::string Admins(const AccessPolicy& policy) {
  if (policy.admin_group.empty()) return "admins (root)";
  return absl::StrCat("admins (root and members of group ", policy.admin_group,
                      ")");
}

std::string UserAndUid(const Identity& id) {
  return absl::StrCat(id.user, " (uid ", id.uid, ")");
}

}  // namespace

ocx::v1::Owner EffectiveOwner(const ocx::v1::Owner& stored,
                              const AccessPolicy& policy) {
  if (!stored.user().empty()) return stored;
  return OwnerOf(policy.daemon);
}

absl::Status AuthorizeEvaluation(const Identity& caller,
                                 absl::string_view subject,
                                 const ocx::v1::Owner& owner,
                                 absl::string_view action,
                                 const AccessPolicy& policy) {
  const ocx::v1::Owner effective = EffectiveOwner(owner, policy);
  if (MayAccess(caller, effective)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(subject, " belongs to ", effective.user(), "; only ",
                   effective.user(), " and ", Admins(policy), " may ", action,
                   " (you are ", caller.user, ")"));
}

absl::Status AuthorizeReplicaLog(const Identity& caller,
                                 const std::string& replica_id,
                                 const store::PoolOwners& pool,
                                 const AccessPolicy& policy) {
  for (const ocx::v1::Owner& owner : pool.owners) {
    if (MayAccess(caller, EffectiveOwner(owner, policy))) {
      return absl::OkStatus();
    }
  }
  if (caller.admin) return absl::OkStatus();  // a pool nobody uses any more
  return absl::PermissionDeniedError(absl::StrCat(
      "the log of replica ", replica_id, " (server pool ", pool.pool_id,
      ") is shown only to ", Admins(policy),
      " and to the owners of evaluations that use the pool (you are ",
      caller.user, ")"));
}

absl::Status AuthorizeSubmit(const Identity& caller, absl::string_view action,
                             const AccessPolicy& policy) {
  if (policy.daemon.uid == 0 || caller.admin ||
      caller.uid == policy.daemon.uid) {
    return absl::OkStatus();
  }
  const std::string daemon = UserAndUid(policy.daemon);
  return absl::PermissionDeniedError(absl::StrCat(
      "ocxd runs as user ", daemon, ", so only ", policy.daemon.user, " and ",
      Admins(policy), " may ", action, " to it: its tasks would run as ",
      policy.daemon.user, ". You are ", UserAndUid(caller),
      ". Ask an admin for access, or use the system ocxd service (run as "
      "root), where each user submits and runs tasks as themselves"));
}

std::string DescribeCaller(const Identity& caller) {
  std::string out = absl::StrCat(caller.user, " (uid ", caller.uid);
  if (caller.admin) absl::StrAppend(&out, ", admin");
  if (!caller.via.empty()) absl::StrAppend(&out, ", via ", caller.via);
  absl::StrAppend(&out, ")");
  return out;
}

absl::StatusOr<std::vector<int64_t>> OwnerFilter(const std::string& owner,
                                                 const Identity& caller,
                                                 const AccessPolicy& policy) {
  if (owner.empty()) return std::vector<int64_t>{};
  int64_t uid = caller.uid;
  if (owner != "me") {
    absl::StatusOr<Identity> named = IdentityOfUser(owner, "");
    if (!named.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "owner: ", named.status().message(),
          " (give a user name, \"me\", or leave it empty for everyone)"));
    }
    uid = named->uid;
  }
  std::vector<int64_t> uids = {uid};
  if (uid == static_cast<int64_t>(policy.daemon.uid)) uids.push_back(-1);
  return uids;
}

}  // namespace ocx::server
