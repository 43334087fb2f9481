#include "server/daemon/tcp_caller.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <string>
#include <utility>
#include <vector>

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

// What the call presented: the CN of a verified client certificate and
// the `authorization` metadata.
template <typename Multimap>
PresentedCredentials Presented(const grpc::AuthContext* auth,
                               const Multimap& metadata) {
  PresentedCredentials given;
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    given.certificate_user = FirstProperty(*auth, GRPC_X509_CN_PROPERTY_NAME);
  }
  auto found = metadata.find("authorization");
  if (found != metadata.end()) {
    given.bearer_token = BearerTokenOf(
        absl::string_view(found->second.data(), found->second.size()));
  }
  return given;
}

absl::StatusOr<Identity> Resolve(const TcpCallerOptions& options,
                                 const grpc::ServerContext& ctx) {
  if (options.tls) {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    std::string user =
        auth != nullptr ? FirstProperty(*auth, kUserProperty) : "";
    if (user.empty()) return NotAuthenticated(options, CallerClient::kGrpc);
    std::string via = FirstProperty(*auth, kViaProperty);
    return NamedCaller(user, via == "token" ? "token" : "tls certificate",
                       options.admin_group);
  }
  return CallerOf(options, Presented(nullptr, ctx.client_metadata()),
                  ctx.peer(), *options.bound_port, CallerClient::kGrpc);
}

class Authenticator final : public grpc::AuthMetadataProcessor {
 public:
  explicit Authenticator(TcpCallerOptions options)
      : options_(std::move(options)) {}

  grpc::Status Process(const InputMetadata& metadata,
                       grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    absl::StatusOr<Identity> id = CallerOfCredentials(
        options_, Presented(context, metadata), CallerClient::kGrpc);
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

std::shared_ptr<grpc::AuthMetadataProcessor> TlsAuthenticator(
    TcpCallerOptions options) {
  return std::make_shared<Authenticator>(std::move(options));
}

}  // namespace ocx::daemon
