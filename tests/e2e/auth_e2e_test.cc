// Identity and transport (docs/security.md): a real ocxd with a group unix
// socket, TLS with client certificates and bearer tokens, and plain
// loopback TCP; callers are real processes of real local users (created
// here, prefix ocxauth; the tests skip when not run as root).
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/e2e/test_credentials.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGroup[] = "ocxauth";
constexpr char kUserA[] = "ocxauth-a";  // in kGroup
constexpr char kUserB[] = "ocxauth-b";  // not in kGroup
constexpr char kToken[] = "ocxauth-token-of-b";

void Sh(const std::string& script) {
  RunResult r = RunProgram({"/bin/sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << script << ": " << r.err;
}

// The users and the group, created once (kept for the next run).
void EnsureUsers() {
  Sh(absl::StrCat("getent group ", kGroup, " >/dev/null || groupadd --system ",
                  kGroup));
  Sh(absl::StrCat("id ", kUserA,
                  " >/dev/null 2>&1 || useradd --system --no-create-home "
                  "--user-group -G ",
                  kGroup, " ", kUserA));
  Sh(absl::StrCat("id ", kUserB,
                  " >/dev/null 2>&1 || useradd --system --no-create-home "
                  "--user-group ",
                  kUserB));
}

uid_t UidOf(const std::string& user) {
  struct passwd* pw = getpwnam(user.c_str());
  return pw != nullptr ? pw->pw_uid : static_cast<uid_t>(-1);
}

// argv run as `user` with its groups (setpriv from util-linux).
std::vector<std::string> As(const std::string& user,
                            std::vector<std::string> argv) {
  std::vector<std::string> all = {"/usr/bin/setpriv", "--reuid=" + user,
                                  "--regid=" + user, "--init-groups"};
  all.insert(all.end(), argv.begin(), argv.end());
  return all;
}

std::string WriteFile(const std::string& path, const std::string& text,
                      mode_t mode = 0644) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

// A one-task spec ocxctl submits.
std::string SpecFile(const std::string& dir) {
  return WriteFile(
      dir + "/eval.yaml",
      absl::StrCat("models:\n  - {abbr: m1, type: OpenAISDK, path: x}\n"
                   "datasets:\n  - {abbr: d1, path: d1.jsonl}\n"
                   "infer:\n  runner:\n    task: {type: command, argv: [\"",
                   TestTaskPath(), "\", \"{task_json}\"]}\n",
                   "eval:\n  runner:\n    task: {type: command, argv: [\"",
                   TestTaskPath(), "\", \"{task_json}\"]}\n"));
}

v1::Owner OwnerOf(v1::EvaluationService::Stub* stub, const std::string& id) {
  v1::GetEvaluationRequest req;
  req.set_id(id);
  v1::Evaluation eval;
  grpc::ClientContext ctx;
  grpc::Status status = stub->GetEvaluation(&ctx, req, &eval);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return eval.owner();
}

grpc::Status List(v1::EvaluationService::Stub* stub,
                  const std::string& token = "") {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  v1::ListEvaluationsRequest req;
  v1::ListEvaluationsResponse resp;
  return stub->ListEvaluations(&ctx, req, &resp);
}

class AuthE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to create the users " << kUserA << " and "
                   << kUserB << " and to start ocxd as root";
    }
    EnsureUsers();
    // Other users must reach the socket and files inside.
    chmod(dir_.path().c_str(), 0711);
  }
  TempDir dir_;
};

TEST_F(AuthE2ETest, GroupSocketOwnerComesFromTheKernel) {
  OcxdProcess daemon(dir_.path(), {"--socket-group", kGroup});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  struct stat st;
  ASSERT_EQ(stat(daemon.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  struct group* gr = getgrnam(kGroup);
  ASSERT_NE(gr, nullptr);
  EXPECT_EQ(st.st_gid, gr->gr_gid);

  const std::string spec = SpecFile(dir_.path());
  RunResult submit =
      RunProgram(As(kUserA, {OcxctlPath(), "--server", daemon.server(),
                             "submit", spec, "-o", "name"}));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  v1::Owner owner = OwnerOf(daemon.stub(), id);
  EXPECT_EQ(owner.user(), kUserA);
  EXPECT_EQ(owner.uid(), UidOf(kUserA));
  RunResult status =
      RunProgram(As(kUserA, {OcxctlPath(), "--server", daemon.server(),
                             "status", id, "-o", "json"}));
  EXPECT_THAT(status.out, HasSubstr(absl::StrCat("\"", kUserA, "\"")));

  // Root (the harness's own stub) is itself.
  v1::Evaluation mine = CreateOrFail(daemon.stub(), TestSpec(1, 1, {}));
  EXPECT_EQ(OwnerOf(daemon.stub(), mine.id()).user(), "root");

  // Not in the group: the kernel refuses the connection.
  RunResult b = RunProgram(
      As(kUserB, {OcxctlPath(), "--server", daemon.server(), "list"}));
  EXPECT_EQ(b.exit_code, 3) << b.out << b.err;
  EXPECT_THAT(b.err, HasSubstr("permission denied on " + daemon.socket_path()));
  EXPECT_THAT(b.out, Not(HasSubstr(id)));
}

// The whole path as a user takes it: ocxctl as ocxauth-a over the group
// socket, the kernel names the caller, and ocxd (root) runs the tasks as
// ocxauth-a in a work dir of theirs.
TEST_F(AuthE2ETest, TasksOfASocketCallerRunAsThatUser) {
  ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
  const std::string home = dir_.path() + "/home-a";
  ASSERT_EQ(mkdir(home.c_str(), 0750), 0);
  ASSERT_EQ(chown(home.c_str(), UidOf(kUserA), getgrnam(kUserA)->gr_gid), 0);
  OcxdProcess daemon(dir_.path(), {"--socket-group", kGroup});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  const std::string work = home + "/run";
  // Each stage records who it ran as, then writes the output ocxd expects.
  auto task = [](const std::string& stage, const std::string& output) {
    return absl::StrCat(
        "  runner:\n    task: {type: command, argv: [/bin/sh, -c, \"id -u > "
        "{work_dir}/",
        stage, "-uid; id -G >> {work_dir}/", stage,
        "-uid; mkdir -p $(dirname {work_dir}/", output,
        ") && echo '{{}}' > "
        "{work_dir}/",
        output, "\"]}\n");
  };
  const std::string spec = WriteFile(
      home + "/eval.yaml",
      absl::StrCat("work_dir: ", work,
                   "\nmodels:\n  - {abbr: m1, type: OpenAISDK, path: x}\n"
                   "datasets:\n  - {abbr: d1, path: d1.jsonl}\ninfer:\n",
                   task("infer", "predictions/m1/d1.json"), "eval:\n",
                   task("eval", "results/m1/d1.json")));
  RunResult submit =
      RunProgram(As(kUserA, {OcxctlPath(), "--server", daemon.server(),
                             "submit", spec, "-o", "name"}));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  absl::StatusOr<v1::Evaluation> ended = WaitForEnd(daemon.stub(), id, 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  if (ended->state() != v1::Evaluation::SUCCEEDED) {
    RunResult tasks = RunProgram(
        {OcxctlPath(), "--server", daemon.server(), "tasks", id, "-o", "wide"});
    FAIL() << tasks.out << tasks.err << daemon.log();
  }
  for (const char* stage : {"infer", "eval"}) {
    const std::string uid_file = absl::StrCat(work, "/", stage, "-uid");
    const std::string text = FileText(uid_file);
    EXPECT_THAT(text, ::testing::StartsWith(absl::StrCat(UidOf(kUserA), "\n")))
        << stage;
    // Its supplementary groups came along: the socket group too.
    EXPECT_THAT(text, HasSubstr(absl::StrCat(getgrnam(kGroup)->gr_gid)))
        << stage;
    struct stat st;
    ASSERT_EQ(stat(uid_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, UidOf(kUserA)) << stage;
  }
  struct stat wst;
  ASSERT_EQ(stat(work.c_str(), &wst), 0);
  EXPECT_EQ(wst.st_uid, UidOf(kUserA));
  EXPECT_EQ(wst.st_mode & 0777, 0750u);
}

TEST_F(AuthE2ETest, UidWithoutAccountIsDeniedByName) {
  constexpr uid_t kNoAccount = 54329;
  if (getpwuid(kNoAccount) != nullptr) GTEST_SKIP() << "uid 54329 exists";
  OcxdProcess daemon(dir_.path(), {"--socket-group", kGroup});
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  struct group* gr = getgrnam(kGroup);
  ASSERT_NE(gr, nullptr);
  RunResult r =
      RunProgram({"/usr/bin/setpriv", absl::StrCat("--reuid=", kNoAccount),
                  absl::StrCat("--regid=", kNoAccount),
                  absl::StrCat("--groups=", gr->gr_gid), OcxctlPath(),
                  "--server", daemon.server(), "list"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("uid 54329 has no local account"));
}

TEST_F(AuthE2ETest, LoopbackPlainTcpKnowsTheCallerFromTheSocketTable) {
  OcxdProcess daemon(dir_.path());
  daemon.UseListen("127.0.0.1:0");
  ASSERT_TRUE(daemon.Start().ok()) << daemon.log();
  v1::Evaluation mine = CreateOrFail(daemon.stub(), TestSpec(1, 1, {}));
  EXPECT_EQ(OwnerOf(daemon.stub(), mine.id()).user(), "root");

  RunResult submit =
      RunProgram(As(kUserB, {OcxctlPath(), "--server", daemon.server(),
                             "submit", SpecFile(dir_.path()), "-o", "name"}));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  EXPECT_EQ(OwnerOf(daemon.stub(), id).user(), kUserB);
}

class TlsE2ETest : public AuthE2ETest {
 protected:
  void SetUp() override {
    AuthE2ETest::SetUp();
    if (IsSkipped()) return;
    creds_ = std::make_unique<TestCredentials>(
        dir_.path(), OCX_MAKE_TEST_CERTS,
        std::vector<std::string>{kUserA, "ocxauth-nobody"}, kUserB, kToken);
    ASSERT_EQ(creds_->error(), "");
    daemon_ = std::make_unique<OcxdProcess>(dir_.path(), creds_->DaemonFlags());
    daemon_->UseListen("127.0.0.1:0");
    daemon_->UseCredentials(Tls("client-ocxauth-a"));
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
  }

  std::string Cert(const std::string& name) const { return creds_->Cert(name); }
  // TLS trusting ca.pem, with the client certificate `client` (none: "").
  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& client) {
    return creds_->Grpc(client);
  }
  std::unique_ptr<v1::EvaluationService::Stub> Stub(
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return v1::EvaluationService::NewStub(
        grpc::CreateChannel(daemon_->server(), credentials));
  }

  std::unique_ptr<TestCredentials> creds_;
  std::unique_ptr<OcxdProcess> daemon_;
};

TEST_F(TlsE2ETest, ClientCertificateNamesTheOwner) {
  v1::Evaluation eval = CreateOrFail(daemon_->stub(), TestSpec(1, 1, {}));
  v1::Owner owner = OwnerOf(daemon_->stub(), eval.id());
  EXPECT_EQ(owner.user(), kUserA);
  EXPECT_EQ(owner.uid(), UidOf(kUserA));

  // A certificate whose CN names no account.
  grpc::Status nobody = List(Stub(Tls("client-ocxauth-nobody")).get());
  EXPECT_EQ(nobody.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(nobody.error_message(), HasSubstr("ocxauth-nobody"));
}

TEST_F(TlsE2ETest, NoCertificateWrongCaAndPlainTextAreRefused) {
  grpc::Status none = List(Stub(Tls("")).get());
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("--tls-cert"));

  grpc::SslCredentialsOptions other;
  other.pem_root_certs = FileText(Cert("ca.pem"));
  other.pem_cert_chain = FileText(Cert("other-client.pem"));
  other.pem_private_key = FileText(Cert("other-client.key"));
  grpc::Status wrong_ca = List(Stub(grpc::SslCredentials(other)).get());
  EXPECT_FALSE(wrong_ca.ok());
  EXPECT_NE(wrong_ca.error_code(), grpc::StatusCode::OK);

  grpc::Status plain = List(Stub(grpc::InsecureChannelCredentials()).get());
  EXPECT_FALSE(plain.ok());
}

TEST_F(TlsE2ETest, BearerTokenNamesTheOwnerAndAWrongOneIsRefused) {
  auto stub = Stub(Tls(""));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  v1::CreateEvaluationRequest req;
  *req.mutable_spec() = TestSpec(1, 1, {});
  v1::Evaluation eval;
  grpc::Status created = stub->CreateEvaluation(&ctx, req, &eval);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(eval.owner().user(), kUserB);
  // Read back by the owner itself (the certificate client is another user,
  // who may not see it).
  grpc::ClientContext get_ctx;
  get_ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  v1::GetEvaluationRequest get;
  get.set_id(eval.id());
  v1::Evaluation stored;
  grpc::Status read = stub->GetEvaluation(&get_ctx, get, &stored);
  ASSERT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(stored.owner().user(), kUserB);

  grpc::Status wrong = List(stub.get(), "not-the-token");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TlsE2ETest, OcxctlUsesTlsFlagsAndNamesUnreadableFiles) {
  const std::string token_file =
      WriteFile(dir_.path() + "/my-token", absl::StrCat(kToken, "\n"), 0600);
  RunResult cert =
      RunProgram({OcxctlPath(), "--server", daemon_->server(), "--tls-ca",
                  Cert("ca.pem"), "--tls-cert", Cert("client-ocxauth-a.pem"),
                  "--tls-key", Cert("client-ocxauth-a.key"), "submit",
                  SpecFile(dir_.path()), "-o", "name"});
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  EXPECT_EQ(
      OwnerOf(daemon_->stub(), cert.out.substr(0, cert.out.find('\n'))).user(),
      kUserA);
  RunResult token = RunProgram(
      {OcxctlPath(), "--server", daemon_->server(), "list", "-o", "name"},
      {"OCX_TLS_CA=" + Cert("ca.pem"), "OCX_TOKEN_FILE=" + token_file});
  EXPECT_EQ(token.exit_code, 0) << token.err;
  RunResult missing =
      RunProgram({OcxctlPath(), "--server", daemon_->server(), "--tls-ca",
                  dir_.path() + "/no-such-ca.pem", "list"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--tls-ca " + dir_.path() +
                                     "/no-such-ca.pem: cannot read"));
}

// Needs no root: the daemon must not start at all.
TEST(TransportSecurityTest, PlainTextBeyondLoopbackIsRefusedAtStart) {
  TempDir dir;
  RunResult r = RunProgram({OcxdPath(), "--listen", "0.0.0.0:0", "--database",
                            dir.path() + "/ocx.db"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("refusing plain-text TCP on 0.0.0.0:0"));
  EXPECT_THAT(r.err, HasSubstr("--tls-cert"));
  EXPECT_FALSE(ocx::PathExists(dir.path() + "/ocx.db"));
}

TEST(TransportSecurityTest, TlsWithoutAWayToIdentifyClientsIsRefused) {
  TempDir dir;
  RunResult r = RunProgram({OcxdPath(), "--listen", "127.0.0.1:0", "--database",
                            dir.path() + "/ocx.db", "--tls-cert",
                            dir.path() + "/server.pem", "--tls-key",
                            dir.path() + "/server.key"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--tls-client-ca"));
  EXPECT_THAT(r.err, HasSubstr("--token-file"));
}

}  // namespace
}  // namespace ocx::testing
