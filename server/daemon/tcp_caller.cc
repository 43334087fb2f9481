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

// What TlsAuthenticator records in the AuthContext of an authenticated
// call.
constexpr char kUserProperty[] = "ocx_user";
constexpr char kViaProperty[] = "ocx_via";

std::string FirstProperty(const grpc::AuthContext& auth, const char* name) {
  std::vector<grpc::string_ref> values = auth.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

// The CN of a verified client certificate; empty when there is none.
std::string CertificateUser(const grpc::AuthContext& auth) {
  if (!auth.IsPeerAuthenticated()) return "";
  return FirstProperty(auth, GRPC_X509_CN_PROPERTY_NAME);
}

// The token of an `authorization: Bearer` header; nullopt without one.
template <typename Multimap>
std::optional<std::string> BearerToken(const Multimap& metadata) {
  auto found = metadata.find("authorization");
  if (found == metadata.end()) return std::nullopt;
  absl::string_view value(found->second.data(), found->second.size());
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
  absl::StatusOr<Identity> id = LoopbackPeerIdentity(
      ctx.peer(), *options.bound_port, options.admin_group);
  if (absl::IsUnauthenticated(id.status())) {
    return absl::UnauthenticatedError(
        absl::StrCat(id.status().message(),
                     "; connect through ocxd's unix socket, or present a "
                     "token (ocxctl --token-file)"));
  }
  return id;
}

absl::Status NotAuthenticated(const TcpCallerOptions& options) {
  return absl::UnauthenticatedError(absl::StrCat(
      "ocxd does not know who you are: present ",
      options.client_certificates
          ? "a client certificate signed by its access.tls.client_ca_file "
            "(ocxctl --tls-cert, --tls-key) or "
          : "",
      "a bearer token listed in its access.token_file (ocxctl --token-file)"));
}

// Steps 1-2 of the header: a certificate, else a token.
absl::StatusOr<Identity> ByCredentials(
    const TcpCallerOptions& options, const grpc::AuthContext& auth,
    const grpc::AuthMetadataProcessor::InputMetadata& metadata) {
  if (options.client_certificates) {
    std::string user = CertificateUser(auth);
    if (!user.empty()) {
      return Named(user, "tls certificate", options.admin_group);
    }
  }
  std::optional<std::string> token = BearerToken(metadata);
  if (token.has_value()) return ByToken(options, *token);
  return NotAuthenticated(options);
}

absl::StatusOr<Identity> Resolve(const TcpCallerOptions& options,
                                 const grpc::ServerContext& ctx) {
  if (options.tls) {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    std::string user =
        auth != nullptr ? FirstProperty(*auth, kUserProperty) : "";
    if (user.empty()) return NotAuthenticated(options);
    std::string via = FirstProperty(*auth, kViaProperty);
    return Named(user, via == "token" ? "token" : "tls certificate",
                 options.admin_group);
  }
  std::optional<std::string> token = BearerToken(ctx.client_metadata());
  if (token.has_value()) return ByToken(options, *token);
  return ByKernel(options, ctx);
}

class Authenticator final : public grpc::AuthMetadataProcessor {
 public:
  explicit Authenticator(TcpCallerOptions options)
      : options_(std::move(options)) {}

  grpc::Status Process(const InputMetadata& metadata,
                       grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    absl::StatusOr<Identity> id = ByCredentials(options_, *context, metadata);
    if (!id.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(id.status().code()),
                          std::string(id.status().message()));
    }
    context->AddProperty(kUserProperty, id->user);
    context->AddProperty(kViaProperty, id->via);
    return grpc::Status::OK;
  }

 private:
  const TcpCallerOptions options_;
};

}  // namespace

server::CallerResolver TcpCallerResolver(TcpCallerOptions options) {
  return [options = std::move(options)](const grpc::ServerContext& ctx) {
    return Resolve(options, ctx);
  };
}

}  // namespace ocx::daemon

namespace ocx::daemon {

std::shared_ptr<grpc::AuthMetadataProcessor> TlsAuthenticator(
    TcpCallerOptions options) {
  return std::make_shared<Authenticator>(std::move(options));
}

}  // namespace ocx::daemon
