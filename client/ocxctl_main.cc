// ocxctl: the command-line client of ocxd. Flag parsing only; the commands
// live in client/commands.h, which also states the exit codes.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/rpc_client.h"
#include "client/server_address.h"

namespace {

using ocx::client::CommandContext;
using ocx::client::kExitUsage;

int TerminalWidth(int fd) {
  struct winsize size;
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  int columns = 0;
  const char* env = getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) {
    return columns;
  }
  return 80;
}

// "30s", "2m", "1.5" (seconds).
bool ParseTimeout(const std::string& text, absl::Duration* timeout) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    *timeout = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, timeout)) {
    return false;
  }
  return *timeout > absl::ZeroDuration();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ocxctl: submit, watch and inspect evaluations run by ocxd.",
               "ocxctl"};
  app.require_subcommand(1);
  app.fallthrough();
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return absl::StrCat("ocxctl: ", e.what(),
                        "\nRun 'ocxctl --help' for usage.\n");
  });
  app.footer(
      "Exit codes: 0 ok (with --watch: the evaluation succeeded); 1 the "
      "evaluation failed or was cancelled, or ocxd refused the request; 2 "
      "usage or input error; 3 ocxd cannot be reached.");

  std::string server;
  std::string output = "table";
  std::string timeout_text = "30s";
  app.add_option("--server", server,
                 "ocxd address: unix:///path, /path or host:port (default: "
                 "$OCX_SERVER, else the per-user socket, else "
                 "/run/ocx/ocxd.sock)");
  app.add_option("-o,--output", output, "table, wide, json, yaml or name")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml", "name"},
                            CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--timeout", timeout_text,
                 "deadline of each request, e.g. 30s, 2m")
      ->capture_default_str();

  ocx::client::SubmitOptions submit_options;
  CLI::App* submit =
      app.add_subcommand("submit", "Submit an evaluation spec (YAML or JSON)");
  submit->add_option("FILE", submit_options.file, "eval.yaml or eval.json")
      ->required();
  submit->add_flag("-w,--watch", submit_options.watch,
                   "follow the evaluation until it ends; exit 0 only if it "
                   "succeeded");
  submit->add_option("--name", submit_options.name, "display name");
  submit->add_option("--request-id", submit_options.request_id,
                     "idempotency key (default: a random UUID); resubmitting "
                     "with the same key returns the same evaluation");
  submit->add_flag("--dry-run", submit_options.dry_run,
                   "print the task plan; store nothing");

  std::string status_id;
  bool status_watch = false;
  CLI::App* status = app.add_subcommand(
      "status", "Show recent evaluations, or one evaluation in detail");
  status->add_option("EVAL_ID", status_id, "evaluation id");
  status->add_flag("-w,--watch", status_watch,
                   "follow the evaluation until it ends");

  std::string list_state;
  int list_limit = 50;
  CLI::App* list = app.add_subcommand("list", "List evaluations, newest first");
  list->add_option("--state", list_state,
                   "only this state: queued, running, succeeded, failed, "
                   "cancelling, cancelled");
  list->add_option("--limit", list_limit, "at most this many")
      ->capture_default_str();

  std::string tasks_id;
  std::string tasks_state;
  std::string tasks_stage;
  CLI::App* tasks =
      app.add_subcommand("tasks", "List the tasks of an evaluation");
  tasks->add_option("EVAL_ID", tasks_id, "evaluation id")->required();
  tasks->add_option("--state", tasks_state,
                    "only this state: pending, ready, launching, running, "
                    "succeeded, failed, cancelled");
  tasks->add_option("--stage", tasks_stage, "only this stage: infer or eval");

  std::string task_id;
  CLI::App* task =
      app.add_subcommand("task", "Show one task with all its attempts");
  task->add_option("TASK_ID", task_id, "task id, e.g. e7qk2m4xa-infer-3")
      ->required();

  std::string cancel_id;
  std::string results_id;
  std::string results_format;
  CLI::App* results = app.add_subcommand(
      "results", "Print an evaluation's summary table (partial while it runs)");
  results->add_option("EVAL_ID", results_id, "evaluation id")->required();
  results
      ->add_option("-o,--format", results_format,
                   "table, csv, md or json (default: the table; json "
                   "with the global -o json)")
      ->check(CLI::IsMember({"table", "csv", "md", "json"}, CLI::ignore_case));

  CLI::App* cancel = app.add_subcommand("cancel", "Cancel an evaluation");
  cancel->add_option("EVAL_ID", cancel_id, "evaluation id")->required();

  std::string logs_id;
  int logs_attempt = 0;
  bool logs_follow = false;
  CLI::App* logs = app.add_subcommand("logs", "Print a task attempt's log");
  logs->add_option("TASK_ID", logs_id, "task id")->required();
  logs->add_option("--attempt", logs_attempt,
                   "attempt number (default: the "
                   "latest)");
  logs->add_flag("-f,--follow", logs_follow,
                 "keep printing until the attempt ends");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  absl::StatusOr<ocx::client::OutputFormat> format =
      ocx::client::ParseOutputFormat(output);
  if (!format.ok()) {
    std::cerr << "ocxctl: " << format.status().message() << std::endl;
    return kExitUsage;
  }
  absl::Duration timeout;
  if (!ParseTimeout(timeout_text, &timeout)) {
    std::cerr << "ocxctl: --timeout \"" << timeout_text
              << "\" is not a positive duration (e.g. 30s, 2m)" << std::endl;
    return kExitUsage;
  }
  absl::StatusOr<ocx::client::ServerAddress> address =
      ocx::client::ResolveServerAddress(server);
  if (!address.ok()) {
    std::cerr << "ocxctl: " << address.status().message() << std::endl;
    return kExitUsage;
  }

  ocx::client::RpcClientOptions client_options;
  client_options.target = address->target;
  client_options.timeout = timeout;
  ocx::client::RpcClient client(client_options);

  CommandContext ctx;
  ctx.client = &client;
  ctx.server = *address;
  ctx.format = *format;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.out_is_tty = isatty(STDOUT_FILENO) == 1;
  ctx.err_is_tty = isatty(STDERR_FILENO) == 1;
  ctx.terminal_width =
      TerminalWidth(ctx.out_is_tty ? STDOUT_FILENO : STDERR_FILENO);

  if (*submit) {
    return ocx::client::RunSubmit(ctx, submit_options);
  }
  if (*status) return ocx::client::RunStatus(ctx, status_id, status_watch);
  if (*list) return ocx::client::RunList(ctx, list_state, list_limit);
  if (*tasks) {
    return ocx::client::RunTasks(ctx, tasks_id, tasks_state, tasks_stage);
  }
  if (*task) return ocx::client::RunTask(ctx, task_id);
  if (*results) {
    return ocx::client::RunResults(ctx, results_id, results_format);
  }
  if (*cancel) return ocx::client::RunCancel(ctx, cancel_id);
  if (*logs) {
    return ocx::client::RunLogs(ctx, logs_id, logs_attempt, logs_follow);
  }
  return kExitUsage;
}
