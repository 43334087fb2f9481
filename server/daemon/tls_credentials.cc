#include "server/daemon/tls_credentials.h"

#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace ocx::daemon {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view field,
                                    const std::string& path,
                                    const std::string& base) {
  absl::StatusOr<std::string> text = ReadFile(AbsolutePath(path, base));
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("access.tls.", field, ": ", text.status().message()));
  }
  if (text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("access.tls.", field, ": ", path, " is not PEM"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const v1::TlsSettings& tls, const std::string& base) {
  if (tls.cert_file().empty() || tls.key_file().empty()) {
    return absl::InvalidArgumentError(
        "access.tls: set both cert_file and key_file (--tls-cert, "
        "--tls-key)");
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  OCX_ASSIGN_OR_RETURN(pair.cert_chain,
                       ReadPem("cert_file", tls.cert_file(), base));
  OCX_ASSIGN_OR_RETURN(pair.private_key,
                       ReadPem("key_file", tls.key_file(), base));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file().empty()) {
    OCX_ASSIGN_OR_RETURN(options.pem_root_certs,
                         ReadPem("client_ca_file", tls.client_ca_file(), base));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    options.client_certificate_request =
        GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace ocx::daemon
