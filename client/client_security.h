// What ocxctl presents to a TCP ocxd (docs/security.md, "Identity and
// transport"): TLS with the daemon's CA, optionally a client certificate
// (its CN names the user), and optionally a bearer token. Unix-socket
// daemons need none of it: the kernel tells ocxd who calls.
//
// Thread-safe: no shared state.
#ifndef OCX_CLIENT_CLIENT_SECURITY_H_
#define OCX_CLIENT_CLIENT_SECURITY_H_

#include <string>

#include "absl/status/statusor.h"

namespace ocx::client {

// File paths as given (--tls-ca, --tls-cert, --tls-key, --token-file, or
// OCX_TLS_CA, OCX_TLS_CERT, OCX_TLS_KEY, OCX_TOKEN_FILE).
struct ClientSecurityFiles {
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
};

// The files' contents, as RpcClient uses them.
struct ClientSecurity {
  bool tls = false;        // any of the TLS files given
  std::string root_certs;  // PEM; empty: the system's roots
  std::string cert_chain;  // PEM client certificate
  std::string private_key;
  std::string token;  // sent as "authorization: Bearer <token>"
};

// Reads the files. INVALID_ARGUMENT, naming the flag and the path, when one
// cannot be read, is not PEM, or only one of --tls-cert/--tls-key is given;
// the token file's first non-empty line that is not a '#' comment is the
// token (an empty one is an error).
absl::StatusOr<ClientSecurity> LoadClientSecurity(
    const ClientSecurityFiles& files);

}  // namespace ocx::client

#endif  // OCX_CLIENT_CLIENT_SECURITY_H_
