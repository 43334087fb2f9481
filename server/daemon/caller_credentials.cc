#include "server/daemon/caller_credentials.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "server/daemon/tcp_peer_uid.h"

namespace ocx::daemon {
namespace {

absl::StatusOr<Identity> ByToken(const TcpCallerOptions& options,
                                 const std::string& token) {
  if (options.tokens == nullptr) {
    return absl::UnauthenticatedError(
        "this ocxd accepts no bearer tokens (its access.token_file is not "
        "set); use a client certificate or the unix socket");
  }
  absl::StatusOr<std::string> user = options.tokens->UserOf(token);
  if (!user.ok()) return user.status();
  return NamedCaller(*user, "token", options.admin_group);
}

absl::StatusOr<Identity> ByKernel(const TcpCallerOptions& options,
                                  absl::string_view peer, int server_port,
                                  CallerClient client) {
  absl::StatusOr<Identity> id =
      LoopbackPeerIdentity(peer, server_port, options.admin_group);
  if (!absl::IsUnauthenticated(id.status())) return id;
  return absl::UnauthenticatedError(absl::StrCat(
      id.status().message(),
      client == CallerClient::kGrpc
          ? "; connect through ocxd's unix socket, or present a token "
            "(ocxctl --token-file)"
          : "; open the console from a browser on the ocxd host (an SSH "
            "tunnel forwards it), or send a bearer token (header "
            "\"Authorization: Bearer <token>\")"));
}

}  // namespace

bool TlsConfigured(const v1::TlsSettings& tls) {
  return !tls.cert_file().empty() || !tls.key_file().empty();
}

absl::Status CheckClientsCanIdentify(const v1::AccessSettings& access) {
  if (!TlsConfigured(access.tls()) || !access.tls().client_ca_file().empty() ||
      !access.token_file().empty()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "access.tls: with TLS, callers are identified by a client "
      "certificate or a token; set access.tls.client_ca_file "
      "(--tls-client-ca) or access.token_file (--token-file), else no "
      "client could make a call");
}

absl::StatusOr<TcpCallerOptions> TcpCallerOptionsFrom(
    const v1::AccessSettings& access, const std::string& base) {
  TcpCallerOptions caller;
  caller.tls = TlsConfigured(access.tls());
  caller.client_certificates =
      caller.tls && !access.tls().client_ca_file().empty();
  caller.admin_group = access.admin_group();
  if (!access.token_file().empty()) {
    absl::StatusOr<TokenFile> tokens =
        TokenFile::Load(AbsolutePath(access.token_file(), base));
    if (!tokens.ok()) return tokens.status();
    caller.tokens = std::make_shared<const TokenFile>(*std::move(tokens));
  }
  return caller;
}

std::string BearerTokenOf(absl::string_view authorization) {
  if (!absl::ConsumePrefix(&authorization, "Bearer ") &&
      !absl::ConsumePrefix(&authorization, "bearer ")) {
    return "";
  }
  return std::string(absl::StripAsciiWhitespace(authorization));
}

absl::StatusOr<Identity> NamedCaller(const std::string& user, const char* via,
                                     const std::string& admin_group) {
  absl::StatusOr<Identity> id = IdentityOfUser(user, admin_group);
  if (!id.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the ", via, " names user \"", user,
                     "\", which has no local account on the ocxd host"));
  }
  id->via = via;
  return id;
}

absl::Status NotAuthenticated(const TcpCallerOptions& options,
                              CallerClient client) {
  const bool grpc = client == CallerClient::kGrpc;
  std::string certificate;
  if (options.client_certificates) {
    certificate = absl::StrCat(
        "a client certificate signed by its access.tls.client_ca_file (",
        grpc ? "ocxctl --tls-cert, --tls-key"
             : "imported into the browser; curl --cert, --key",
        ") or ");
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "ocxd does not know who you are: present ", certificate,
      "a bearer token listed in its access.token_file (",
      grpc ? "ocxctl --token-file" : "header \"Authorization: Bearer <token>\"",
      ")"));
}

absl::StatusOr<Identity> CallerOfCredentials(const TcpCallerOptions& options,
                                             const PresentedCredentials& given,
                                             CallerClient client) {
  if (options.client_certificates && !given.certificate_user.empty()) {
    return NamedCaller(given.certificate_user, "tls certificate",
                       options.admin_group);
  }
  if (given.bearer_token.has_value()) {
    return ByToken(options, *given.bearer_token);
  }
  return NotAuthenticated(options, client);
}

absl::StatusOr<Identity> CallerOf(const TcpCallerOptions& options,
                                  const PresentedCredentials& given,
                                  absl::string_view peer, int server_port,
                                  CallerClient client) {
  if (options.tls) return CallerOfCredentials(options, given, client);
  if (given.bearer_token.has_value()) {
    return ByToken(options, *given.bearer_token);
  }
  return ByKernel(options, peer, server_port, client);
}

}  // namespace ocx::daemon
