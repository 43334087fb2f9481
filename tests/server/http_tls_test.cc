// The HTTP listener's transport (server/http/http_server.h, http_tls.h):
// which addresses may be plain, the TLS files' errors, the certificate's
// names, and what a real TLS connection tells the caller resolver (the
// verified client certificate's CN, the Authorization header). Certificates
// come from tests/e2e/make-test-certs.sh (the openssl command line);
// cpp-httplib's own SSLClient is the client.
#include "server/http/http_tls.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/http/http_server.h"

namespace ocx::server {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class Certs {
 public:
  Certs() {
    char dir_template[] = "/tmp/ocx-http-tls-XXXXXX";
    dir_ = mkdtemp(dir_template) != nullptr ? dir_template : "";
    const std::string make = absl::StrCat("sh ", OCX_MAKE_TEST_CERTS, " ", dir_,
                                          " alice >/dev/null 2>&1");
    ok_ = !dir_.empty() && system(make.c_str()) == 0;
  }
  ~Certs() {
    if (!dir_.empty()) {
      int rc = system(absl::StrCat("rm -rf '", dir_, "'").c_str());
      (void)rc;
    }
  }
  bool ok() const { return ok_; }
  std::string operator()(const std::string& name) const {
    return dir_ + "/" + name;
  }
  HttpTlsFiles Files() const {
    return {(*this)("server.pem"), (*this)("server.key"), (*this)("ca.pem")};
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(HttpTransportTest, PlainHttpOnlyOnLoopback) {
  EXPECT_TRUE(CheckHttpTransport("127.0.0.1:0", false).ok());
  EXPECT_TRUE(CheckHttpTransport("[::1]:9464", false).ok());
  EXPECT_TRUE(CheckHttpTransport("localhost:9464", false).ok());
  absl::Status wide = CheckHttpTransport("0.0.0.0:8443", false);
  EXPECT_EQ(wide.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wide.message(), HasSubstr("--http-listen"));
  EXPECT_THAT(wide.message(), HasSubstr("--tls-cert"));
  EXPECT_TRUE(CheckHttpTransport("0.0.0.0:8443", true).ok());
  absl::Status bad = CheckHttpTransport("8443", true);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("--http-listen"));
}

TEST(HttpTransportTest, UnusableTlsFilesAreNamed) {
  Certs certs;
  ASSERT_TRUE(certs.ok());
  HttpTlsFiles missing = certs.Files();
  missing.cert_file = certs("missing.pem");
  absl::Status s =
      HttpServer::Start("127.0.0.1:0", std::nullopt, missing).status();
  EXPECT_THAT(s.message(), HasSubstr("access.tls.cert_file"));
  EXPECT_THAT(s.message(), HasSubstr("missing.pem"));

  HttpTlsFiles other_key = certs.Files();
  other_key.key_file = certs("ca.key");  // not server.pem's key
  s = HttpServer::Start("127.0.0.1:0", std::nullopt, other_key).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("access.tls.key_file"));

  HttpTlsFiles no_ca = certs.Files();
  no_ca.client_ca_file = certs("server.ext");  // not PEM
  s = HttpServer::Start("127.0.0.1:0", std::nullopt, no_ca).status();
  EXPECT_THAT(s.message(), HasSubstr("access.tls.client_ca_file"));
}

TEST(HttpTransportTest, CertificateNamesAreItsAltNamesAndCn) {
  Certs certs;
  ASSERT_TRUE(certs.ok());
  absl::StatusOr<std::vector<std::string>> names =
      CertificateNames(certs("server.pem"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, Contains("127.0.0.1"));
  EXPECT_THAT(*names, Contains("localhost"));
  EXPECT_EQ(names->size(), 2u);  // CN localhost is also a DNS name
}

// The resolver sees what the TLS connection carried; it refuses with that
// in its message, so the routes need no API behind them.
TEST(HttpTransportTest, ResolverSeesTheVerifiedCertificateAndTheHeader) {
  Certs certs;
  ASSERT_TRUE(certs.ok());
  ConsoleRoutesOptions console;
  console.caller = [](const HttpPeer& peer) -> absl::StatusOr<Identity> {
    return absl::PermissionDeniedError(
        absl::StrCat("tls=", peer.tls, " cn=", peer.certificate_user,
                     " authorization=", peer.authorization.value_or("(none)")));
  };
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1:0", std::move(console), certs.Files());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->url(), ::testing::StartsWith("https://127.0.0.1:"));
  const int port = std::stoi((*server)->address().substr(10));

  httplib::SSLClient alice("127.0.0.1", port, certs("client-alice.pem"),
                           certs("client-alice.key"));
  alice.set_ca_cert_path(certs("ca.pem"));
  alice.enable_server_certificate_verification(true);
  httplib::Result with_cert = alice.Get("/api/servers");
  ASSERT_TRUE(with_cert) << httplib::to_string(with_cert.error());
  EXPECT_EQ(with_cert->status, 403);
  EXPECT_THAT(with_cert->body,
              HasSubstr("tls=1 cn=alice authorization=(none)"));

  httplib::SSLClient anonymous("127.0.0.1", port);
  anonymous.set_ca_cert_path(certs("ca.pem"));
  anonymous.enable_server_certificate_verification(true);
  httplib::Result with_token =
      anonymous.Get("/api/servers", {{"Authorization", "Bearer t0"}});
  ASSERT_TRUE(with_token) << httplib::to_string(with_token.error());
  EXPECT_THAT(with_token->body, HasSubstr("tls=1 cn= authorization=Bearer t0"));
  // Over TLS /metrics asks the same resolver.
  httplib::Result metrics = anonymous.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 403);

  // A certificate of another CA does not get through the handshake.
  httplib::SSLClient stranger("127.0.0.1", port, certs("other-client.pem"),
                              certs("other-client.key"));
  stranger.set_ca_cert_path(certs("ca.pem"));
  stranger.enable_server_certificate_verification(true);
  httplib::Result refused = stranger.Get("/api/servers");
  EXPECT_FALSE(refused) << refused->status << refused->body;
}

}  // namespace
}  // namespace ocx::server
