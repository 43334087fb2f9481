// End to end, as the current user: a real ocxd and real ocxctl show each
// evaluation's owner (the OWNER column, the Owner line of status, the owner
// object of -o json), filter with --mine / --owner, and the evaluation's
// events name who created it. Several users over one socket are the
// identity tests' part (the transport); the rules themselves are tested in
// tests/server/authorization_api_test.cc.
#include <pwd.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string CurrentUser() {
  struct passwd* pw = getpwuid(geteuid());
  return pw == nullptr ? "" : pw->pw_name;
}

// Another account that exists on every Linux system, to filter by.
std::string OtherUser() { return geteuid() == 0 ? "nobody" : "root"; }

class OwnerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<OcxdProcess>(dir_.path());
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
    user_ = CurrentUser();
    ASSERT_FALSE(user_.empty());
  }

  RunResult Ocxctl(std::vector<std::string> args) {
    args.insert(args.begin(), OcxctlPath());
    return RunProgram(args, {"OCX_SERVER=" + daemon_->server()});
  }

  TempDir dir_;
  std::unique_ptr<OcxdProcess> daemon_;
  std::string user_;
};

TEST_F(OwnerE2ETest, OcxctlShowsTheOwnerAndFiltersMine) {
  ocx::v1::Evaluation e =
      CreateOrFail(daemon_->stub(), TestSpec(1, 1, {}, 1, 0));
  ASSERT_FALSE(e.id().empty());
  EXPECT_EQ(e.owner().user(), user_);
  EXPECT_EQ(e.owner().uid(), static_cast<int64_t>(geteuid()));
  ASSERT_TRUE(WaitForEnd(daemon_->stub(), e.id(), 60).ok()) << daemon_->log();

  RunResult list = Ocxctl({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<std::string> lines = absl::StrSplit(list.out, '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("ID +NAME +OWNER +STATE .*"));
  // The row: id, name (the id), owner.
  EXPECT_THAT(lines[1], ::testing::StartsWith(e.id()));
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat("   ", user_, "   ")));

  RunResult mine = Ocxctl({"list", "--mine", "-o", "name"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(mine.out, e.id() + "\n");
  RunResult status_mine = Ocxctl({"status", "--mine"});
  ASSERT_EQ(status_mine.exit_code, 0) << status_mine.err;
  EXPECT_THAT(status_mine.out, HasSubstr(e.id()));
  RunResult others = Ocxctl({"list", "--owner", OtherUser()});
  ASSERT_EQ(others.exit_code, 0) << others.err;
  EXPECT_EQ(others.out, "");
  EXPECT_THAT(others.err, HasSubstr("no evaluations found"));
  RunResult unknown = Ocxctl({"list", "--owner", "ocxown-no-such-user"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("owner: "));

  RunResult wide = Ocxctl({"list", "-o", "wide"});
  ASSERT_EQ(wide.exit_code, 0) << wide.err;
  EXPECT_THAT(wide.out, HasSubstr("OWNER"));
  EXPECT_THAT(wide.out, HasSubstr(absl::StrCat("   ", user_, "   ")));
  RunResult json = Ocxctl({"list", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat("\"user\": \"", user_, "\"")));

  RunResult status = Ocxctl({"status", e.id()});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr(absl::StrCat("Owner:      ", user_,
                                                 " (uid ", geteuid(), ")")));
  RunResult yaml = Ocxctl({"status", e.id(), "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_THAT(yaml.out, HasSubstr(absl::StrCat("user: ", user_)));

  // The creation event names the caller.
  ocx::v1::WatchEvaluationRequest watch;
  watch.set_id(e.id());
  grpc::ClientContext ctx;
  auto reader = daemon_->stub()->WatchEvaluation(&ctx, watch);
  ocx::v1::WatchEvaluationResponse response;
  std::string created;
  while (reader->Read(&response)) {
    for (const auto& event : response.events()) {
      if (event.state() == "QUEUED") created = event.message();
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_THAT(created, HasSubstr(absl::StrCat("evaluation created with 2 "
                                              "tasks by ",
                                              user_, " (uid ", geteuid())));
  EXPECT_THAT(created, Not(HasSubstr("by  (")));
}

}  // namespace
}  // namespace ocx::testing
