// TLS material and a token file for the transport tests (auth_e2e_test,
// http_tls_e2e_test): certificates from tests/e2e/make-test-certs.sh (the
// openssl command line) in <dir>/certs, and <dir>/tokens holding one
// user's token hash, as ocxd's --token-file wants.
#ifndef OCX_TESTS_E2E_TEST_CREDENTIALS_H_
#define OCX_TESTS_E2E_TEST_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/e2e/ocxd_process.h"

namespace ocx::testing {

class TestCredentials {
 public:
  // Client certificates for each of `cns` (client-<CN>.pem/.key), signed by
  // ca.pem; server.pem for 127.0.0.1 and localhost; other-client.pem from
  // another CA. `token_user` holds `token`. `script` is
  // make-test-certs.sh. See error() when something failed.
  TestCredentials(const std::string& dir, const std::string& script,
                  const std::vector<std::string>& cns,
                  const std::string& token_user, const std::string& token)
      : certs_(dir + "/certs"), tokens_(dir + "/tokens") {
    mkdir(certs_.c_str(), 0755);
    std::vector<std::string> argv = {"/bin/sh", script, certs_};
    argv.insert(argv.end(), cns.begin(), cns.end());
    RunResult made = RunProgram(argv);
    if (made.exit_code != 0) error_ = made.err;
    RunResult sha = RunProgram(
        {"/bin/sh", "-c", absl::StrCat("printf %s '", token, "' | sha256sum")});
    std::ofstream(tokens_) << "# user sha256\n"
                           << token_user << " " << sha.out.substr(0, 64)
                           << "\n";
    chmod(tokens_.c_str(), 0600);
  }

  // Empty when every file was made.
  const std::string& error() const { return error_; }
  std::string Cert(const std::string& name) const {
    return certs_ + "/" + name;
  }
  const std::string& tokens() const { return tokens_; }
  // ocxd's flags for TLS with client certificates and tokens.
  std::vector<std::string> DaemonFlags() const {
    return {"--tls-cert",      Cert("server.pem"),
            "--tls-key",       Cert("server.key"),
            "--tls-client-ca", Cert("ca.pem"),
            "--token-file",    tokens_};
  }
  // gRPC TLS trusting ca.pem, with the client certificate `client` (e.g.
  // "client-alice"; none: "").
  std::shared_ptr<grpc::ChannelCredentials> Grpc(
      const std::string& client) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = FileText(Cert("ca.pem"));
    if (!client.empty()) {
      ssl.pem_cert_chain = FileText(Cert(client + ".pem"));
      ssl.pem_private_key = FileText(Cert(client + ".key"));
    }
    return grpc::SslCredentials(ssl);
  }

 private:
  std::string certs_;
  std::string tokens_;
  std::string error_;
};

}  // namespace ocx::testing

#endif  // OCX_TESTS_E2E_TEST_CREDENTIALS_H_
