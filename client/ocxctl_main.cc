// ocxctl: the command-line client of ocxd. Flag parsing only; the commands
// live in client/commands.h, which also states the exit codes.
#include <malloc.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/client_security.h"
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

// The flags every command takes.
struct GlobalFlags {
  std::string server;
  std::string output = "table";
  std::string timeout = "30s";
  ocx::client::ClientSecurityFiles security;
};

// A subcommand and how to run it once the flags are parsed; its options live
// in the closure.
struct Command {
  CLI::App* app = nullptr;
  std::function<int(const CommandContext&)> run;
};

// TLS and token for TCP daemons (docs/security.md); ignored for unix
// sockets, where the kernel identifies the caller.
void AddSecurityFlags(CLI::App* app, ocx::client::ClientSecurityFiles* files) {
  app->add_option("--tls-ca", files->tls_ca,
                  "PEM CA that signed ocxd's TLS certificate (TCP)")
      ->envname("OCX_TLS_CA");
  app->add_option("--tls-cert", files->tls_cert,
                  "PEM client certificate; its CN is your user name (TCP)")
      ->envname("OCX_TLS_CERT");
  app->add_option("--tls-key", files->tls_key, "PEM key of --tls-cert")
      ->envname("OCX_TLS_KEY");
  app->add_option("--token-file", files->token_file,
                  "file holding a bearer token ocxd knows (TCP)")
      ->envname("OCX_TOKEN_FILE");
}

void ConfigureApp(CLI::App* app, GlobalFlags* flags) {
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("ocxctl ") + OCX_VERSION);
  app->fallthrough();
  app->failure_message([](const CLI::App*, const CLI::Error& e) {
    return absl::StrCat("ocxctl: ", e.what(),
                        "\nRun 'ocxctl --help' for usage.\n");
  });
  app->footer(
      "Exit codes: 0 ok (with --watch: the evaluation succeeded); 1 the "
      "evaluation failed or was cancelled, or ocxd refused the request; 2 "
      "usage or input error; 3 ocxd cannot be reached.");
  app->add_option("--server", flags->server,
                  "ocxd address: unix:///path, /path or host:port (default: "
                  "$OCX_SERVER, else the per-user socket, else "
                  "/run/ocx/ocxd.sock)");
  app->add_option("-o,--output", flags->output,
                  "table, wide, json, yaml or name")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml", "name"},
                            CLI::ignore_case))
      ->capture_default_str();
  app->add_option("--timeout", flags->timeout,
                  "how long each request waits for ocxd (also while it "
                  "restarts) and for its answer, e.g. 30s, 2m")
      ->capture_default_str();
  AddSecurityFlags(app, &flags->security);
}

Command AddSubmit(CLI::App* app) {
  auto options = std::make_shared<ocx::client::SubmitOptions>();
  CLI::App* submit =
      app->add_subcommand("submit", "Submit an evaluation spec (YAML or JSON)");
  submit->add_option("FILE", options->file, "eval.yaml or eval.json")
      ->required();
  submit->add_flag("-w,--watch", options->watch,
                   "follow the evaluation until it ends; exit 0 only if it "
                   "succeeded");
  submit->add_option("--name", options->name, "display name");
  submit->add_option("--request-id", options->request_id,
                     "idempotency key (default: a random UUID); resubmitting "
                     "with the same key returns the same evaluation");
  submit->add_flag("--dry-run", options->dry_run,
                   "print the task plan; store nothing");
  submit->add_option("--max-spec-bytes", options->max_spec_bytes,
                     "refuse a spec larger than this before sending it; "
                     "match ocxd's limits.max_spec_bytes (default 1048576)");
  // -o is a global option: list here what each form prints for submit.
  submit->footer(
      "Output (-o, before or after submit):\n"
      "  table  \"evaluation <id> created (<n> tasks)\"; with --dry-run the "
      "task plan\n"
      "         (ID STAGE MODEL DATASETS SAMPLES COST GPUS DEPENDS) and "
      "totals\n"
      "  wide   as table; the dry-run plan lists every dataset and "
      "dependency\n"
      "  json   the Evaluation (dry run: the PlanEvaluationResponse) as JSON\n"
      "  yaml   the same as YAML\n"
      "  name   the evaluation id (dry run: the task ids), one a line\n\n" +
      app->get_footer());
  return {submit, [options](const CommandContext& ctx) {
            return ocx::client::RunSubmit(ctx, *options);
          }};
}

Command AddCheck(CLI::App* app) {
  auto options = std::make_shared<ocx::client::SubmitOptions>();
  CLI::App* check = app->add_subcommand(
      "check",
      "Preflight a spec: ocxd checks each model endpoint, dataset file and "
      "runner; exit 0 when all are ok, 1 otherwise");
  check->add_option("FILE", options->file, "eval.yaml or eval.json")
      ->required();
  check->add_option("--max-spec-bytes", options->max_spec_bytes,
                    "refuse a spec larger than this before sending it");
  return {check, [options](const CommandContext& ctx) {
            return ocx::client::RunCheck(ctx, *options);
          }};
}

Command AddStatus(CLI::App* app) {
  struct Options {
    std::string id;
    bool watch = false;
    bool mine = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* status = app->add_subcommand(
      "status", "Show recent evaluations, or one evaluation in detail");
  status->add_option("EVAL_ID", options->id, "evaluation id");
  status->add_flag("-w,--watch", options->watch,
                   "follow the evaluation until it ends");
  status->add_flag("--mine", options->mine,
                   "only my evaluations (the list without EVAL_ID)");
  return {status, [options](const CommandContext& ctx) {
            return ocx::client::RunStatus(ctx, options->id, options->watch,
                                          options->mine ? "me" : "");
          }};
}

Command AddList(CLI::App* app) {
  struct Options {
    std::string state;
    int limit = 50;
    bool mine = false;
    std::string owner;
  };
  auto options = std::make_shared<Options>();
  CLI::App* list = app->add_subcommand(
      "list", "List everyone's evaluations with their owner, newest first");
  list->add_option("--state", options->state,
                   "only this state: queued, running, succeeded, failed, "
                   "cancelling, cancelled");
  list->add_option("--limit", options->limit, "at most this many")
      ->capture_default_str();
  CLI::Option* mine =
      list->add_flag("--mine", options->mine, "only my evaluations");
  list->add_option("--owner", options->owner, "only this user's evaluations")
      ->excludes(mine);
  return {list, [options](const CommandContext& ctx) {
            return ocx::client::RunList(ctx, options->state, options->limit,
                                        options->mine ? "me" : options->owner);
          }};
}

Command AddTasks(CLI::App* app) {
  struct Options {
    std::string id;
    std::string state;
    std::string stage;
  };
  auto options = std::make_shared<Options>();
  CLI::App* tasks =
      app->add_subcommand("tasks", "List the tasks of an evaluation");
  tasks->add_option("EVAL_ID", options->id, "evaluation id")->required();
  tasks->add_option("--state", options->state,
                    "only this state: pending, ready, launching, running, "
                    "succeeded, failed, cancelled");
  tasks->add_option("--stage", options->stage,
                    "only this stage: infer or eval");
  return {tasks, [options](const CommandContext& ctx) {
            return ocx::client::RunTasks(ctx, options->id, options->state,
                                         options->stage);
          }};
}

Command AddTask(CLI::App* app) {
  auto id = std::make_shared<std::string>();
  CLI::App* task =
      app->add_subcommand("task", "Show one task with all its attempts");
  task->add_option("TASK_ID", *id, "task id, e.g. e7qk2m4xa-infer-3")
      ->required();
  return {task, [id](const CommandContext& ctx) {
            return ocx::client::RunTask(ctx, *id);
          }};
}

Command AddResults(CLI::App* app) {
  struct Options {
    std::vector<std::string> ids;
    std::string format;
  };
  auto options = std::make_shared<Options>();
  CLI::App* results = app->add_subcommand(
      "results",
      "Print an evaluation's summary table (partial while it runs); with "
      "several, one table with a column per evaluation and model");
  results->add_option("EVAL_ID", options->ids, "evaluation ids")->required();
  results
      ->add_option("-o,--format", options->format,
                   "table, csv, md or json (default: the table; json "
                   "with the global -o json)")
      ->check(CLI::IsMember({"table", "csv", "md", "json"}, CLI::ignore_case));
  return {results, [options](const CommandContext& ctx) {
            return ocx::client::RunResults(ctx, options->ids, options->format);
          }};
}

Command AddRescore(CLI::App* app) {
  auto options = std::make_shared<ocx::client::RescoreCommandOptions>();
  CLI::App* rescore = app->add_subcommand(
      "rescore",
      "Score an evaluation's predictions again, without inference: a new "
      "evaluation sharing them, with its own results and summary");
  rescore->add_option("EVAL_ID", options->evaluation_id, "evaluation id")
      ->required();
  rescore->add_option("--evaluator", options->evaluators,
                      "TYPE for every dataset, or DATASET=TYPE (repeat for "
                      "several), e.g. EMEvaluator, RougeEvaluator; ocxd "
                      "lists the types it knows when one is wrong");
  rescore->add_option("--name", options->name,
                      "display name (default: the id)");
  rescore->add_flag("-w,--watch", options->watch,
                    "follow the new evaluation until it ends");
  return {rescore, [options](const CommandContext& ctx) {
            return ocx::client::RunRescore(ctx, *options);
          }};
}

Command AddServers(CLI::App* app) {
  struct Options {
    std::string evaluation;
    bool all = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* servers = app->add_subcommand(
      "servers", "List managed model servers: one row per replica");
  servers->add_option("--evaluation", options->evaluation,
                      "only the servers this evaluation uses");
  servers->add_flag("--all", options->all,
                    "also stopped and failed replicas, and idle pools");
  return {servers, [options](const CommandContext& ctx) {
            return ocx::client::RunServers(ctx, options->evaluation,
                                           options->all);
          }};
}

Command AddCancel(CLI::App* app) {
  auto id = std::make_shared<std::string>();
  CLI::App* cancel = app->add_subcommand("cancel", "Cancel an evaluation");
  cancel->add_option("EVAL_ID", *id, "evaluation id")->required();
  return {cancel, [id](const CommandContext& ctx) {
            return ocx::client::RunCancel(ctx, *id);
          }};
}

Command AddLogs(CLI::App* app) {
  struct Options {
    std::string id;
    int attempt = 0;
    bool follow = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* logs = app->add_subcommand(
      "logs", "Print a task attempt's log, or a server replica's");
  logs->add_option("TASK_ID", options->id,
                   "task id, or replica id (srv-...-<n>)")
      ->required();
  logs->add_option("--attempt", options->attempt,
                   "attempt number (default: the "
                   "latest)");
  logs->add_flag("-f,--follow", options->follow,
                 "keep printing until the attempt ends");
  return {logs, [options](const CommandContext& ctx) {
            return ocx::client::RunLogs(ctx, options->id, options->attempt,
                                        options->follow);
          }};
}

// The context of a command from the global flags, printing what is wrong
// with them; nullopt then.
std::optional<CommandContext> MakeContext(
    const GlobalFlags& flags, std::unique_ptr<ocx::client::RpcClient>* client) {
  absl::StatusOr<ocx::client::OutputFormat> format =
      ocx::client::ParseOutputFormat(flags.output);
  if (!format.ok()) {
    std::cerr << "ocxctl: " << format.status().message() << std::endl;
    return std::nullopt;
  }
  absl::Duration timeout;
  if (!ParseTimeout(flags.timeout, &timeout)) {
    std::cerr << "ocxctl: --timeout \"" << flags.timeout
              << "\" is not a positive duration (e.g. 30s, 2m)" << std::endl;
    return std::nullopt;
  }
  absl::StatusOr<ocx::client::ServerAddress> address =
      ocx::client::ResolveServerAddress(flags.server);
  if (!address.ok()) {
    std::cerr << "ocxctl: " << address.status().message() << std::endl;
    return std::nullopt;
  }

  ocx::client::RpcClientOptions client_options;
  if (!address->is_unix) {
    absl::StatusOr<ocx::client::ClientSecurity> security =
        ocx::client::LoadClientSecurity(flags.security);
    if (!security.ok()) {
      std::cerr << "ocxctl: " << security.status().message() << std::endl;
      return std::nullopt;
    }
    client_options.security = *std::move(security);
  }
  client_options.target = address->target;
  client_options.timeout = timeout;
  client_options.on_waiting = [](const std::string& line) {
    std::cerr << "ocxctl: " << line << std::endl;
  };
  *client = std::make_unique<ocx::client::RpcClient>(client_options);

  CommandContext ctx;
  ctx.client = client->get();
  ctx.server = *address;
  ctx.format = *format;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.out_is_tty = isatty(STDOUT_FILENO) == 1;
  ctx.err_is_tty = isatty(STDERR_FILENO) == 1;
  ctx.terminal_width =
      TerminalWidth(ctx.out_is_tty ? STDOUT_FILENO : STDERR_FILENO);
  return ctx;
}

// Ends the process once a command has printed everything: without
// gRPC's shutdown, which joins its threads (timers, executor, event
// engine) and took as long as the call itself on a loaded machine, and
// without the static destructors. Nothing is left to do by then: every
// call has returned and the daemon keeps no state per connection.
[[noreturn]] void ExitNow(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for all of gRPC's threads: a fresh arena per thread
  // is pages touched for a few allocations each (perf: page faults were a
  // third of a status call's CPU).
  mallopt(M_ARENA_MAX, 1);
  CLI::App app{"ocxctl: submit, watch and inspect evaluations run by ocxd.",
               "ocxctl"};
  GlobalFlags flags;
  ConfigureApp(&app, &flags);
  const std::vector<Command> commands = {
      AddSubmit(&app),  AddCheck(&app),  AddStatus(&app),  AddList(&app),
      AddTasks(&app),   AddTask(&app),   AddResults(&app), AddRescore(&app),
      AddServers(&app), AddCancel(&app), AddLogs(&app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  std::unique_ptr<ocx::client::RpcClient> client;
  std::optional<CommandContext> ctx = MakeContext(flags, &client);
  if (!ctx.has_value()) return kExitUsage;
  for (const Command& command : commands) {
    if (*command.app) ExitNow(command.run(*ctx));
  }
  return kExitUsage;
}
