#include "server/dispatcher/run_as.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runners/cli/cli.h"

namespace ocx::server {

Identity RunAsAccount(const ocx::v1::Owner& owner) {
  const uid_t uid = owner.user().empty() ? 0 : static_cast<uid_t>(owner.uid());
  absl::StatusOr<Identity> found = IdentityOfUid(uid, "");
  if (found.ok()) return *found;
  Identity id;
  id.uid = uid;
  id.gid = static_cast<gid_t>(owner.gid());
  id.user = owner.user().empty() ? absl::StrCat(uid) : owner.user();
  id.groups = {id.gid};
  return id;
}

FileOwner FilesFor(const std::optional<Identity>& run_as) {
  if (!run_as.has_value()) return FileOwner{};
  return FileOwner{run_as->uid, run_as->gid};
}

absl::Status MakeWorkDirAs(const std::string& work_dir,
                           const std::optional<Identity>& run_as) {
  if (!run_as.has_value()) {
    absl::Status made = MakeDirsFor(work_dir, FileOwner{});
    if (made.ok()) return made;
    return absl::FailedPreconditionError(absl::StrCat(
        "work_dir: cannot create ", work_dir, ": ", made.message()));
  }
  runners::CliResult r =
      runners::RunCli({"mkdir", "-p", "-m", "0750", "--", work_dir},
                      /*timeout_ms=*/30000, /*abort=*/nullptr, &*run_as);
  if (r.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("work_dir: ", run_as->user, " (uid ", run_as->uid,
                   ") cannot create ", work_dir, ": ", r.Describe()));
}

}  // namespace ocx::server
