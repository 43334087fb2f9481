// A real ocxd (tests/e2e/ocxd_process.h) and its confinement
// (docs/security.md, "Run as owner and confinement"): work dirs in system
// directories or behind a link that leaves the allowed roots are refused,
// the database and the files of a run are not world-readable, and, as
// root, a root-owned evaluation is refused unless the daemon allows root
// tasks. (Tasks of other owners: tests/server/run_as_test.cc, through the
// API's caller resolver, since every client here connects as root.)
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;

int ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777)
                                      : -1;
}

grpc::Status Create(OcxdProcess& daemon, const v1::EvaluationSpec& spec,
                    v1::Evaluation* out) {
  grpc::ClientContext ctx;
  v1::CreateEvaluationRequest req;
  *req.mutable_spec() = spec;
  return daemon.stub()->CreateEvaluation(&ctx, req, out);
}

TEST(RunAsE2ETest, WorkDirsOutsideTheRootsAreRefused) {
  TempDir dir;
  OcxdProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  ASSERT_EQ(symlink("/etc", (dir.path() + "/to-etc").c_str()), 0);
  for (const std::string& bad :
       {std::string("/etc"), std::string("/"), dir.path() + "/to-etc/ocx"}) {
    v1::EvaluationSpec spec = TestSpec(1, 1, {});
    spec.set_work_dir(bad);
    v1::Evaluation e;
    grpc::Status s = Create(daemon, spec, &e);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("work_dir: "));
    EXPECT_THAT(s.error_message(), HasSubstr("allowed roots: "));
  }
  EXPECT_NE(access("/etc/ocx", F_OK), 0);
}

TEST(RunAsE2ETest, FilesOfARunAreNotWorldReadable) {
  TempDir dir;
  OcxdProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  v1::Evaluation e = CreateOrFail(daemon.stub(), TestSpec(1, 1, {}));
  absl::StatusOr<v1::Evaluation> done = WaitForEnd(daemon.stub(), e.id(), 60);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::Evaluation::SUCCEEDED) << daemon.log();
  EXPECT_EQ(ModeOf(daemon.database()), 0640);
  EXPECT_EQ(ModeOf(daemon.work_root()), geteuid() == 0 ? 0711 : 0750);
  EXPECT_EQ(ModeOf(e.work_dir()), 0750);
  for (const v1::Task& t : AllTasks(daemon.stub(), e.id())) {
    v1::Task full = GetTaskOrFail(daemon.stub(), t.id());
    ASSERT_GT(full.attempts_size(), 0);
    EXPECT_EQ(ModeOf(full.attempts(0).log_path()), 0640);
    EXPECT_EQ(ModeOf(absl::StrCat(e.work_dir(), "/.ocx/tasks/", t.id(),
                                  "/task.json")),
              0640);
  }
}

TEST(RunAsE2ETest, ARootDaemonRefusesRootOwnedEvaluationsByDefault) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: ocxd must run as root";
  TempDir dir;
  OcxdProcess daemon(dir.path());
  daemon.AllowRootTasks(false);
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  v1::Evaluation e;
  grpc::Status s = Create(daemon, TestSpec(1, 1, {}), &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("confinement.allow_root_tasks"));
}

}  // namespace
}  // namespace ocx::testing
