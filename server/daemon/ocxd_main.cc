// ocxd: the evaluation scheduler daemon. main() only wires the parts
// together (as grpc's route_guide RunServer does): config → locks → store →
// runners (local, DLC, Slurm) → dispatcher (recovery) → gRPC server → READY=1,
// then waits for SIGTERM/SIGINT while feeding the systemd watchdog.
#include <grpcpp/grpcpp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/daemon_exit.h"
#include "common/file_util.h"
#include "common/identity.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "runners/dlc/config.h"
#include "runners/dlc/dlc_runner.h"
#include "runners/local/config.h"
#include "runners/local/gpu_slots.h"
#include "runners/local/local_runner.h"
#include "runners/slurm/config.h"
#include "runners/slurm/slurm_runner.h"
#include "server/api/evaluation_service.h"
#include "server/confinement.h"
#include "server/daemon/api_server.h"
#include "server/daemon/listen_address.h"
#include "server/daemon/lock_file.h"
#include "server/daemon/systemd_notify.h"
#include "server/daemon/unix_listener.h"
#include "server/dispatcher/dispatcher.h"
#include "server/http/http_server.h"
#include "server/http/store_metrics.h"
#include "server/store/store.h"
#include "serving/serve_config.h"
#include "spec/daemon_config.h"
#include "spec/limits.h"
#include "summary/summary_files.h"

namespace {

ocx::Waker* g_dispatch_waker = nullptr;

extern "C" void OnSigchld(int) {
  int saved = errno;
  if (g_dispatch_waker != nullptr) g_dispatch_waker->Notify();
  errno = saved;
}

std::string StateHome() {
  if (geteuid() == 0) return "/var/lib/ocx";
  const char* xdg = getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return ocx::JoinPath(xdg, "ocx");
  const char* home = getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    struct passwd* pw = getpwuid(geteuid());
    home = pw != nullptr ? pw->pw_dir : "/tmp";
  }
  return ocx::JoinPath(home, ".local/state/ocx");
}

std::string SiblingProgram(const char* name) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  std::string path(self, static_cast<size_t>(n));
  return ocx::JoinPath(path.substr(0, path.rfind('/')), name);
}

struct Flags {
  std::string config;
  std::string listen;
  std::string http_listen;
  std::string database;
  std::string work_root;
  std::string gpus;
  int max_parallel = -1;
  std::string task_program;
  std::string shim_path;
  int initial_backoff_ms = -1;
  std::string dlc_path;
  // SlurmRunner (docs/slurm.md).
  std::string slurm_sbatch;
  std::string slurm_squeue;
  std::string slurm_sacct;
  std::string slurm_scancel;
  std::vector<std::string> slurm_sacct_args;
  std::string slurm_partition;
  int slurm_poll_interval_ms = -1;
  // access (docs/security.md).
  std::string socket_group;
  std::string admin_group;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string token_file;
  // Confinement (docs/security.md).
  std::vector<std::string> work_dir_roots;
  bool allow_root_tasks = false;
};

// The access flags over the config's `access` section.
void ApplyAccessFlags(const Flags& flags, ocx::v1::AccessSettings* access) {
  if (!flags.socket_group.empty()) access->set_socket_group(flags.socket_group);
  if (!flags.admin_group.empty()) access->set_admin_group(flags.admin_group);
  ocx::v1::TlsSettings* tls = access->mutable_tls();
  if (!flags.tls_cert.empty()) tls->set_cert_file(flags.tls_cert);
  if (!flags.tls_key.empty()) tls->set_key_file(flags.tls_key);
  if (!flags.tls_client_ca.empty())
    tls->set_client_ca_file(flags.tls_client_ca);
  if (!flags.token_file.empty()) access->set_token_file(flags.token_file);
}

// The config file, then the flags over it; validated.
absl::StatusOr<ocx::v1::DaemonConfig> LoadConfig(const Flags& flags) {
  ocx::v1::DaemonConfig config;
  if (!flags.config.empty()) {
    OCX_ASSIGN_OR_RETURN(config, ocx::spec::LoadDaemonConfigFile(flags.config));
  }
  if (!flags.listen.empty()) config.set_listen(flags.listen);
  if (!flags.http_listen.empty()) config.set_http_listen(flags.http_listen);
  if (!flags.database.empty()) config.set_database(flags.database);
  if (!flags.work_root.empty()) config.set_work_root(flags.work_root);
  if (!flags.gpus.empty()) config.mutable_local()->set_gpus(flags.gpus);
  if (flags.max_parallel >= 0) {
    config.mutable_local()->set_max_parallel(flags.max_parallel);
  }
  if (!flags.task_program.empty()) config.set_task_program(flags.task_program);
  if (!flags.shim_path.empty()) {
    config.mutable_local()->set_shim_path(flags.shim_path);
  }
  if (flags.initial_backoff_ms >= 0) {
    config.mutable_retry()->set_initial_backoff_ms(flags.initial_backoff_ms);
  }
  if (!flags.dlc_path.empty())
    config.mutable_dlc()->set_dlc_path(flags.dlc_path);
  ocx::v1::SlurmRunnerSettings* sl = config.mutable_slurm();
  if (!flags.slurm_sbatch.empty()) sl->set_sbatch_path(flags.slurm_sbatch);
  if (!flags.slurm_squeue.empty()) sl->set_squeue_path(flags.slurm_squeue);
  if (!flags.slurm_sacct.empty()) sl->set_sacct_path(flags.slurm_sacct);
  if (!flags.slurm_scancel.empty()) sl->set_scancel_path(flags.slurm_scancel);
  if (!flags.slurm_sacct_args.empty()) {
    sl->clear_sacct_args();
    for (const std::string& a : flags.slurm_sacct_args) sl->add_sacct_args(a);
  }
  if (!flags.slurm_partition.empty()) {
    sl->set_default_partition(flags.slurm_partition);
  }
  if (flags.slurm_poll_interval_ms > 0) {
    sl->set_poll_interval_ms(flags.slurm_poll_interval_ms);
  }
  ApplyAccessFlags(flags, config.mutable_access());
  if (flags.allow_root_tasks) {
    config.mutable_confinement()->set_allow_root_tasks(true);
  }
  OCX_RETURN_IF_ERROR(ocx::spec::ValidateDaemonConfig(config));
  return config;
}

// Absolute paths of what the daemon writes; directories created.
struct DaemonPaths {
  std::string base;  // the start directory, for relative paths
  std::string database;
  std::string work_root;
};

absl::StatusOr<DaemonPaths> ResolvePaths(const ocx::v1::DaemonConfig& config) {
  DaemonPaths p;
  char cwd[4096];
  p.base = getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "/";
  p.database = config.database().empty()
                   ? ocx::JoinPath(StateHome(), "ocx.db")
                   : ocx::AbsolutePath(config.database(), p.base);
  // Not readable by others (docs/security.md); a root daemon's users must
  // still pass through to their own dirs under work_root: 0711.
  const mode_t shared = geteuid() == 0 ? 0711 : ocx::kDirMode;
  OCX_RETURN_IF_ERROR(
      ocx::MakeDirsFor(ocx::Dirname(p.database), ocx::FileOwner{}, shared));
  p.work_root = config.work_root().empty()
                    ? ocx::JoinPath(ocx::Dirname(p.database), "work")
                    : ocx::AbsolutePath(config.work_root(), p.base);
  OCX_RETURN_IF_ERROR(ocx::MakeDirsFor(p.work_root, ocx::FileOwner{}, shared));
  // Resolved once: work dirs below it are made without following links.
  p.work_root = ocx::server::ResolvePath(p.work_root);
  return p;
}

// Two locks: one per database, one per socket. Either one held by another
// daemon means we must not start (a second server on a unix socket would
// silently take it over).
struct Locks {
  std::unique_ptr<ocx::daemon::LockFile> database;
  // The database file's own inode: catches a daemon that reaches the same
  // database through a link, which the path-named lock above cannot.
  std::unique_ptr<ocx::daemon::LockFile> database_inode;
  std::unique_ptr<ocx::daemon::LockFile> socket;
};

absl::StatusOr<Locks> AcquireLocks(const ocx::v1::DaemonConfig& config,
                                   const std::string& database,
                                   const ocx::daemon::ListenAddress& address) {
  Locks locks;
  std::string db_lock_path = config.lock_file().empty()
                                 ? absl::StrCat(database, ".lock")
                                 : config.lock_file();
  OCX_ASSIGN_OR_RETURN(locks.database,
                       ocx::daemon::LockFile::Acquire(db_lock_path));
  OCX_ASSIGN_OR_RETURN(locks.database_inode,
                       ocx::daemon::LockFile::LockInode(database));
  if (address.kind == ocx::daemon::ListenAddress::Kind::kUnix) {
    OCX_ASSIGN_OR_RETURN(locks.socket,
                         ocx::daemon::LockFile::Acquire(address.lock_path));
    OCX_RETURN_IF_ERROR(ocx::daemon::RemoveStaleSocket(address));
  }
  return locks;
}

// GPUs: the daemon config, else CUDA_VISIBLE_DEVICES, else none.
absl::StatusOr<std::vector<int>> LocalGpus(
    const ocx::v1::DaemonConfig& config) {
  if (!config.local().gpus().empty()) {
    return ocx::runners::ParseGpuList(config.local().gpus());
  }
  return ocx::runners::GpusFromEnvironment();
}

// One runner per backend, each built from its config module
// (runners/<backend>/config.h). The DLC and Slurm runners still start
// without their command line installed; their attempts then fail with
// "could not submit" / "could not run sbatch".
struct Runners {
  std::unique_ptr<ocx::runners::LocalRunner> local;
  std::unique_ptr<ocx::runners::DlcRunner> dlc;
  std::unique_ptr<ocx::runners::SlurmRunner> slurm;
  std::string dlc_path;

  ocx::server::RunnerSet ByType() const {
    namespace r = ocx::runners;
    return {{r::local::kRunnerType, local.get()},
            {r::dlc::kRunnerType, dlc.get()},
            {r::slurm::kRunnerType, slurm.get()}};
  }
};

absl::StatusOr<Runners> BuildRunners(const ocx::v1::DaemonConfig& config,
                                     const std::string& base,
                                     std::vector<int> gpus, ocx::Waker* waker) {
  namespace r = ocx::runners;
  Runners runners;
  r::LocalRunner::Options local = r::local::OptionsFromSettings(
      config.local(), std::move(gpus), r::DefaultShimPath());
  local.allow_root_tasks = config.confinement().allow_root_tasks();
  OCX_ASSIGN_OR_RETURN(runners.local, r::LocalRunner::Create(std::move(local)));
  // Their calls run on worker threads, which wake the dispatcher.
  r::dlc::RunnerOptions dlc = r::dlc::OptionsFromSettings(config.dlc(), base);
  dlc.wakeup = [waker] { waker->Notify(); };
  runners.dlc_path = dlc.dlc_path;
  OCX_ASSIGN_OR_RETURN(runners.dlc, r::DlcRunner::Create(std::move(dlc)));
  r::slurm::RunnerOptions slurm =
      r::slurm::OptionsFromSettings(config.slurm(), base);
  slurm.wakeup = [waker] { waker->Notify(); };
  OCX_ASSIGN_OR_RETURN(runners.slurm, r::SlurmRunner::Create(std::move(slurm)));
  return runners;
}

ocx::server::DispatcherOptions DispatcherOptionsFrom(
    const ocx::v1::DaemonConfig& config, const Flags& flags) {
  ocx::server::DispatcherOptions options;
  if (config.retry().initial_backoff_ms() > 0 ||
      flags.initial_backoff_ms == 0) {
    options.initial_backoff_ms = config.retry().initial_backoff_ms();
  }
  if (config.retry().multiplier() >= 1) {
    options.backoff_multiplier = config.retry().multiplier();
  }
  if (config.retry().max_backoff_ms() > 0) {
    options.max_backoff_ms = config.retry().max_backoff_ms();
  }
  options.task_program = config.task_program().empty()
                             ? SiblingProgram("ocx-task")
                             : config.task_program();
  options.fair_share = config.fair_share();
  return options;
}

// Managed model servers (docs/serving.md): where replicas keep their state
// and logs, and the ports they may use (checked by ValidateDaemonConfig).
absl::Status SetServingOptions(const ocx::v1::DaemonConfig& config,
                               const DaemonPaths& paths,
                               ocx::server::DispatcherOptions* options) {
  const ocx::v1::ServingSettings& s = config.serving();
  ocx::server::ServingOptions& serving = options->serving;
  serving.dir = s.dir().empty() ? ocx::JoinPath(paths.work_root, ".servers")
                                : ocx::AbsolutePath(s.dir(), paths.base);
  OCX_RETURN_IF_ERROR(ocx::MakeDirsFor(serving.dir, ocx::FileOwner{},
                                       geteuid() == 0 ? 0711 : ocx::kDirMode));
  serving.dir = ocx::server::ResolvePath(serving.dir);
  serving.run_as_owners = options->run_as_owners;
  if (!s.port_range().empty()) {
    OCX_ASSIGN_OR_RETURN(auto range,
                         ocx::serving::ParsePortRange(s.port_range()));
    serving.port_first = range.first;
    serving.port_last = range.second;
  }
  if (s.probe_timeout_ms() > 0) serving.probe_timeout_ms = s.probe_timeout_ms();
  return absl::OkStatus();
}

// Run as owner and confinement (docs/security.md): a root daemon runs
// tasks as their owners and refuses root-owned evaluations unless allowed;
// work dirs are confined to the configured roots (defaults: the owner's
// dir under work_root for a root daemon, else the home and work_root),
// plus the --work-dir-root flags.
void SetConfinement(const ocx::v1::DaemonConfig& config, const Flags& flags,
                    const DaemonPaths& paths,
                    ocx::server::SubmissionPolicy* policy) {
  const bool root = geteuid() == 0;
  const ocx::v1::ConfinementSettings& c = config.confinement();
  policy->per_user_work_root = root;
  policy->refuse_root_owner = root && !c.allow_root_tasks();
  policy->work_dir_roots.assign(c.work_dir_roots().begin(),
                                c.work_dir_roots().end());
  if (policy->work_dir_roots.empty()) {
    if (root) {
      policy->work_dir_roots = {ocx::JoinPath(paths.work_root, "{user}")};
    } else {
      policy->work_dir_roots = {"{home}", paths.work_root};
    }
  }
  for (const std::string& r : flags.work_dir_roots) {
    policy->work_dir_roots.push_back(ocx::AbsolutePath(r, paths.base));
  }
}

// The database file and its WAL companions: not readable by others.
void RestrictDatabaseFiles(const std::string& database) {
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
    chmod(absl::StrCat(database, suffix).c_str(), ocx::kFileMode);
  }
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
    const ocx::server::SubmissionPolicy& policy, ocx::store::Store* store,
    ocx::server::Dispatcher* dispatcher, std::string* listening) {
  OCX_ASSIGN_OR_RETURN(ocx::Identity daemon_identity,
                       ocx::DaemonIdentity(config.access().admin_group()));
  ocx::server::AccessPolicy access;
  access.daemon = daemon_identity;
  access.admin_group = config.access().admin_group();
  ocx::daemon::ApiServer::Options api;
  api.address = address;
  api.access = config.access();
  api.base = paths.base;
  api.max_message_bytes = static_cast<int>(policy.limits.max_message_bytes());
  api.factory = [store, dispatcher, policy,
                 access](ocx::server::CallerResolver c) {
    return std::make_unique<ocx::server::EvaluationServiceImpl>(
        store, dispatcher, policy, std::move(c), access);
  };
  return ocx::daemon::ApiServer::Start(std::move(api), listening);
}

// The HTTP listener (/metrics) when http_listen is set; else null.
absl::StatusOr<std::unique_ptr<ocx::server::HttpServer>> StartHttp(
    const ocx::v1::DaemonConfig& config, ocx::store::Store* store) {
  if (config.http_listen().empty()) return nullptr;
  ocx::server::RegisterStoreMetrics(store);
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<ocx::server::HttpServer> http,
                       ocx::server::HttpServer::Start(config.http_listen()));
  fprintf(stderr, "ocxd: metrics at http://%s/metrics\n",
          http->address().c_str());
  return http;
}

absl::Status Run(const Flags& flags) {
  OCX_ASSIGN_OR_RETURN(ocx::v1::DaemonConfig config, LoadConfig(flags));
  OCX_ASSIGN_OR_RETURN(DaemonPaths paths, ResolvePaths(config));
  OCX_ASSIGN_OR_RETURN(ocx::daemon::ListenAddress address,
                       ListenAddressOf(config));
  OCX_ASSIGN_OR_RETURN(Locks locks,
                       AcquireLocks(config, paths.database, address));
  OCX_ASSIGN_OR_RETURN(std::vector<int> gpus, LocalGpus(config));
  OCX_ASSIGN_OR_RETURN(auto store, ocx::store::Store::Open(paths.database));
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
  std::string listening;
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<ocx::daemon::ApiServer> server,
                       StartApi(config, paths, address, policy, store.get(),
                                &dispatcher, &listening));
  // Recorded for clients and harnesses that started ocxd on port 0; the
  // startup line below carries the same address after "listening on ".
  const std::string address_file = ocx::daemon::AddressFilePath(paths.database);
  OCX_RETURN_IF_ERROR(
      ocx::WriteFileAtomic(address_file, absl::StrCat(listening, "\n")));
  OCX_ASSIGN_OR_RETURN(std::unique_ptr<ocx::server::HttpServer> http,
                       StartHttp(config, store.get()));
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
                  "PEM server certificate for a TCP listener (required "
                  "beyond loopback)");
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
                 "host:port of the HTTP listener (Prometheus /metrics), on a "
                 "loopback address; port 0 binds a free port (printed)");
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
