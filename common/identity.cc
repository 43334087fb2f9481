#include "common/identity.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ocx {
namespace {

// getpwuid_r/getpwnam_r's answer, copied out of the scratch buffer.
struct Account {
  uid_t uid;
  gid_t gid;
  std::string user;
};

absl::StatusOr<Account> LookUp(const uid_t* uid, const std::string* name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = uid != nullptr
               ? getpwuid_r(*uid, &pw, buf.data(), buf.size(), &found)
               : getpwnam_r(name->c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return absl::NotFoundError(
        uid != nullptr
            ? absl::StrCat("no local account has uid ", *uid)
            : absl::StrCat("no local account is named \"", *name, "\""));
  }
  return Account{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

std::vector<gid_t> GroupsOf(const Account& a) {
  int n = 64;
  std::vector<gid_t> groups(n);
  while (getgrouplist(a.user.c_str(), a.gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n) + 16);
    n = static_cast<int>(groups.size());
  }
  groups.resize(static_cast<size_t>(n));
  return groups;
}

bool IsAdmin(const Identity& id, const std::string& admin_group) {
  if (id.uid == 0) return true;
  if (admin_group.empty()) return false;
  struct group gr;
  struct group* found = nullptr;
  std::vector<char> buf(65536);
  if (getgrnam_r(admin_group.c_str(), &gr, buf.data(), buf.size(), &found) !=
          0 ||
      found == nullptr) {
    return false;
  }
  return id.InGroup(gr.gr_gid);
}

absl::StatusOr<Identity> FromAccount(absl::StatusOr<Account> account,
                                     const std::string& admin_group) {
  if (!account.ok()) return account.status();
  Identity id;
  id.uid = account->uid;
  id.gid = account->gid;
  id.user = account->user;
  id.groups = GroupsOf(*account);
  id.admin = IsAdmin(id, admin_group);
  return id;
}

}  // namespace

bool Identity::InGroup(gid_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

absl::StatusOr<Identity> IdentityOfUid(uid_t uid,
                                       const std::string& admin_group) {
  return FromAccount(LookUp(&uid, nullptr), admin_group);
}

absl::StatusOr<Identity> IdentityOfUser(const std::string& user,
                                        const std::string& admin_group) {
  return FromAccount(LookUp(nullptr, &user), admin_group);
}

std::string HomeDirOf(uid_t uid) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 ||
      found == nullptr || pw.pw_dir == nullptr) {
    return "";
  }
  return pw.pw_dir;
}

absl::StatusOr<Identity> DaemonIdentity(const std::string& admin_group) {
  absl::StatusOr<Identity> id = IdentityOfUid(geteuid(), admin_group);
  if (id.ok()) id->via = "daemon";
  return id;
}

ocx::v1::Owner OwnerOf(const Identity& identity) {
  ocx::v1::Owner owner;
  owner.set_user(identity.user);
  owner.set_uid(identity.uid);
  owner.set_gid(identity.gid);
  return owner;
}

bool MayAccess(const Identity& identity, const ocx::v1::Owner& owner) {
  if (identity.admin) return true;
  if (owner.user().empty()) return identity.uid == geteuid();
  return static_cast<int64_t>(identity.uid) == owner.uid();
}

}  // namespace ocx
