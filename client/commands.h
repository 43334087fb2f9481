// The ocxctl commands, below the flag parser: each takes a CommandContext and
// its options, talks to ocxd through RpcClient, writes to the context's
// streams and returns the process exit code.
//
// Exit codes (the contract scripts and CI rely on):
//   0  done; with --watch: the evaluation SUCCEEDED
//   1  with --watch: the evaluation FAILED or was CANCELLED; otherwise the
//      daemon refused or failed the request (FAILED_PRECONDITION, INTERNAL,
//      ...)
//   2  usage or input error: bad flags, a config that does not load or
//      validate, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE
//   3  the daemon cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED), or the
//      connection was lost and not regained during --watch / logs -f
// Errors are printed to `err` as "ocxctl: <message>".
//
// Thread-compatible: one command at a time per context.
#ifndef OCX_CLIENT_COMMANDS_H_
#define OCX_CLIENT_COMMANDS_H_

#include <cstdint>
#include <iostream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/format.h"
#include "client/rpc_client.h"
#include "client/server_address.h"
#include "spec/limits.h"

namespace ocx::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
};

// The exit code for an RPC that ended with `code` (table above).
int ExitCodeFor(absl::StatusCode code);

struct CommandContext {
  // Not owned; must outlive the command.
  RpcClient* client = nullptr;
  // For error messages ("cannot reach ocxd at ...").
  ServerAddress server;
  OutputFormat format = OutputFormat::kTable;
  absl::TimeZone time_zone = absl::LocalTimeZone();
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  // Whether `out` / `err` are terminals (the live view redraws in place).
  bool out_is_tty = false;
  bool err_is_tty = false;
  int terminal_width = 80;
  // Create is retried this many times on UNAVAILABLE / DEADLINE_EXCEEDED
  // with the same request_id; the first wait is `retry_backoff`, doubling.
  int create_retries = 3;
  absl::Duration retry_backoff = absl::Milliseconds(500);
  // --watch and logs -f keep reconnecting to a lost daemon this long, waiting
  // `retry_backoff` doubling up to `max_reconnect_backoff` between tries.
  absl::Duration reconnect_window = absl::Minutes(3);
  absl::Duration max_reconnect_backoff = absl::Seconds(5);
  // Redraw cadence of the live view on a terminal (elapsed time).
  absl::Duration tick = absl::Seconds(1);
};

struct SubmitOptions {
  // eval.yaml / eval.json.
  std::string file;
  bool watch = false;
  // Display name; empty: the daemon uses the id.
  std::string name;
  // Idempotency key; empty: a fresh UUID v4.
  std::string request_id;
  // Plan only (PlanEvaluation); nothing is stored.
  bool dry_run = false;
  // The client's working directory: FILE and a relative spec.work_dir are
  // made absolute against it. Empty: getcwd().
  std::string cwd;
  // A spec file (or its encoding) larger than this is refused before it is
  // read (ocxd's limits.max_spec_bytes; spec/limits.h).
  int64_t max_spec_bytes = spec::kDefaultMaxSpecBytes;
};

// Loads the spec, expands {config_dir}, makes work_dir absolute (against
// the current directory) and dataset paths absolute (against the config's
// directory, see AbsoluteDatasetPaths), validates it
// (spec::ValidateEvaluationSpec) and submits it, retrying Create with one
// request_id; with `watch` follows the evaluation to the end.
int RunSubmit(const CommandContext& ctx, const SubmitOptions& options);

// The spec of `options.file` as submit sends it ({config_dir} expanded,
// paths made absolute, validated); otherwise the message to print.
absl::StatusOr<v1::EvaluationSpec> PrepareSpec(const SubmitOptions& options);

// Preflight (CheckEvaluation; docs/endpoints.md): loads and prepares the
// spec as submit does (file, cwd and max_spec_bytes of `options`), and
// prints what ocxd found of each endpoint, dataset file and runner:
//   table/wide: KIND TARGET USED-BY STATUS LATENCY DETAIL
//   json/yaml:  the CheckEvaluationResponse
// Exit 0 when every check is ok, 1 when one is not, 2 for a spec that does
// not load or validate, 3 when ocxd cannot be reached.
int RunCheck(const CommandContext& ctx, const SubmitOptions& options);

// Empty `evaluation_id`: the recent evaluations (of `owner` only, as in
// RunList, when it is not empty). Otherwise the evaluation with its owner,
// stages and tasks, and the managed-server replicas it may have used (those
// not ended, and those that ended after it was created); with `watch` the
// live view until it ends.
int RunStatus(const CommandContext& ctx, const std::string& evaluation_id,
              bool watch, const std::string& owner = "");

// Evaluations of every user with their owner, newest first, at most `limit`
// (pages followed); `state` is an Evaluation.State name (any case) or
// empty; `owner` a user name, "me" (--mine) or empty for everyone's.
int RunList(const CommandContext& ctx, const std::string& state, int limit,
            const std::string& owner = "");

// Every task of an evaluation (pages followed); `state` a Task.State name,
// `stage` "infer" or "eval"; empty: all.
int RunTasks(const CommandContext& ctx, const std::string& evaluation_id,
             const std::string& state, const std::string& stage);

// One task with its attempts.
int RunTask(const CommandContext& ctx, const std::string& task_id);

// The evaluation's summary table, computed by ocxd from the results files
// (partial while it runs), printed exactly as summary/summary.{txt,csv,md}
// hold it. `format`: table | csv | md | json; empty: from ctx.format
// (json for -o json, the table otherwise). Several evaluations: one table
// with a column per (evaluation, model), "<model>@<evaluation id>", rows
// matched on dataset version (summary/compare.h).
int RunResults(const CommandContext& ctx,
               const std::vector<std::string>& evaluation_ids,
               const std::string& format);

// Managed model servers, one row per replica (format_servers); only those
// of the pools `evaluation_id` uses unless it is empty; `all` adds pools
// and replicas that have ended.
int RunServers(const CommandContext& ctx, const std::string& evaluation_id,
               bool all);

struct RescoreCommandOptions {
  std::string evaluation_id;
  // Each "TYPE" (every dataset; at most one) or "DATASET=TYPE".
  std::vector<std::string> evaluators;
  std::string name;
  bool watch = false;
};

// Scores an evaluation's predictions again without inference
// (RescoreEvaluation): prints the new evaluation as submit does and, with
// `watch`, follows it to its end. A prediction that is missing or changed
// is exit 1 with the daemon's message naming its dataset and file.
int RunRescore(const CommandContext& ctx, const RescoreCommandOptions& options);

// Cancels an evaluation and prints its new state.
int RunCancel(const CommandContext& ctx, const std::string& evaluation_id);

// Copies an attempt's log (0: the latest) to `out` byte for byte; with
// `follow` until the attempt ends, reconnecting if the daemon restarts.
int RunLogs(const CommandContext& ctx, const std::string& task_id, int attempt,
            bool follow);

// Replaces `{config_dir}` in the runner task argv and env values of both
// stages with `config_dir` (the directory of the spec file), so that a spec
// can name scripts beside it. Braces inside `config_dir` are doubled, so the
// daemon's placeholder expansion yields the path verbatim; `{{` and `}}`
// are left for the daemon.
void ExpandConfigDir(absl::string_view config_dir, v1::EvaluationSpec* spec);

// Makes each dataset's relative `path` absolute against `config_dir` (the
// directory of the spec file) when a file or directory exists there, so
// that ocxd, which cannot know the client's directories, can read it to
// count samples. Other relative paths (dataset ids such as
// "opencompass/gsm8k", resolved by the task program) are left as written.
void AbsoluteDatasetPaths(absl::string_view config_dir,
                          v1::EvaluationSpec* spec);

// A random UUID v4 (from /dev/urandom), e.g.
// "3f2b8c1e-9d4a-4c6b-8e2f-0a1b2c3d4e5f".
std::string NewRequestId();

}  // namespace ocx::client

#endif  // OCX_CLIENT_COMMANDS_H_
