// ocxd: the evaluation scheduler daemon. main() only wires the parts
// together (as grpc's route_guide RunServer does): config → locks → store →
// runners (local, DLC, Slurm) → dispatcher (recovery) → gRPC server → READY=1,
// then waits for SIGTERM/SIGINT while feeding the systemd watchdog.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/daemon_exit.h"
#include "common/file_util.h"
#include "common/identity.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "server/api/evaluation_service.h"
#include "server/daemon/api_server.h"
#include "server/daemon/daemon_setup.h"
#include "server/daemon/http_setup.h"
#include "server/daemon/listen_address.h"
#include "server/daemon/systemd_notify.h"
#include "server/daemon/unix_listener.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"
#include "spec/limits.h"
#include "summary/summary_files.h"

namespace {

using ocx::daemon::AcquireLocks;
using ocx::daemon::BuildRunners;
using ocx::daemon::DaemonPaths;
using ocx::daemon::DispatcherOptionsFrom;
using ocx::daemon::Flags;
using ocx::daemon::LoadConfig;
using ocx::daemon::LocalGpus;
using ocx::daemon::Locks;
using ocx::daemon::ReadPoolOptionsFrom;
using ocx::daemon::ResolvePaths;
using ocx::daemon::RestrictDatabaseFiles;
using ocx::daemon::Runners;
using ocx::daemon::SetConfinement;
using ocx::daemon::SetServingOptions;

ocx::Waker* g_dispatch_waker = nullptr;

extern "C" void OnSigchld(int) {
  int saved = errno;
  if (g_dispatch_waker != nullptr) g_dispatch_waker->Notify();
  errno = saved;
}

void InstallSigchldHandler(ocx::Waker* waker) {
  g_dispatch_waker = waker;
  struct sigaction sa = {};
  sa.sa_handler = OnSigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);
}

// The listen address, refused early when it would be plain text beyond
// loopback; a unix socket's directory is made for access.socket_group.
absl::StatusOr<ocx::daemon::ListenAddress> ListenAddressOf(
    const ocx::v1::DaemonConfig& config) {
  std::optional<gid_t> group;
  if (!config.access().socket_group().empty()) {
    OCX_ASSIGN_OR_RETURN(
        group, ocx::daemon::LookUpGroup(config.access().socket_group()));
  }
  OCX_ASSIGN_OR_RETURN(
      ocx::daemon::ListenAddress address,
      ocx::daemon::ResolveListenAddress(config.listen(), group));
  OCX_RETURN_IF_ERROR(
      ocx::daemon::CheckTransportSecurity(address, config.access()));
  OCX_RETURN_IF_ERROR(ocx::daemon::CheckHttpSecurity(config));
  return address;
}

// Until SIGTERM/SIGINT, feeding the systemd watchdog while the dispatcher
// loop turns. The stop signals are blocked in every thread (see main) and
// taken here.
void WaitForStopSignal(const ocx::server::Dispatcher& dispatcher) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ocx::daemon::systemd::Watchdog watchdog;
  while (true) {
    int64_t now = ocx::NowMillis();
    if (now - dispatcher.last_turn_ms() < 10000) watchdog.MaybePing(now);
    int64_t wait_ms = watchdog.MillisUntilDue(now, 1000);
    wait_ms = std::max<int64_t>(50, std::min<int64_t>(wait_ms, 1000));
    struct timespec ts = {static_cast<time_t>(wait_ms / 1000),
                          static_cast<long>((wait_ms % 1000) * 1000000)};
    int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) return;
  }
}

// The gRPC API on `address`: each listener identifies its callers
// (docs/security.md) and gets a service of its own per server; all share
// one access policy.
absl::StatusOr<std::unique_ptr<ocx::daemon::ApiServer>> StartApi(
    const ocx::v1::DaemonConfig& config, const DaemonPaths& paths,
    const ocx::daemon::ListenAddress& address,
    const ocx::server::SubmissionPolicy& policy,
    const ocx::server::AccessPolicy& access, ocx::store::Store* store,
    ocx::server::Dispatcher* dispatcher, std::string* listening) {
  ocx::daemon::ApiServer::Options api;
  api.address = address;
  api.access = config.access();
  api.base = paths.base;
  api.max_message_bytes = static_cast<int>(policy.limits.max_message_bytes());
  ocx::server::PreflightSettings preflight;
  preflight.probe_timeout_ms = config.serving().probe_timeout_ms() > 0
                                   ? config.serving().probe_timeout_ms()
                                   : 2000;
  preflight.gpus = policy.gpus;
  preflight.sbatch_path = config.slurm().sbatch_path();
  preflight.dlc_path = config.dlc().dlc_path();
  api.factory = [store, dispatcher, policy, access,
                 preflight](ocx::server::CallerResolver c) {
    auto service = std::make_unique<ocx::server::EvaluationServiceImpl>(
        store, dispatcher, policy, std::move(c), access);
    service->set_preflight(preflight);
    return service;
  };
  return ocx::daemon::ApiServer::Start(std::move(api), listening);
}

absl::Status Run(const Flags& flags) {
  OCX_ASSIGN_OR_RETURN(ocx::v1::DaemonConfig config, LoadConfig(flags));
  OCX_ASSIGN_OR_RETURN(DaemonPaths paths, ResolvePaths(config));
  OCX_ASSIGN_OR_RETURN(ocx::daemon::ListenAddress address,
                       ListenAddressOf(config));
  OCX_ASSIGN_OR_RETURN(Locks locks,
                       AcquireLocks(config, paths.database, address));
  OCX_ASSIGN_OR_RETURN(std::vector<int> gpus, LocalGpus(config));
  OCX_ASSIGN_OR_RETURN(
      auto store,
      ocx::store::Store::Open(paths.database, ReadPoolOptionsFrom(config)));
  RestrictDatabaseFiles(paths.database);

  // The dispatcher's waker: SIGCHLD (local tasks) and the DLC and Slurm
  // runners' worker threads wake the loop through it.
  ocx::Waker dispatch_waker;
  OCX_ASSIGN_OR_RETURN(Runners runners,
                       BuildRunners(config, paths.base, gpus, &dispatch_waker));
  ocx::server::DispatcherOptions options = DispatcherOptionsFrom(config, flags);
  options.run_as_owners = geteuid() == 0;
  OCX_RETURN_IF_ERROR(SetServingOptions(config, paths, &options));
  InstallSigchldHandler(&dispatch_waker);
  ocx::server::Dispatcher dispatcher(store.get(), runners.ByType(),
                                     &dispatch_waker, options,
                                     ocx::summary::WriteEvaluationSummary);
  ocx::daemon::systemd::Status("recovering unfinished evaluations");
  OCX_RETURN_IF_ERROR(dispatcher.Recover());

  ocx::server::SubmissionPolicy policy;
  policy.work_root = paths.work_root;
  policy.gpus = gpus;
  policy.task_program = options.task_program;
  policy.serve_port_first = options.serving.port_first;
  policy.serve_port_last = options.serving.port_last;
  SetConfinement(config, flags, paths, &policy);
  policy.limits = ocx::spec::EffectiveLimits(config.limits());
  ocx::server::AccessPolicy access;
  OCX_ASSIGN_OR_RETURN(access.daemon,
                       ocx::DaemonIdentity(config.access().admin_group()));
  access.admin_group = config.access().admin_group();
  // Before the gRPC API: a TLS file it cannot use stops ocxd before
  // anything serves.
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<ocx::server::HttpServer> http,
                       ocx::daemon::StartHttp(config, paths.base, store.get(),
                                              &dispatcher, access));
  std::string listening;
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<ocx::daemon::ApiServer> server,
                       StartApi(config, paths, address, policy, access,
                                store.get(), &dispatcher, &listening));
  // Recorded for clients and harnesses that started ocxd on port 0; the
  // startup line below carries the same address after "listening on ".
  const std::string address_file = ocx::daemon::AddressFilePath(paths.database);
  OCX_RETURN_IF_ERROR(
      ocx::WriteFileAtomic(address_file, absl::StrCat(listening, "\n")));
  dispatcher.Start();
  fprintf(stderr,
          "ocxd: listening on %s; database %s; work root %s; GPUs: %s; "
          "dlc: %s\n",
          listening.c_str(), paths.database.c_str(), paths.work_root.c_str(),
          gpus.empty() ? "none" : absl::StrJoin(gpus, ",").c_str(),
          runners.dlc_path.c_str());
  ocx::daemon::systemd::Ready(absl::StrCat("serving on ", listening));

  WaitForStopSignal(dispatcher);
  fprintf(stderr,
          "ocxd: stopping; running tasks keep running and are re-attached "
          "by the next start\n");
  ocx::daemon::systemd::Stopping();
  unlink(address_file.c_str());
  dispatcher.StopLaunching();
  if (http != nullptr) http->Stop();
  server->Shutdown();
  dispatcher.Stop();
  g_dispatch_waker = nullptr;
  return absl::OkStatus();
}

void AddAccessFlags(CLI::App* app, Flags* flags) {
  app->add_option("--socket-group", flags->socket_group,
                  "group whose members may use the unix socket (0660); "
                  "default: only ocxd's user (0600)");
  app->add_option("--admin-group", flags->admin_group,
                  "members of this group (and root) see and steer every "
                  "evaluation");
  app->add_option("--tls-cert", flags->tls_cert,
                  "PEM server certificate for the TCP and HTTP listeners "
                  "(required beyond loopback)");
  app->add_option("--tls-key", flags->tls_key, "PEM key of --tls-cert");
  app->add_option("--tls-client-ca", flags->tls_client_ca,
                  "PEM CA of client certificates; a client's CN names its "
                  "local user");
  app->add_option("--token-file", flags->token_file,
                  "bearer tokens for TCP clients: lines \"<user> <sha256 "
                  "hex of token>\"");
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{
      "ocxd: the ocx evaluation scheduler daemon. Stores evaluations in "
      "SQLite and runs their tasks; survives restarts."};
  app.add_option("--config", flags.config, "daemon config file (YAML)");
  app.add_option("--listen", flags.listen,
                 "unix:///path or host:port (default: a unix socket under "
                 "$XDG_RUNTIME_DIR, /run/ocx for root, else /tmp/ocx-<uid>); "
                 "port 0 binds a free port. The address clients dial is "
                 "printed and written to <database>.address");
  app.add_option("--http-listen", flags.http_listen,
                 "host:port of the HTTP listener (web console at /, "
                 "Prometheus /metrics); HTTPS with --tls-cert (required "
                 "beyond loopback); port 0 binds a free port (printed)");
  app.add_option("--database", flags.database, "SQLite database file");
  app.add_option("--work-root", flags.work_root,
                 "work dirs of evaluations without their own work_dir");
  app.add_option("--gpus", flags.gpus,
                 "GPU ids LocalRunner may use, e.g. 4,5; 'none'");
  app.add_option("--max-parallel", flags.max_parallel,
                 "most local tasks at once (0: no daemon-wide limit)");
  app.add_option("--task-program", flags.task_program, "path of ocx-task");
  app.add_option("--shim", flags.shim_path, "path of ocx-shim");
  app.add_option("--retry-initial-backoff-ms", flags.initial_backoff_ms,
                 "first retry delay in ms (default 1000)");
  app.add_option("--dlc", flags.dlc_path,
                 "the dlc command line of Alibaba PAI-DLC, for DLCRunner "
                 "(default: dlc in PATH)");
  app.add_option("--slurm-sbatch", flags.slurm_sbatch,
                 "sbatch for SlurmRunner (default: sbatch in PATH)");
  app.add_option("--slurm-squeue", flags.slurm_squeue,
                 "squeue for SlurmRunner (default: squeue in PATH)");
  app.add_option("--slurm-sacct", flags.slurm_sacct,
                 "sacct for SlurmRunner (default: sacct in PATH)");
  app.add_option("--slurm-scancel", flags.slurm_scancel,
                 "scancel for SlurmRunner (default: scancel in PATH)");
  app.add_option("--slurm-sacct-arg", flags.slurm_sacct_args,
                 "an option put before sacct's own, e.g. -c on a cluster "
                 "without slurmdbd (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--slurm-partition", flags.slurm_partition,
                 "partition of Slurm stages that name none");
  app.add_option("--slurm-poll-interval-ms", flags.slurm_poll_interval_ms,
                 "ms between squeue polls (default 2000)");
  AddAccessFlags(&app, &flags);
  app.add_option("--work-dir-root", flags.work_dir_roots,
                 "another directory work dirs may lie under, besides "
                 "confinement.work_dir_roots (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("--allow-root-tasks", flags.allow_root_tasks,
               "a root ocxd runs evaluations owned by root, as root "
               "(confinement.allow_root_tasks)");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals before any thread exists, so that every thread
  // inherits the mask and only sigtimedwait in Run() takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::Status status = Run(flags);
  if (!status.ok()) {
    fprintf(stderr, "ocxd: %s\n", std::string(status.message()).c_str());
    ocx::daemon::systemd::Status(status.message());
    return ocx::DaemonExitCode(status, ocx::kDaemonExitError);
  }
  return 0;
}
