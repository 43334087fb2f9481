// server/confinement: work_dir must resolve (links followed) under a
// configured root and never into a system directory. Real directories and
// symbolic links in a temporary directory.
#include "server/confinement.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::server {
namespace {

using ::testing::HasSubstr;

class ConfinementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ocxrun-conf.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = ResolvePath(tmpl);
    ASSERT_TRUE(MakeDirs(root_ + "/work/alice").ok());
    owner_.set_user("alice");
    owner_.set_uid(4242);
    owner_.set_gid(4242);
    roots_ = RootsFor({root_ + "/work/{user}"}, owner_);
  }
  void TearDown() override {
    int rc = system(absl::StrCat("rm -rf '", root_, "'").c_str());
    (void)rc;
  }

  std::string root_;
  ocx::v1::Owner owner_;
  std::vector<std::string> roots_;
};

TEST_F(ConfinementTest, UserExpandsAndAPathUnderTheRootIsResolved) {
  ASSERT_EQ(roots_.size(), 1u);
  EXPECT_EQ(roots_[0], root_ + "/work/alice");
  absl::StatusOr<std::string> dir =
      ConfineWorkDir(root_ + "/work/alice/./run1/../run2", roots_);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, root_ + "/work/alice/run2");
}

TEST_F(ConfinementTest, SystemDirectoriesAreRefusedEvenWhenConfigured) {
  std::vector<std::string> roots = RootsFor({"/", "/etc", "/usr/x"}, owner_);
  EXPECT_TRUE(roots.empty());
  for (const std::string& path :
       {"/", "/etc", "/etc/ocx", "/usr/lib", "/bin", "/lib64", "/boot", "/dev",
        "/proc/1", "/sys", "/run/x", "/var", "/var/tmp/x", "/root/x"}) {
    absl::StatusOr<std::string> dir = ConfineWorkDir(path, roots_);
    ASSERT_FALSE(dir.ok()) << path;
    EXPECT_TRUE(absl::IsPermissionDenied(dir.status())) << dir.status();
    EXPECT_THAT(dir.status().message(), HasSubstr("work_dir: "));
    EXPECT_THAT(dir.status().message(), HasSubstr("system directory"));
    // Says where the user may write instead.
    EXPECT_THAT(
        dir.status().message(),
        HasSubstr(absl::StrCat("allowed roots: ", root_, "/work/alice")));
  }
}

TEST_F(ConfinementTest, ARootUnderVarIsAllowed) {
  // The system service's default root is /var/lib/ocx/work/<user>.
  std::vector<std::string> roots =
      RootsFor({"/var/lib/ocx-test-none/work/{user}"}, owner_);
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_TRUE(
      ConfineWorkDir("/var/lib/ocx-test-none/work/alice/e1", roots).ok());
  EXPECT_FALSE(ConfineWorkDir("/var/lib/other/e1", roots).ok());
}

TEST_F(ConfinementTest, ALinkLeavingTheRootIsRefused) {
  ASSERT_EQ(symlink("/etc", (root_ + "/work/alice/etc-link").c_str()), 0);
  absl::StatusOr<std::string> dir =
      ConfineWorkDir(root_ + "/work/alice/etc-link/sub", roots_);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(), HasSubstr("resolves to /etc/sub"));
  EXPECT_THAT(dir.status().message(), HasSubstr("system directory"));

  // A link to another user's dir: outside every root of alice.
  ASSERT_TRUE(MakeDirs(root_ + "/work/bob").ok());
  ASSERT_EQ(symlink((root_ + "/work/bob").c_str(),
                    (root_ + "/work/alice/bob").c_str()),
            0);
  dir = ConfineWorkDir(root_ + "/work/alice/bob/e1", roots_);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(),
              HasSubstr("is not under a directory this ocxd may write"));
}

TEST_F(ConfinementTest, PathsOutsideEveryRootAreRefused) {
  absl::StatusOr<std::string> dir = ConfineWorkDir("/tmp/elsewhere", roots_);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(),
              HasSubstr("work_dir: \"/tmp/elsewhere\" is not under"));
  dir = ConfineWorkDir(root_ + "/work/alice2", roots_);  // a prefix only
  EXPECT_FALSE(dir.ok());
}

}  // namespace
}  // namespace ocx::server
