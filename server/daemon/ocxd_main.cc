// ocxd: the evaluation scheduler daemon. main() only wires the parts
// together (as grpc's route_guide RunServer does): config → locks → store →
// runners (local, DLC, Slurm) → dispatcher (recovery) → gRPC server → READY=1,
// then waits for SIGTERM/SIGINT while feeding the systemd watchdog.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
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
#include "common/file_util.h"
#include "common/identity.h"
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
#include "server/daemon/listen_address.h"
#include "server/daemon/lock_file.h"
#include "server/daemon/systemd_notify.h"
#include "server/dispatcher/dispatcher.h"
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
};

// The config file, then the flags over it; validated.
absl::StatusOr<ocx::v1::DaemonConfig> LoadConfig(const Flags& flags) {
  ocx::v1::DaemonConfig config;
  if (!flags.config.empty()) {
    OCX_ASSIGN_OR_RETURN(config, ocx::spec::LoadDaemonConfigFile(flags.config));
  }
  if (!flags.listen.empty()) config.set_listen(flags.listen);
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
  OCX_RETURN_IF_ERROR(ocx::MakeDirs(ocx::Dirname(p.database)));
  p.work_root = config.work_root().empty()
                    ? ocx::JoinPath(ocx::Dirname(p.database), "work")
                    : ocx::AbsolutePath(config.work_root(), p.base);
  OCX_RETURN_IF_ERROR(ocx::MakeDirs(p.work_root));
  return p;
}

// Two locks: one per database, one per socket. Either one held by another
// daemon means we must not start (a second server on a unix socket would
// silently take it over).
struct Locks {
  std::unique_ptr<ocx::daemon::LockFile> database;
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
  OCX_ASSIGN_OR_RETURN(
      runners.local,
      r::LocalRunner::Create(r::local::OptionsFromSettings(
          config.local(), std::move(gpus), r::DefaultShimPath())));
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
  OCX_RETURN_IF_ERROR(ocx::MakeDirs(serving.dir));
  if (!s.port_range().empty()) {
    OCX_ASSIGN_OR_RETURN(auto range,
                         ocx::serving::ParsePortRange(s.port_range()));
    serving.port_first = range.first;
    serving.port_last = range.second;
  }
  if (s.probe_timeout_ms() > 0) serving.probe_timeout_ms = s.probe_timeout_ms();
  return absl::OkStatus();
}

void InstallSigchldHandler(ocx::Waker* waker) {
  g_dispatch_waker = waker;
  struct sigaction sa = {};
  sa.sa_handler = OnSigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);
}

// The gRPC server on `address`, serving; `listening` says where.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const ocx::daemon::ListenAddress& address, grpc::Service* service,
    const ocx::v1::LimitSettings& limits, std::string* listening) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A request above max_message_bytes is refused by gRPC
  // (RESOURCE_EXHAUSTED) and never parsed; one between max_spec_bytes and
  // that gets the message naming the limit (docs/security.md).
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(limits.max_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(limits.max_message_bytes()));
  int bound_port = 0;
  builder.AddListeningPort(address.grpc_target,
                           grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const bool tcp = address.kind == ocx::daemon::ListenAddress::Kind::kTcp;
  if (server == nullptr || (tcp && bound_port == 0)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", address.ToString(), " (in use, or not allowed)"));
  }
  if (!tcp) chmod(address.socket_path.c_str(), 0600);
  server->GetHealthCheckService()->SetServingStatus("ocx.v1.EvaluationService",
                                                    true);
  // What a client dials: with port 0 configured, the port the kernel chose.
  *listening = ocx::daemon::ClientAddress(address, bound_port);
  return server;
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

absl::Status Run(const Flags& flags) {
  OCX_ASSIGN_OR_RETURN(ocx::v1::DaemonConfig config, LoadConfig(flags));
  OCX_ASSIGN_OR_RETURN(DaemonPaths paths, ResolvePaths(config));
  OCX_ASSIGN_OR_RETURN(ocx::daemon::ListenAddress address,
                       ocx::daemon::ResolveListenAddress(config.listen()));
  OCX_ASSIGN_OR_RETURN(Locks locks,
                       AcquireLocks(config, paths.database, address));
  OCX_ASSIGN_OR_RETURN(std::vector<int> gpus, LocalGpus(config));
  OCX_ASSIGN_OR_RETURN(auto store, ocx::store::Store::Open(paths.database));

  // The dispatcher's waker: SIGCHLD (local tasks) and the DLC and Slurm
  // runners' worker threads wake the loop through it.
  ocx::Waker dispatch_waker;
  OCX_ASSIGN_OR_RETURN(Runners runners,
                       BuildRunners(config, paths.base, gpus, &dispatch_waker));
  ocx::server::DispatcherOptions options = DispatcherOptionsFrom(config, flags);
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
  policy.limits = ocx::spec::EffectiveLimits(config.limits());
  // Until the listeners identify callers (docs/security.md), every caller
  // is the daemon's own account: the socket is 0600.
  OCX_ASSIGN_OR_RETURN(ocx::Identity daemon_identity,
                       ocx::DaemonIdentity(config.access().admin_group()));
  ocx::server::EvaluationServiceImpl service(
      store.get(), &dispatcher, policy,
      [daemon_identity](const grpc::ServerContext&) {
        return daemon_identity;
      });
  std::string listening;
  OCX_ASSIGN_OR_RETURN(
      std::unique_ptr<grpc::Server> server,
      StartServer(address, &service, policy.limits, &listening));
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
  server->GetHealthCheckService()->Shutdown();
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  dispatcher.Stop();
  g_dispatch_waker = nullptr;
  return absl::OkStatus();
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
    return status.code() == absl::StatusCode::kFailedPrecondition ? 3 : 1;
  }
  return 0;
}
