// The Slurm command-line contract, as pure functions: the batch script a job
// runs, the argv of sbatch / squeue / sacct / scancel, parsers for what they
// print, and the mapping of Slurm job states to ocx outcomes (docs/slurm.md).
//
// Nothing here runs a process or touches a file. Thread-safe: no shared
// state.
#ifndef OCX_RUNNERS_SLURM_SLURM_COMMAND_H_
#define OCX_RUNNERS_SLURM_SLURM_COMMAND_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::runners::slurm {

// What the batch script runs.
struct BatchTask {
  // The task program and its arguments (one quoted word each).
  std::vector<std::string> argv;
  // Exported before the task runs (names must be [A-Za-z_][A-Za-z0-9_]*).
  std::map<std::string, std::string> env;
  // `cd` here first.
  std::string work_dir;
  // The script writes the task's exit status to
  // <attempt_dir>/slurm-exit-<job id> (the answer of last resort once
  // squeue and sacct have forgotten the job; <array id>_<index> for an
  // array element).
  std::string attempt_dir;
  // As an array element (slurm_array.h kArrayEnv set) the script sends its
  // output here itself: the array's --output cannot name one log per
  // element.
  std::string log_path;
};

// The script text (#!/bin/sh): the log redirect of an array element,
// exports, cd, the task, its exit file, exit
// with the task's status. Every configured string is a single-quoted shell
// word, so no value becomes shell code. INVALID_ARGUMENT for a bad env name,
// a NUL anywhere, an empty argv, work_dir or attempt_dir.
absl::StatusOr<std::string> BuildBatchScript(const BatchTask& task);

// How a job is submitted. Empty strings and zeros are left out.
struct SubmitOptions {
  std::string sbatch = "sbatch";
  // Daemon-wide default options, before the stage's own.
  std::vector<std::string> default_args;
  std::string job_name;
  std::string log_path;  // --output (and stderr), appended
  std::string work_dir;  // --chdir
  std::string partition;
  std::string qos;
  int gpus = 0;  // --gres=gpu:N
  int cpus_per_task = 0;
  std::string time_limit;  // --time
  // The stage's extra_command; each entry is split on whitespace (as
  // OpenCompass's shell line splits it), never interpreted by a shell.
  std::vector<std::string> extra_args;
  std::string script_path;
  // --array=R (slurm_array.h ArrayRange) for a job array; empty: one job.
  std::string array;
};
// sbatch --parsable --job-name=N --output=L --open-mode=append --chdir=W
//   [--array=R] [-p P] [--qos=S] [--gres=gpu:N] [--cpus-per-task=C]
//   [--time=T] DEFAULTS... EXTRA... SCRIPT
// (OpenCompass's quotatype is not an sbatch option: docs/slurm.md.)
// A '%' in the log path is doubled: sbatch expands %j-style patterns there.
std::vector<std::string> SbatchArgv(const SubmitOptions& o);

// "1234" or "1234;cluster" (sbatch --parsable) → "1234"; INVALID_ARGUMENT
// otherwise, quoting the output.
absl::StatusOr<std::string> ParseSbatchOutput(absl::string_view output);

// True for a job id as Slurm prints it: digits, optionally _ and an array
// index.
bool IsJobId(absl::string_view s);

// One job as squeue or sacct reports it.
struct JobRecord {
  std::string job_id;  // "<array id>_<index>" for an array element
  std::string name;
  std::string state;   // PENDING, COMPLETED, CANCELLED (the "by 0" cut), ...
  std::string reason;  // squeue's %r, e.g. Resources, NonZeroExitCode
  bool has_exit = false;
  int exit_code = 0;
  int signal = 0;
};

// squeue -h -r -t all -O JobID:|,State:|,exit_code:|,Reason:|,Name:|,
//   ArrayJobID:|,ArrayTaskID:| --jobs=IDS (-r: one line per array element;
// an element id is asked for as its array's id, once).
std::vector<std::string> SqueueByIdArgv(const std::string& squeue,
                                        const std::vector<std::string>& ids);
// The same with --name=N1,N2,...
std::vector<std::string> SqueueByNameArgv(
    const std::string& squeue, const std::vector<std::string>& names);
// Lines "id|state|raw wait status|reason|name|array id|array index|"
// (squeue -O above); an element's id is "<array id>_<index>". Lines that do
// not parse are skipped.
std::vector<JobRecord> ParseSqueue(absl::string_view output);
// squeue answers a lone unknown id with "Invalid job id specified", rc 1:
// that means "not in the queue", not a failure.
bool SaysInvalidJobId(absl::string_view output);

// SACCT [EXTRA...] -n -P -X -o JobID,JobName,State,ExitCode -j IDS
std::vector<std::string> SacctByIdArgv(const std::string& sacct,
                                       const std::vector<std::string>& extra,
                                       const std::vector<std::string>& ids);
// SACCT [EXTRA...] -n -P -X -o ... -S now-7days --name=N1,... (sacct -c
// ignores --name: callers filter by name themselves).
std::vector<std::string> SacctByNameArgv(const std::string& sacct,
                                         const std::vector<std::string>& extra,
                                         const std::vector<std::string>& names);
// Lines "id|name|state|exit:signal". Step lines (id.batch) are skipped.
std::vector<JobRecord> ParseSacct(absl::string_view output);

// scancel ID...
std::vector<std::string> ScancelArgv(const std::string& scancel,
                                     const std::vector<std::string>& ids);

// The controller could not be reached (slurmctld down, network): the call
// is retried with backoff and never counts against a task.
bool SaysControllerUnreachable(absl::string_view output);

// What a Slurm state means for the attempt.
enum class Outcome {
  kPending,    // queued, held, requeued by Slurm, suspended
  kRunning,    // RUNNING, COMPLETING, ...
  kSucceeded,  // COMPLETED
  kFailed,     // the task failed: uses the task's retry budget
  kCancelled,  // CANCELLED
  kResubmit,   // NODE_FAIL, PREEMPTED, BOOT_FAIL: not the task's fault
};
Outcome ClassifyState(absl::string_view state);
// A sentence for a final state: "TIMEOUT: the job reached its time limit".
std::string ExplainState(absl::string_view state);

// `base` for incarnation 0, else "<base>-r<k>" (a job resubmitted after a
// node failure or preemption).
std::string IncarnationName(const std::string& base, int k);
// k when `name` is `base` (0) or "<base>-r<k>"; -1 otherwise.
int IncarnationOf(const std::string& base, const std::string& name);

// Numeric order of job ids ("99" < "100"; "7_2" < "7_10" < "8").
bool JobIdLess(const std::string& a, const std::string& b);

}  // namespace ocx::runners::slurm

#endif  // OCX_RUNNERS_SLURM_SLURM_COMMAND_H_
