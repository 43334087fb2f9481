// TLS of ocxd's HTTP listener (docs/security.md, "Identity and
// transport"): the same files as the gRPC API's (access.tls), served by
// cpp-httplib's SSLServer (Debian's libcpp-httplib is built with OpenSSL).
// As for gRPC, with a client CA the server asks every client for a
// certificate and verifies one that is offered (a certificate from another
// CA fails the handshake), but a client without one still connects, so
// that it can send a bearer token instead.
//
// Thread-safe: no shared state.
#ifndef OCX_SERVER_HTTP_HTTP_TLS_H_
#define OCX_SERVER_HTTP_HTTP_TLS_H_

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ocx::server {

// Absolute paths of access.tls's PEM files; cert_file empty: plain HTTP.
struct HttpTlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: no client certificates

  bool enabled() const { return !cert_file.empty(); }
};

// Loads `files` into `ctx` (TLS 1.2 or later). INVALID_ARGUMENT naming the
// access.tls field, the path and OpenSSL's reason when a file cannot be
// used.
absl::Status ConfigureTls(const HttpTlsFiles& files, SSL_CTX* ctx);

// The names a browser may reach the server under: the certificate's
// subject alternative names (DNS names and IP addresses) and its subject
// CN, lowercase.
absl::StatusOr<std::vector<std::string>> CertificateNames(
    const std::string& cert_file);

// The subject CN of the client certificate `ssl`'s handshake verified;
// empty when the client sent none (or `ssl` is null: plain HTTP).
std::string VerifiedClientName(const SSL* ssl);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_HTTP_TLS_H_
