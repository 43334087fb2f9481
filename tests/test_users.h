// Real local accounts for run-as tests (docs/security.md): created with
// useradd/groupadd when missing, never removed (other runs reuse them).
// Names start with "ocxrun" so no other test collides with them. Only root
// can create them or switch to them: callers GTEST_SKIP otherwise.
#ifndef OCX_TESTS_TEST_USERS_H_
#define OCX_TESTS_TEST_USERS_H_

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/identity.h"

namespace ocx::testing {

// Why run-as tests cannot run here, or "" when they can.
inline std::string RunAsSkipReason() {
  if (geteuid() != 0) {
    return "needs root: only root can create test users and switch to them";
  }
  if (access("/usr/sbin/useradd", X_OK) != 0) return "useradd is missing";
  return "";
}

// The account `user` (created as a system user without a home, in the
// extra group `group` when given, itself created when missing).
inline absl::StatusOr<Identity> TestUser(const std::string& user,
                                         const std::string& group = "") {
  if (!group.empty() && getgrnam(group.c_str()) == nullptr) {
    int rc = system(
        absl::StrCat("groupadd --system ", group, " >/dev/null 2>&1").c_str());
    (void)rc;
  }
  if (getpwnam(user.c_str()) == nullptr) {
    int rc = system(absl::StrCat("useradd --system --no-create-home "
                                 "--shell /usr/sbin/nologin ",
                                 group.empty() ? "" : "-G " + group + " ", user,
                                 " >/dev/null 2>&1")
                        .c_str());
    (void)rc;
  } else if (!group.empty()) {
    int rc = system(
        absl::StrCat("usermod -a -G ", group, " ", user, " >/dev/null 2>&1")
            .c_str());
    (void)rc;
  }
  return IdentityOfUser(user, "");
}

}  // namespace ocx::testing

#endif  // OCX_TESTS_TEST_USERS_H_
