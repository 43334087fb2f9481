#include "server/daemon/daemon_setup.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/owned_files.h"
#include "common/status_macros.h"
#include "runners/cli/cli.h"
#include "runners/local/gpu_slots.h"
#include "server/confinement.h"
#include "serving/serve_config.h"
#include "spec/daemon_config.h"

namespace ocx::daemon {
namespace {

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

}  // namespace

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

absl::StatusOr<std::vector<int>> LocalGpus(
    const ocx::v1::DaemonConfig& config) {
  if (!config.local().gpus().empty()) {
    return ocx::runners::ParseGpuList(config.local().gpus());
  }
  return ocx::runners::GpusFromEnvironment();
}

absl::StatusOr<Runners> BuildRunners(const ocx::v1::DaemonConfig& config,
                                     const std::string& base,
                                     std::vector<int> gpus, ocx::Waker* waker) {
  namespace r = ocx::runners;
  Runners runners;
  r::LocalRunner::Options local = r::local::OptionsFromSettings(
      config.local(), std::move(gpus), r::DefaultShimPath());
  local.allow_root_tasks = config.confinement().allow_root_tasks();
  OCX_ASSIGN_OR_RETURN(runners.local, r::LocalRunner::Create(std::move(local)));
  // Their calls run on worker threads, which wake the dispatcher; their
  // latency metric is listed before the first call.
  r::RegisterCliMetrics();
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
  if (config.stall_after_s() > 0) {
    options.stall_after_ms = int64_t{config.stall_after_s()} * 1000;
  }
  options.stall_kill = config.stall_action() == ocx::v1::DaemonConfig::KILL;
  if (config.endpoint_probe_max_backoff_ms() > 0) {
    options.endpoints.max_backoff_ms = config.endpoint_probe_max_backoff_ms();
  }
  if (config.endpoint_breaker_failures() > 0) {
    options.endpoints.breaker_failures = config.endpoint_breaker_failures();
  }
  return options;
}

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
  // User-given endpoints are checked with the same timeout.
  options->endpoints.probe_timeout_ms = serving.probe_timeout_ms;
  return absl::OkStatus();
}

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

ocx::store::ReadPoolOptions ReadPoolOptionsFrom(
    const ocx::v1::DaemonConfig& config) {
  ocx::store::ReadPoolOptions options;
  if (config.read_connections() > 0) {
    options.max_open = config.read_connections();
  }
  return options;
}

void RestrictDatabaseFiles(const std::string& database) {
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
    chmod(absl::StrCat(database, suffix).c_str(), ocx::kFileMode);
  }
}

}  // namespace ocx::daemon
