#include "server/daemon/uid_servers.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server_posix.h>
#include <stdio.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace ocx::daemon {
namespace {

// Answers every call with one status: the server of a uid with no account.
class RefuseAll final : public grpc::CallbackGenericService {
 public:
  explicit RefuseAll(grpc::Status status) : status_(std::move(status)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Reactor(status_);
  }

 private:
  const grpc::Status status_;
};

// The Identity a per-uid server answers, refreshed on each connection.
class SharedIdentity {
 public:
  void Set(absl::StatusOr<Identity> id) {
    absl::MutexLock lock(&mu_);
    id_ = std::move(id);
  }
  absl::StatusOr<Identity> Get() const {
    absl::MutexLock lock(&mu_);
    return id_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::StatusOr<Identity> id_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("not resolved");
};

absl::StatusOr<Identity> ResolveUid(uid_t uid, const std::string& admin_group) {
  absl::StatusOr<Identity> id = IdentityOfUid(uid, admin_group);
  if (!id.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the calling uid ", uid,
        " has no local account on the ocxd host; ocxd serves only local "
        "users on its unix socket"));
  }
  id->via = "unix socket";
  return id;
}

}  // namespace

struct UidServers::PerUid {
  std::shared_ptr<SharedIdentity> identity = std::make_shared<SharedIdentity>();
  std::unique_ptr<RefuseAll> refuse;  // set for a uid without an account
  ServingServer serving;
};

UidServers::UidServers(ServiceFactory factory, std::string admin_group,
                       int max_message_bytes)
    : factory_(std::move(factory)),
      admin_group_(std::move(admin_group)),
      max_message_bytes_(max_message_bytes) {}

UidServers::~UidServers() { Shutdown(); }

std::unique_ptr<UidServers::PerUid> UidServers::Build(uid_t uid) {
  auto per_uid = std::make_unique<PerUid>();
  absl::StatusOr<Identity> id = ResolveUid(uid, admin_group_);
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder, max_message_bytes_);
  if (id.ok()) {
    std::shared_ptr<SharedIdentity> shared = per_uid->identity;
    per_uid->serving.service = factory_(
        [shared](const grpc::ServerContext&) { return shared->Get(); });
    builder.RegisterService(per_uid->serving.service.get());
  } else {
    per_uid->refuse = std::make_unique<RefuseAll>(
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                     std::string(id.status().message())));
    builder.RegisterCallbackGenericService(per_uid->refuse.get());
  }
  per_uid->serving.server = builder.BuildAndStart();
  if (per_uid->serving.server == nullptr) return nullptr;
  if (per_uid->serving.server->GetHealthCheckService() != nullptr) {
    per_uid->serving.server->GetHealthCheckService()->SetServingStatus(
        "ocx.v1.EvaluationService", id.ok());
  }
  return per_uid;
}

void UidServers::Add(int fd, const struct ucred& peer) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    close(fd);
    return;
  }
  std::unique_ptr<PerUid>& slot = servers_[peer.uid];
  if (slot == nullptr) slot = Build(peer.uid);
  if (slot == nullptr) {
    fprintf(stderr, "ocxd: cannot start a gRPC server for uid %u\n",
            static_cast<unsigned>(peer.uid));
    servers_.erase(peer.uid);
    close(fd);
    return;
  }
  if (slot->refuse == nullptr) {
    slot->identity->Set(ResolveUid(peer.uid, admin_group_));
  }
  grpc::AddInsecureChannelFromFd(slot->serving.server.get(), fd);
}

void UidServers::Shutdown() {
  std::map<uid_t, std::unique_ptr<PerUid>> servers;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    servers.swap(servers_);
  }
  for (auto& [uid, per_uid] : servers) per_uid->serving.BeginShutdown();
  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(2);
  for (auto& [uid, per_uid] : servers) per_uid->serving.Shutdown(deadline);
}

}  // namespace ocx::daemon
