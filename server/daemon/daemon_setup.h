// The steps of ocxd's start before it serves: its flags over the config
// file, the paths it writes, its locks, its runners, and the options of the
// dispatcher and of submissions. ocxd_main.cc wires them in order; each
// step returns a Status naming what to fix.
#ifndef OCX_SERVER_DAEMON_DAEMON_SETUP_H_
#define OCX_SERVER_DAEMON_DAEMON_SETUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/waker.h"
#include "ocx/v1/daemon_config.pb.h"
#include "runners/dlc/config.h"
#include "runners/dlc/dlc_runner.h"
#include "runners/local/config.h"
#include "runners/local/local_runner.h"
#include "runners/slurm/config.h"
#include "runners/slurm/slurm_runner.h"
#include "server/daemon/listen_address.h"
#include "server/daemon/lock_file.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/read_pool.h"
#include "server/submission.h"

namespace ocx::daemon {

// ocxd's command-line flags; empty or negative means "not given", so the
// config file's value (or the default) holds.
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

// The config file, then the flags over it; validated.
absl::StatusOr<ocx::v1::DaemonConfig> LoadConfig(const Flags& flags);

// Absolute paths of what the daemon writes; directories created.
struct DaemonPaths {
  std::string base;  // the start directory, for relative paths
  std::string database;
  std::string work_root;
};

absl::StatusOr<DaemonPaths> ResolvePaths(const ocx::v1::DaemonConfig& config);

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
                                   const ocx::daemon::ListenAddress& address);

// GPUs: the daemon config, else CUDA_VISIBLE_DEVICES, else none.
absl::StatusOr<std::vector<int>> LocalGpus(const ocx::v1::DaemonConfig& config);

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
                                     std::vector<int> gpus, ocx::Waker* waker);

ocx::server::DispatcherOptions DispatcherOptionsFrom(
    const ocx::v1::DaemonConfig& config, const Flags& flags);

// Managed model servers (docs/serving.md): where replicas keep their state
// and logs, and the ports they may use (checked by ValidateDaemonConfig).
absl::Status SetServingOptions(const ocx::v1::DaemonConfig& config,
                               const DaemonPaths& paths,
                               ocx::server::DispatcherOptions* options);

// Run as owner and confinement (docs/security.md): a root daemon runs
// tasks as their owners and refuses root-owned evaluations unless allowed;
// work dirs are confined to the configured roots (defaults: the owner's
// dir under work_root for a root daemon, else the home and work_root),
// plus the --work-dir-root flags.
void SetConfinement(const ocx::v1::DaemonConfig& config, const Flags& flags,
                    const DaemonPaths& paths,
                    ocx::server::SubmissionPolicy* policy);

// How the store pools its read connections (read_connections).
ocx::store::ReadPoolOptions ReadPoolOptionsFrom(
    const ocx::v1::DaemonConfig& config);

// The database file and its WAL companions: not readable by others.
void RestrictDatabaseFiles(const std::string& database);

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_DAEMON_SETUP_H_
