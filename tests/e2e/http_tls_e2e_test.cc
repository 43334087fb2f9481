// The HTTP listener's transport and identity (docs/security.md, "Identity
// and transport"; docs/console.md): a real ocxd serving the console over
// HTTPS with the gRPC API's certificate, client CA and token file, and
// curl as the client. Callers are real local users (created here, prefix
// ocxhttps; the tests skip when not run as root): a client certificate
// names one, a bearer token the other, and each sees only their own
// evaluations.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/ocxd_process.h"
#include "tests/e2e/test_credentials.h"
#include "tests/test_users.h"

namespace ocx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUserA[] = "ocxhttps-a";  // by client certificate
constexpr char kUserB[] = "ocxhttps-b";  // by bearer token
constexpr char kToken[] = "ocxhttps-token-of-b";
constexpr char kCurl[] = "/usr/bin/curl";

// One curl call: its exit code, the HTTP status (0 when none came) and the
// body.
struct CurlResult {
  int exit_code = -1;
  int status = 0;
  std::string body;
  std::string err;
};

CurlResult Curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {kCurl, "-sS", "--max-time",
                                   "10",  "-w",  "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(argv);
  CurlResult c;
  c.exit_code = r.exit_code;
  c.err = r.err;
  size_t last = r.out.rfind('\n');
  if (last != std::string::npos) {
    (void)absl::SimpleAtoi(r.out.substr(last + 1), &c.status);
    c.body = r.out.substr(0, last);
  }
  return c;
}

std::string WriteFile(const std::string& path, const std::string& text,
                      mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

// curl's options trusting ca.pem, with client certificate `client`.
std::vector<std::string> CurlCert(const TestCredentials& creds,
                                  const std::string& client) {
  return {"--cacert", creds.Cert("ca.pem"),
          "--cert",   creds.Cert(client + ".pem"),
          "--key",    creds.Cert(client + ".key")};
}

class HttpTlsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string skip = RunAsSkipReason();
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (access(kCurl, X_OK) != 0) GTEST_SKIP() << kCurl << " is missing";
    ASSERT_TRUE(TestUser(kUserA).ok());
    ASSERT_TRUE(TestUser(kUserB).ok());
    // The users' tasks make work dirs under the directory.
    chmod(dir_.path().c_str(), 0711);
    creds_ = std::make_unique<TestCredentials>(
        dir_.path(), OCX_MAKE_TEST_CERTS,
        std::vector<std::string>{kUserA, "ocxhttps-nobody"}, kUserB, kToken);
    ASSERT_EQ(creds_->error(), "");
    std::vector<std::string> flags = creds_->DaemonFlags();
    flags.insert(flags.end(), {"--http-listen", "127.0.0.1:0"});
    daemon_ = std::make_unique<OcxdProcess>(dir_.path(), flags);
    // The gRPC API on loopback TCP with the same TLS: the harness's stub
    // acts as kUserA by its certificate.
    daemon_->UseListen("127.0.0.1:0");
    daemon_->UseCredentials(creds_->Grpc(absl::StrCat("client-", kUserA)));
    ASSERT_TRUE(daemon_->Start().ok()) << daemon_->log();
    const std::string metrics = MetricsUrl(daemon_->log());
    ASSERT_THAT(metrics, ::testing::StartsWith("https://127.0.0.1:"))
        << daemon_->log();
    base_ = metrics.substr(0, metrics.size() - std::string("/metrics").size());
    of_a_ = CreateOrFail(daemon_->stub(), TestSpec(1, 1, {})).id();
    of_b_ = CreateAsB();
  }

  // An evaluation kUserB owns, created over gRPC with kUserB's token.
  std::string CreateAsB() {
    auto stub = v1::EvaluationService::NewStub(
        grpc::CreateChannel(daemon_->server(), creds_->Grpc("")));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    v1::CreateEvaluationRequest req;
    *req.mutable_spec() = TestSpec(1, 1, {});
    v1::Evaluation eval;
    grpc::Status status = stub->CreateEvaluation(&ctx, req, &eval);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(eval.owner().user(), kUserB);
    return eval.id();
  }

  CurlResult AsA(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> args =
        CurlCert(*creds_, absl::StrCat("client-", kUserA));
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(base_ + path);
    return Curl(args);
  }
  CurlResult WithToken(const std::string& path, const std::string& token) {
    return Curl({"--cacert", creds_->Cert("ca.pem"), "-H",
                 absl::StrCat("Authorization: Bearer ", token), base_ + path});
  }

  TempDir dir_;
  std::unique_ptr<TestCredentials> creds_;
  std::unique_ptr<OcxdProcess> daemon_;
  std::string base_;  // https://127.0.0.1:PORT
  std::string of_a_;  // evaluation ids by owner
  std::string of_b_;
};

// The list of everyone's evaluations is open to every identified caller,
// as over gRPC; "owner=me" is the caller's own, which the identity decides.
TEST_F(HttpTlsE2ETest, ClientCertificateSeesItsOwnEvaluationsOnly) {
  CurlResult list = AsA("/api/evaluations?owner=me");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_THAT(list.body, HasSubstr(of_a_));
  EXPECT_THAT(list.body, Not(HasSubstr(of_b_)));
  EXPECT_THAT(list.body, HasSubstr(absl::StrCat("\"user\":\"", kUserA, "\"")));

  EXPECT_EQ(AsA("/api/evaluations/" + of_a_).status, 200);
  CurlResult other = AsA("/api/evaluations/" + of_b_);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_THAT(other.body, HasSubstr("PERMISSION_DENIED"));

  // A certificate whose CN names no account.
  CurlResult nobody = Curl([&] {
    std::vector<std::string> a = CurlCert(*creds_, "client-ocxhttps-nobody");
    a.push_back(base_ + "/api/evaluations");
    return a;
  }());
  EXPECT_EQ(nobody.status, 403) << nobody.body;
  EXPECT_THAT(nobody.body, HasSubstr("ocxhttps-nobody"));
}

// The log tail (server-sent events) streams over TLS to its owner only.
TEST_F(HttpTlsE2ETest, LogTailStreamsOverTlsToItsOwner) {
  absl::StatusOr<v1::Evaluation> ended = WaitForEnd(daemon_->stub(), of_a_, 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  const std::string task = AllTasks(daemon_->stub(), of_a_).front().id();
  const std::string log = "/api/tasks/" + task + "/log";
  CurlResult tail = AsA(log);
  EXPECT_EQ(tail.status, 200) << tail.body;
  EXPECT_THAT(tail.body, HasSubstr("event: end"));
  CurlResult other = WithToken(log, kToken);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_THAT(other.body, Not(HasSubstr("event: end")));
}

TEST_F(HttpTlsE2ETest, BearerTokenNamesItsUserAndAWrongOneIsRefused) {
  CurlResult list = WithToken("/api/evaluations?owner=me", kToken);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_THAT(list.body, HasSubstr(of_b_));
  EXPECT_THAT(list.body, Not(HasSubstr(of_a_)));
  EXPECT_EQ(WithToken("/api/evaluations/" + of_a_, kToken).status, 403);

  CurlResult wrong = WithToken("/api/evaluations", "not-the-token");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_THAT(wrong.body, Not(HasSubstr(of_b_)));
}

TEST_F(HttpTlsE2ETest, AnonymousCallersGet401WithWhatToPresent) {
  for (const char* path : {"/api/evaluations", "/metrics"}) {
    CurlResult none =
        Curl({"--cacert", creds_->Cert("ca.pem"), "-D", "-", base_ + path});
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_EQ(none.status, 401) << path << ": " << none.body;
    EXPECT_THAT(none.body, HasSubstr("WWW-Authenticate: Bearer")) << path;
    EXPECT_THAT(none.body, HasSubstr("client certificate")) << path;
    EXPECT_THAT(none.body, HasSubstr("Authorization: Bearer")) << path;
    EXPECT_THAT(none.body, Not(HasSubstr(of_a_))) << path;
  }
  // The log tail is refused the same way.
  EXPECT_EQ(
      Curl({"--cacert", creds_->Cert("ca.pem"), base_ + "/api/tasks/x/log"})
          .status,
      401);
  // /healthz stays open (a load balancer's probe).
  EXPECT_EQ(
      Curl({"--cacert", creds_->Cert("ca.pem"), base_ + "/healthz"}).status,
      200);
  // An identified scraper reads /metrics.
  CurlResult scrape = WithToken("/metrics", kToken);
  EXPECT_EQ(scrape.status, 200);
  EXPECT_THAT(scrape.body, HasSubstr("ocx_"));
}

TEST_F(HttpTlsE2ETest, PlainHttpAndAnotherCasCertificateFailTheHandshake) {
  std::string plain_url = base_;
  plain_url.replace(0, std::string("https").size(), "http");
  CurlResult plain = Curl({plain_url + "/api/evaluations"});
  EXPECT_NE(plain.exit_code, 0) << plain.body;
  EXPECT_EQ(plain.status, 0) << plain.body;
  EXPECT_THAT(plain.body, Not(HasSubstr(of_a_)));

  CurlResult other =
      Curl({"--cacert", creds_->Cert("ca.pem"), "--cert",
            creds_->Cert("other-client.pem"), "--key",
            creds_->Cert("other-client.key"), base_ + "/api/evaluations"});
  EXPECT_NE(other.exit_code, 0) << other.body;
  EXPECT_EQ(other.status, 0);
}

TEST_F(HttpTlsE2ETest, HostMustBeACertificateNameAndCancelNeedsOwnOrigin) {
  // "localhost" is in the certificate (make-test-certs.sh); another name
  // is what a DNS-rebinding page would send.
  EXPECT_EQ(AsA("/api/evaluations", {"-H", "Host: localhost"}).status, 200);
  CurlResult rebound = AsA("/api/evaluations", {"-H", "Host: evil.example"});
  EXPECT_EQ(rebound.status, 403);
  EXPECT_THAT(rebound.body, HasSubstr("evil.example"));

  const std::string long_one =
      CreateOrFail(daemon_->stub(), TestSpec(1, 1, {"--sleep-ms", "60000"}))
          .id();
  const std::string cancel = "/api/evaluations/" + long_one + "/cancel";
  const std::string host = base_.substr(std::string("https://").size());
  CurlResult foreign =
      AsA(cancel, {"-X", "POST", "-d", "", "-H", "X-Ocx-Console: 1", "-H",
                   "Origin: http://" + host});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  CurlResult own = AsA(cancel, {"-X", "POST", "-d", "", "-H",
                                "X-Ocx-Console: 1", "-H", "Origin: " + base_});
  EXPECT_EQ(own.status, 200) << own.body;
  absl::StatusOr<v1::Evaluation> ended =
      WaitForEnd(daemon_->stub(), long_one, 60);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state(), v1::Evaluation::CANCELLED);
}

// Any address, with TLS: a caller from this machine is still only who its
// certificate or token says (the kernel's word is for plain loopback).
TEST_F(HttpTlsE2ETest, AllAddressesWithTlsIdentifyByCredentialsOnly) {
  TempDir dir;
  std::vector<std::string> flags = creds_->DaemonFlags();
  flags.insert(flags.end(), {"--http-listen", "0.0.0.0:0"});
  OcxdProcess wide(dir.path(), flags);
  ASSERT_TRUE(wide.Start().ok()) << wide.log();
  const std::string metrics = MetricsUrl(wide.log());
  ASSERT_THAT(metrics, ::testing::StartsWith("https://0.0.0.0:"));
  std::string url = metrics;
  url.replace(0, std::string("https://0.0.0.0").size(), "https://127.0.0.1");
  url.replace(url.size() - std::string("metrics").size(), std::string::npos,
              "api/evaluations");
  CurlResult none = Curl({"--cacert", creds_->Cert("ca.pem"), url});
  EXPECT_EQ(none.status, 401) << none.body;
  std::vector<std::string> a =
      CurlCert(*creds_, absl::StrCat("client-", kUserA));
  a.push_back(url);
  CurlResult cert = Curl(a);
  EXPECT_EQ(cert.status, 200) << cert.body;
  EXPECT_THAT(cert.body, HasSubstr(kUserA));
}

// Needs no root: ocxd must not start at all.
TEST(HttpStartTest, PlainHttpBeyondLoopbackIsRefusedAtStart) {
  TempDir dir;
  RunResult r = RunProgram({OcxdPath(), "--listen",
                            "unix://" + dir.path() + "/s.sock", "--http-listen",
                            "0.0.0.0:0", "--database", dir.path() + "/ocx.db"});
  EXPECT_EQ(r.exit_code, 78);  // a configuration error
  EXPECT_THAT(r.err, HasSubstr("--http-listen: refusing plain HTTP on "
                               "0.0.0.0:0"));
  EXPECT_THAT(r.err, HasSubstr("--tls-cert"));
  EXPECT_FALSE(ocx::PathExists(dir.path() + "/ocx.db"));
}

TEST(HttpStartTest, AMissingCertificateIsNamedBeforeAnythingServes) {
  TempDir dir;
  const std::string tokens =
      WriteFile(dir.path() + "/tokens",
                absl::StrCat("someone ", std::string(64, 'a'), "\n"), 0600);
  RunResult r = RunProgram(
      {OcxdPath(), "--listen", "unix://" + dir.path() + "/s.sock",
       "--http-listen", "127.0.0.1:0", "--database", dir.path() + "/ocx.db",
       "--tls-cert", dir.path() + "/missing.pem", "--tls-key",
       dir.path() + "/missing.key", "--token-file", tokens});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("access.tls.cert_file"));
  EXPECT_THAT(r.err, HasSubstr("missing.pem"));
  EXPECT_THAT(r.err, Not(HasSubstr("listening on")));
  EXPECT_FALSE(ocx::PathExists(dir.path() + "/ocx.db.address"));
}

}  // namespace
}  // namespace ocx::testing
