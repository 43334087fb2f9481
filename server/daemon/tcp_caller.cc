#include "server/daemon/tcp_caller.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/daemon/tcp_peer_uid.h"

namespace ocx::daemon {
namespace {

// The CN of a verified client certificate; empty when there is none.
std::string CertificateUser(const grpc::ServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::vector<grpc::string_ref> cn =
      auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (cn.empty()) return "";
  return std::string(cn.front().data(), cn.front().size());
}

// The token of an `authorization: Bearer` header; nullopt without one.
std::optional<std::string> BearerToken(const grpc::ServerContext& ctx) {
  auto range = ctx.client_metadata().equal_range("authorization");
  if (range.first == range.second) return std::nullopt;
  absl::string_view value(range.first->second.data(),
                          range.first->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ") &&
      !absl::ConsumePrefix(&value, "bearer ")) {
    return std::string();
  }
  return std::string(absl::StripAsciiWhitespace(value));
}

absl::StatusOr<Identity> Named(const std::string& user, const char* via,
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

absl::StatusOr<Identity> ByToken(const TcpCallerOptions& options,
                                 const std::string& token) {
  if (options.tokens == nullptr) {
    return absl::UnauthenticatedError(
        "this ocxd accepts no bearer tokens (its access.token_file is not "
        "set); use a client certificate or the unix socket");
  }
  absl::StatusOr<std::string> user = options.tokens->UserOf(token);
  if (!user.ok()) return user.status();
  return Named(*user, "token", options.admin_group);
}

absl::StatusOr<Identity> ByKernel(const TcpCallerOptions& options,
                                  const grpc::ServerContext& ctx) {
  absl::StatusOr<uid_t> uid = LoopbackPeerUid(ctx.peer(), *options.bound_port);
  if (!uid.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "cannot tell who is calling from ", ctx.peer(), " (",
        uid.status().message(),
        "); connect through ocxd's unix socket, or present a token "
        "(ocxctl --token-file)"));
  }
  absl::StatusOr<Identity> id = IdentityOfUid(*uid, options.admin_group);
  if (!id.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the caller's uid ", *uid, " has no local account on the ocxd host"));
  }
  id->via = "loopback tcp";
  return id;
}

absl::StatusOr<Identity> Resolve(const TcpCallerOptions& options,
                                 const grpc::ServerContext& ctx) {
  if (options.client_certificates) {
    std::string user = CertificateUser(ctx);
    if (!user.empty()) {
      return Named(user, "tls certificate", options.admin_group);
    }
  }
  std::optional<std::string> token = BearerToken(ctx);
  if (token.has_value()) return ByToken(options, *token);
  if (!options.tls) return ByKernel(options, ctx);
  return absl::UnauthenticatedError(absl::StrCat(
      "ocxd does not know who you are: present ",
      options.client_certificates
          ? "a client certificate signed by its access.tls.client_ca_file "
            "(ocxctl --tls-cert, --tls-key) or "
          : "",
      "a bearer token listed in its access.token_file (ocxctl --token-file)"));
}

}  // namespace

server::CallerResolver TcpCallerResolver(TcpCallerOptions options) {
  return [options = std::move(options)](const grpc::ServerContext& ctx) {
    return Resolve(options, ctx);
  };
}

}  // namespace ocx::daemon
