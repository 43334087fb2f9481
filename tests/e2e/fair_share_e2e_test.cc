// Fair share end to end: a real ocxd with a per-user running-task limit in
// its config, a real evaluation of sleeping tasks submitted over gRPC, and
// the reason the waiting tasks give through GetTask and `ocxctl status`.
// Every caller is the daemon's own account until callers are identified, so
// one user's limit is what can be seen here; tests/server/fair_share_test.cc
// covers two owners.
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;

std::string MyUser() {
  struct passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : absl::StrCat("uid ", geteuid());
}

int64_t Ms(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

TEST(FairShareE2ETest, WaitingTasksSayTheyWaitForTheUserQuota) {
  TempDir dir;
  std::ofstream(dir.path() + "/ocxd.yaml")
      << "fair_share: {user_max_running_tasks: 1}\n";
  OcxdProcess daemon(dir.path(), {"--config", dir.path() + "/ocxd.yaml",
                                  "--max-parallel", "4"});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  // Three infer tasks that take a while; one may run at a time.
  ocx::v1::EvaluationSpec spec = TestSpec(1, 3, {"--sleep-ms", "1500"}, 4, 0);
  ocx::v1::Evaluation e = CreateOrFail(daemon.stub(), spec);
  ASSERT_FALSE(e.id().empty());

  const std::string want =
      absl::StrCat("waiting: user quota (", MyUser(), " runs 1 of 1 task)");
  std::string seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const ocx::v1::Task& t : AllTasks(daemon.stub(), e.id())) {
          if (t.state() != ocx::v1::Task::READY) continue;
          seen = GetTaskOrFail(daemon.stub(), t.id()).pending_reason();
          if (seen == want) return true;
        }
        return false;
      },
      20))
      << "last reason: " << seen;

  RunResult status = RunProgram({OcxctlPath(), "status", e.id()},
                                {"OCX_SERVER=" + daemon.server()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("READY tasks " + want)) << status.out;

  absl::StatusOr<ocx::v1::Evaluation> end =
      WaitForEnd(daemon.stub(), e.id(), 60);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->state(), ocx::v1::Evaluation::SUCCEEDED);
  // One at a time: no two infer tasks overlapped.
  std::vector<ocx::v1::Task> tasks = AllTasks(daemon.stub(), e.id());
  for (const ocx::v1::Task& a : tasks) {
    for (const ocx::v1::Task& b : tasks) {
      if (a.id() >= b.id() || a.stage() != ocx::v1::STAGE_INFER ||
          b.stage() != ocx::v1::STAGE_INFER) {
        continue;
      }
      const bool apart = Ms(a.end_time()) <= Ms(b.start_time()) ||
                         Ms(b.end_time()) <= Ms(a.start_time());
      EXPECT_TRUE(apart) << a.id() << " and " << b.id() << " overlapped";
    }
  }
}

}  // namespace
}  // namespace ocx::testing
