// The rule both TCP listeners (gRPC and HTTP) identify callers by
// (server/daemon/caller_credentials.h), without a network: certificates,
// tokens, what a caller with neither is told, and the start-up checks.
#include "server/daemon/caller_credentials.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TcpCallerOptions Tls(bool client_certificates, const std::string& tokens) {
  TcpCallerOptions options;
  options.tls = true;
  options.client_certificates = client_certificates;
  if (!tokens.empty()) {
    absl::StatusOr<TokenFile> file = TokenFile::Parse(tokens, "tokens");
    EXPECT_TRUE(file.ok()) << file.status();
    options.tokens = std::make_shared<const TokenFile>(*std::move(file));
  }
  return options;
}

PresentedCredentials Certificate(const std::string& cn) {
  PresentedCredentials given;
  given.certificate_user = cn;
  return given;
}

PresentedCredentials Token(const std::string& token) {
  PresentedCredentials given;
  given.bearer_token = token;
  return given;
}

TEST(CallerCredentialsTest, BearerTokenOfTakesTheBearerSchemeOnly) {
  EXPECT_EQ(BearerTokenOf("Bearer abc "), "abc");
  EXPECT_EQ(BearerTokenOf("bearer abc"), "abc");
  EXPECT_EQ(BearerTokenOf("Basic YWxhZGRpbjpvcGVu"), "");
  EXPECT_EQ(BearerTokenOf(""), "");
}

TEST(CallerCredentialsTest, CertificateCnNamesTheAccount) {
  absl::StatusOr<Identity> root = CallerOfCredentials(
      Tls(true, ""), Certificate("root"), CallerClient::kHttp);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->via, "tls certificate");

  absl::StatusOr<Identity> nobody = CallerOfCredentials(
      Tls(true, ""), Certificate("ocx-no-such-user"), CallerClient::kHttp);
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(nobody.status().message(), HasSubstr("ocx-no-such-user"));
}

TEST(CallerCredentialsTest, TokenNamesItsUserAndAnUnknownOneIsRefused) {
  const TcpCallerOptions options =
      Tls(true, absl::StrCat("root ", Sha256Hex("t-root"), "\n"));
  absl::StatusOr<Identity> root =
      CallerOfCredentials(options, Token("t-root"), CallerClient::kGrpc);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->user, "root");
  EXPECT_EQ(root->via, "token");
  EXPECT_EQ(CallerOfCredentials(options, Token("t-other"), CallerClient::kGrpc)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  // Without a token file no token is accepted, and the message says so.
  absl::StatusOr<Identity> no_file =
      CallerOfCredentials(Tls(true, ""), Token("t-root"), CallerClient::kHttp);
  EXPECT_EQ(no_file.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(no_file.status().message(), HasSubstr("access.token_file"));
}

TEST(CallerCredentialsTest, NeitherIsToldWhatToPresentInItsClientsTerms) {
  const TcpCallerOptions options = Tls(true, "");
  absl::Status http =
      CallerOfCredentials(options, {}, CallerClient::kHttp).status();
  EXPECT_EQ(http.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(http.message(), HasSubstr("curl --cert"));
  EXPECT_THAT(http.message(), HasSubstr("Authorization: Bearer <token>"));
  EXPECT_THAT(http.message(), Not(HasSubstr("ocxctl")));
  absl::Status grpc =
      CallerOfCredentials(options, {}, CallerClient::kGrpc).status();
  EXPECT_THAT(grpc.message(), HasSubstr("ocxctl --tls-cert"));
  EXPECT_THAT(grpc.message(), HasSubstr("ocxctl --token-file"));
  // Without client certificates, only the token is offered.
  EXPECT_THAT(CallerOfCredentials(Tls(false, ""), {}, CallerClient::kHttp)
                  .status()
                  .message(),
              Not(HasSubstr("certificate")));
}

TEST(CallerCredentialsTest, OverTlsTheKernelIsNeverAsked) {
  // A loopback peer that this process could own: over TLS it still has to
  // present something.
  absl::StatusOr<Identity> id =
      CallerOf(Tls(true, ""), {}, "ipv4:127.0.0.1:1", 2, CallerClient::kHttp);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(id.status().message(), HasSubstr("does not know who you are"));
}

TEST(CallerCredentialsTest, PlainTextTakesATokenBeforeTheKernel) {
  TcpCallerOptions options =
      Tls(false, absl::StrCat("root ", Sha256Hex("t-root"), "\n"));
  options.tls = false;
  absl::StatusOr<Identity> id = CallerOf(
      options, Token("t-root"), "ipv4:127.0.0.1:1", 2, CallerClient::kHttp);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->via, "token");
  // No such connection in the kernel's tables: the HTTP client is told how
  // to reach the console instead.
  absl::StatusOr<Identity> none =
      CallerOf(options, {}, "ipv4:127.0.0.1:1", 2, CallerClient::kHttp);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("SSH"));
}

TEST(CallerCredentialsTest, TlsNeedsAWayToIdentifyClients) {
  v1::AccessSettings access;
  EXPECT_TRUE(CheckClientsCanIdentify(access).ok());
  access.mutable_tls()->set_cert_file("server.pem");
  access.mutable_tls()->set_key_file("server.key");
  absl::Status none = CheckClientsCanIdentify(access);
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("--tls-client-ca"));
  EXPECT_THAT(none.message(), HasSubstr("--token-file"));
  access.set_token_file("tokens");
  EXPECT_TRUE(CheckClientsCanIdentify(access).ok());
}

TEST(CallerCredentialsTest, OptionsFromAccessLoadTheTokenFileAgainstBase) {
  char dir_template[] = "/tmp/ocx-caller-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string file = dir + "/tokens";
  std::ofstream(file) << "root " << Sha256Hex("t") << "\n";
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  v1::AccessSettings access;
  access.mutable_tls()->set_cert_file("server.pem");
  access.mutable_tls()->set_key_file("server.key");
  access.mutable_tls()->set_client_ca_file("ca.pem");
  access.set_token_file("tokens");
  access.set_admin_group("wheel");
  absl::StatusOr<TcpCallerOptions> options = TcpCallerOptionsFrom(access, dir);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->tls);
  EXPECT_TRUE(options->client_certificates);
  EXPECT_EQ(options->admin_group, "wheel");
  ASSERT_NE(options->tokens, nullptr);
  EXPECT_EQ(*options->tokens->UserOf("t"), "root");

  access.set_token_file("missing");
  EXPECT_FALSE(TcpCallerOptionsFrom(access, dir).ok());
  unlink(file.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace ocx::daemon
