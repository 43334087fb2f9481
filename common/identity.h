// Identity: the local account a caller acts as. Every way a caller is
// authenticated (unix socket peer credentials, a TLS client certificate, a
// bearer token) ends in one of these, and authorization, ownership and
// running tasks as their owner read only this.
#ifndef OCX_COMMON_IDENTITY_H_
#define OCX_COMMON_IDENTITY_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"

namespace ocx {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;  // the account's primary group
  std::string user;
  // Supplementary groups from the group database (getgrouplist), with gid.
  std::vector<gid_t> groups;
  // Root, or a member of the configured admin group: may see and steer
  // every evaluation.
  bool admin = false;
  // How the caller was identified, for messages and the event log: "unix
  // socket", "tls certificate", "token", "daemon".
  std::string via;

  bool InGroup(gid_t g) const;
};

// The account `uid` from the password and group databases. `admin_group`
// (may be empty) makes its members admins; root is always one. NOT_FOUND
// when no account has this uid.
absl::StatusOr<Identity> IdentityOfUid(uid_t uid,
                                       const std::string& admin_group);
// The same, by user name.
absl::StatusOr<Identity> IdentityOfUser(const std::string& user,
                                        const std::string& admin_group);

// The home directory of the account `uid`; "" when no account has it.
std::string HomeDirOf(uid_t uid);

// The account ocxd itself runs as.
absl::StatusOr<Identity> DaemonIdentity(const std::string& admin_group);

// What is stored with an evaluation.
ocx::v1::Owner OwnerOf(const Identity& identity);

// Whether `identity` may read and steer an evaluation owned by `owner`:
// its owner, or an admin. Evaluations stored before owners existed (empty
// user) belong to the daemon's own account.
bool MayAccess(const Identity& identity, const ocx::v1::Owner& owner);

}  // namespace ocx

#endif  // OCX_COMMON_IDENTITY_H_
