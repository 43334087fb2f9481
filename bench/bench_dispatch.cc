// bench_dispatch: throughput of the dispatcher + LocalRunner on no-op tasks,
// against `xargs -P` running the same program.
//
// Target (issue 15): local dispatch of no-op tasks >= 0.9x `xargs -P
// <cores> -n 1 PROGRAM` running the same program. Two programs:
//  - /bin/true (--tasks, default 5,000): the worst case, a task that costs
//    almost nothing, so ocx's own cost per task is all there is to see;
//  - `python3 -c pass` (--realistic-tasks, default 500; 0 skips it): the
//    least a real evaluation task costs (OpenCompass's tasks are Python
//    programs; ocx-task needs a task file and a model server to do
//    anything). xargs passes each task its sequence number as one more
//    argument, so the xargs runs are `true 17` and `python3 -c pass 17`.
//
// Everything runs in this process, as in ocxd but without gRPC: a store in a
// temporary directory, a LocalRunner spawning the real ocx-shim, a Waker fed
// by a SIGCHLD handler, and the Dispatcher. One evaluation of N READY infer
// tasks running the program (no expected outputs) is submitted; the clock
// runs from Submit() to the end_time the dispatcher stamps on the evaluation
// when its last task ends (this thread polls the store every 50 ms to see
// it).
//
// Baselines in the same process, for each program: the xargs pipeline
// before and after (their mean is the reference, the machine is shared and
// noisy) and, to split the cost, the same N tasks run by ocx-shim directly
// with W in flight and no dispatcher ("shim only").
//
// "commits" counts the dispatcher's commits that changed rows (Dispatcher::
// writing_commits): a turn woken by a shim's SIGCHLD whose exit the runner
// reports in a later turn commits nothing and is not counted; "turns" counts
// every commit generation (Dispatcher::WaitForCommit).
//
// Usage: bench_dispatch [--tasks N] [--realistic-tasks M] [--workers W]
// OCX_BENCH_SHIM=PATH runs that ocx-shim instead of the one built with it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "common/time_util.h"
#include "common/waker.h"
#include "ocx/v1/resources.pb.h"
#include "runners/local/local_runner.h"
#include "server/dispatcher/dispatcher.h"
#include "server/store/store.h"

extern char** environ;

namespace {

using ocx::bench::Fmt;
using ocx::bench::Now;

ocx::Waker* g_waker = nullptr;

extern "C" void OnSigchld(int) {
  int saved = errno;
  if (g_waker != nullptr) g_waker->Notify();
  errno = saved;
}

struct Args {
  int tasks = 5000;
  int realistic_tasks = 500;
  int workers = 0;  // 0: cores
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    int* field = a == "--tasks"             ? &args.tasks
                 : a == "--realistic-tasks" ? &args.realistic_tasks
                 : a == "--workers"         ? &args.workers
                                            : nullptr;
    if (field == nullptr || i + 1 >= argc) {
      fprintf(stderr,
              "usage: %s [--tasks N] [--realistic-tasks M] [--workers W]\n",
              argv[0]);
      exit(2);
    }
    *field = atoi(argv[++i]);
  }
  if (args.workers <= 0) args.workers = ocx::bench::Cores();
  if (args.tasks <= 0) args.tasks = 1;
  if (args.realistic_tasks < 0) args.realistic_tasks = 0;
  return args;
}

// The ocx-shim to run: $OCX_BENCH_SHIM (to compare another build of it
// with the same benchmark), else the one built with this benchmark.
std::string ShimPath() {
  const char* env = getenv("OCX_BENCH_SHIM");
  return env != nullptr && *env != '\0' ? env : OCX_SHIM_PATH;
}

// The task program of one run: its argv, and the same as a shell word list
// for xargs.
struct Program {
  std::string name;
  std::vector<std::string> argv;
  std::string shell;
};

// `seq N | xargs -P W -n 1 PROGRAM`; seconds, negative on failure.
// `children_cpu` gets the pipeline's CPU seconds.
double XargsBaseline(const Program& program, int tasks, int workers,
                     double* children_cpu) {
  ocx::bench::CpuTimes cpu0 = ocx::bench::ProcessCpu();
  double s = ocx::bench::ShellTimed(absl::StrCat(
      "seq ", tasks, " | xargs -P ", workers, " -n 1 ", program.shell));
  *children_cpu = ocx::bench::ProcessCpu().children - cpu0.children;
  return s;
}

// N runs of `ocx-shim ... -- PROGRAM`, W in flight, spawned as LocalRunner
// does (new session, the shim opens the log and makes it its stderr:
// --log-stderr) but without the dispatcher or the store. Returns seconds,
// negative on failure.
double ShimOnly(const Program& program, const std::string& dir, int tasks,
                int workers) {
  std::string shim = ShimPath();
  int in_flight = 0, failed = 0;
  double start = Now();
  auto reap = [&]() {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno != EINTR) ++failed;
      return;
    }
    --in_flight;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  };
  for (int i = 0; i < tasks; ++i) {
    while (in_flight >= workers) reap();
    std::string attempt_dir = absl::StrCat(dir, "/a", i);
    std::string log = absl::StrCat(dir, "/a", i, ".out");
    std::vector<std::string> args = {
        shim, "--attempt-dir", attempt_dir, "--log", log, "--log-stderr", "--"};
    args.insert(args.end(), program.argv.begin(), program.argv.end());
    std::vector<char*> ptrs;
    for (std::string& s : args) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid;
    int rc =
        posix_spawn(&pid, shim.c_str(), &actions, &attr, ptrs.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      fprintf(stderr, "spawn %s: %s\n", shim.c_str(), strerror(rc));
      return -1;
    }
    ++in_flight;
  }
  while (in_flight > 0) reap();
  double elapsed = Now() - start;
  if (failed > 0) {
    fprintf(stderr, "shim only: %d shims failed\n", failed);
    return -1;
  }
  return elapsed;
}

ocx::server::Submission MakeSubmission(const Program& program,
                                       const std::string& eval_id,
                                       const std::string& work_dir, int tasks,
                                       int workers) {
  ocx::server::Submission sub;
  ocx::v1::Evaluation& e = sub.evaluation;
  e.set_id(eval_id);
  e.set_name("bench-dispatch");
  e.set_work_dir(work_dir);
  ocx::v1::EvaluationSpec* spec = e.mutable_spec();
  spec->set_work_dir(work_dir);
  spec->add_models()->set_abbr("m");
  for (ocx::v1::StageConfig* stage :
       {spec->mutable_infer(), spec->mutable_eval()}) {
    ocx::v1::RunnerConfig* runner = stage->mutable_runner();
    runner->set_type("LocalRunner");
    runner->set_max_num_workers(workers);
    runner->set_retry(0);
    runner->mutable_task()->set_type("command");
    for (const std::string& arg : program.argv) {
      runner->mutable_task()->add_argv(arg);
    }
  }
  sub.tasks.reserve(tasks);
  for (int i = 0; i < tasks; ++i) {
    ocx::v1::Task t;
    t.set_id(absl::StrCat(eval_id, "-infer-", i));
    t.set_evaluation_id(eval_id);
    t.set_stage(ocx::v1::STAGE_INFER);
    t.set_index(i);
    t.set_name(absl::StrCat("noop[m/", i, "]"));
    t.set_state(ocx::v1::Task::READY);
    t.set_model_abbr("m");
    t.set_max_attempts(1);
    ocx::v1::TaskParams* p = t.mutable_params();
    p->set_task_id(t.id());
    p->set_evaluation_id(eval_id);
    p->set_work_dir(work_dir);
    p->set_stage(ocx::v1::STAGE_INFER);
    p->mutable_model()->set_abbr("m");
    p->mutable_task()->set_type("command");
    for (const std::string& arg : program.argv)
      p->mutable_task()->add_argv(arg);
    sub.tasks.push_back(std::move(t));
  }
  return sub;
}

struct OcxRun {
  double seconds = -1;
  double self_cpu = 0;      // the dispatcher thread (process minus main)
  double children_cpu = 0;  // shims and tasks
  uint64_t commits = 0;     // that changed rows
  uint64_t turns = 0;       // commit generations, writing or not
  int64_t succeeded = 0;
  std::string error;
};

OcxRun RunOcx(const Program& program, const std::string& dir, int tasks,
              int workers) {
  OcxRun run;
  auto store = ocx::store::Store::Open(dir + "/ocx.db");
  if (!store.ok()) {
    run.error = store.status().ToString();
    return run;
  }
  ocx::runners::LocalRunner::Options options;
  options.shim_path = ShimPath();
  options.max_parallel = workers;
  auto runner = ocx::runners::LocalRunner::Create(options);
  if (!runner.ok()) {
    run.error = runner.status().ToString();
    return run;
  }
  ocx::Waker waker;
  g_waker = &waker;
  ocx::server::Dispatcher dispatcher(store->get(), runner->get(), &waker,
                                     ocx::server::DispatcherOptions());
  if (absl::Status s = dispatcher.Recover(); !s.ok()) {
    g_waker = nullptr;
    run.error = s.ToString();
    return run;
  }
  dispatcher.Start();

  const std::string eval_id = "ebench0001";
  ocx::server::Submission sub =
      MakeSubmission(program, eval_id, dir + "/work", tasks, workers);
  uint64_t gen0 = dispatcher.WaitForCommit(0, absl::ZeroDuration());
  const uint64_t writes0 = dispatcher.writing_commits();
  ocx::bench::CpuTimes cpu0 = ocx::bench::ProcessCpu();
  double main0 = ocx::bench::ThreadCpu();
  int64_t start_ms = ocx::NowMillis();
  double start = Now();
  absl::StatusOr<std::string> id = dispatcher.Submit(std::move(sub));
  double submitted = Now();
  uint64_t gen = gen0;
  ocx::v1::Evaluation e;
  while (id.ok()) {
    // GetEvaluation counts the tasks by state (about a millisecond for
    // 5,000 tasks): look at most every 50 ms, so that this thread does not
    // compete with the dispatcher. The end time comes from the evaluation.
    usleep(50000);
    gen = dispatcher.WaitForCommit(gen, absl::Milliseconds(100));
    absl::StatusOr<ocx::v1::Evaluation> got = (*store)->GetEvaluation(*id);
    if (!got.ok()) {
      run.error = got.status().ToString();
      break;
    }
    e = *std::move(got);
    if (e.state() == ocx::v1::Evaluation::SUCCEEDED ||
        e.state() == ocx::v1::Evaluation::FAILED ||
        e.state() == ocx::v1::Evaluation::CANCELLED) {
      break;
    }
  }
  double seen = Now();
  ocx::bench::CpuTimes cpu1 = ocx::bench::ProcessCpu();
  double main1 = ocx::bench::ThreadCpu();
  dispatcher.Stop();
  g_waker = nullptr;
  if (!id.ok()) {
    run.error = id.status().ToString();
    return run;
  }
  if (!run.error.empty()) return run;
  for (const ocx::v1::StageCounts& c : e.stage_counts()) {
    run.succeeded += c.succeeded();
  }
  if (e.state() != ocx::v1::Evaluation::SUCCEEDED || run.succeeded != tasks) {
    run.error = absl::StrCat(
        "evaluation ended ", ocx::v1::Evaluation::State_Name(e.state()),
        " with ", run.succeeded, "/", tasks, " tasks succeeded");
    return run;
  }
  // The dispatcher stamps end_time in the turn that ends the last task.
  int64_t end_ms = ocx::TimestampMillis(e.end_time());
  run.seconds = (end_ms - start_ms) / 1e3;
  if (end_ms <= start_ms || run.seconds > seen - start + 0.01) {
    run.seconds = seen - start;  // clock step: what we saw
  }
  // Without this thread's CPU (it only waits and polls the store).
  run.self_cpu = (cpu1.self - cpu0.self) - (main1 - main0);
  run.children_cpu = cpu1.children - cpu0.children;
  run.commits = dispatcher.writing_commits() - writes0;
  run.turns = gen - gen0;
  printf(
      "ocx: submit (insert + commit of %d tasks) took %.1f ms; %llu "
      "commits that wrote, %llu turns\n",
      tasks, (submitted - start) * 1e3,
      static_cast<unsigned long long>(run.commits),
      static_cast<unsigned long long>(run.turns));
  return run;
}

// What one program's runs measured.
struct Measured {
  bool ok = false;
  int tasks = 0;
  double xargs_before = 0, xargs_after = 0, shim_only = 0;
  double xargs_cpu = 0;  // per task, mean of the two runs
  double shim_cpu = 0;   // per task
  OcxRun ocx;

  double xargs_rate() const {
    return tasks / ((xargs_before + xargs_after) / 2);
  }
  double ocx_rate() const { return tasks / ocx.seconds; }
  double ratio() const { return ocx_rate() / xargs_rate(); }
  double ratio_vs_shim() const { return ocx_rate() / (tasks / shim_only); }
  double ocx_cpu() const { return (ocx.self_cpu + ocx.children_cpu) / tasks; }
  double spread() const {
    return std::max(xargs_before, xargs_after) /
           std::min(xargs_before, xargs_after);
  }
};

void Report(const Program& program, const char* what, int n, double s) {
  printf("[%s] %-28s %8.3f s  %9.1f tasks/s  %7.3f ms/task\n",
         program.name.c_str(), what, s, n / s, s * 1e3 / n);
}

// xargs, shim only, ocx, xargs again, for `program`; prints each run.
Measured MeasureProgram(const Program& program, const std::string& dir, int n,
                        int w) {
  Measured m;
  m.tasks = n;
  mkdir(dir.c_str(), 0755);
  double cpu_before = 0, cpu_after = 0;
  m.xargs_before = XargsBaseline(program, n, w, &cpu_before);
  if (m.xargs_before <= 0) {
    fprintf(stderr, "[%s] xargs baseline failed\n", program.name.c_str());
    return m;
  }
  Report(program, "xargs -P (before)", n, m.xargs_before);

  ocx::bench::CpuTimes shim_cpu0 = ocx::bench::ProcessCpu();
  std::string shim_dir = dir + "/shim-only";
  mkdir(shim_dir.c_str(), 0755);
  m.shim_only = ShimOnly(program, shim_dir, n, w);
  m.shim_cpu = (ocx::bench::ProcessCpu().children - shim_cpu0.children) / n;
  if (m.shim_only <= 0) return m;
  Report(program, "ocx-shim only (no daemon)", n, m.shim_only);

  m.ocx = RunOcx(program, dir, n, w);
  if (m.ocx.seconds <= 0) {
    fprintf(stderr, "[%s] ocx run failed: %s\n", program.name.c_str(),
            m.ocx.error.c_str());
    return m;
  }
  Report(program, "ocx dispatcher+LocalRunner", n, m.ocx.seconds);

  m.xargs_after = XargsBaseline(program, n, w, &cpu_after);
  if (m.xargs_after <= 0) {
    fprintf(stderr, "[%s] xargs baseline failed\n", program.name.c_str());
    return m;
  }
  Report(program, "xargs -P (after)", n, m.xargs_after);
  m.xargs_cpu = (cpu_before + cpu_after) / 2 / n;
  m.ok = true;

  const char* name = program.name.c_str();
  printf(
      "[%s] ocx %.1f tasks/s, xargs mean %.1f: ratio %.3f (target >= "
      "0.9); ratio to shim only %.3f\n",
      name, m.ocx_rate(), m.xargs_rate(), m.ratio(), m.ratio_vs_shim());
  printf(
      "[%s] CPU ms/task: dispatcher process %.3f, shims+tasks %.3f, "
      "shim-only run %.3f, xargs %.3f; CPU ratio xargs/ocx %.3f; "
      "%.2f commits/task (that wrote), %.2f turns/task\n",
      name, m.ocx.self_cpu * 1e3 / n, m.ocx.children_cpu * 1e3 / n,
      m.shim_cpu * 1e3, m.xargs_cpu * 1e3, m.xargs_cpu / m.ocx_cpu(),
      static_cast<double>(m.ocx.commits) / n,
      static_cast<double>(m.ocx.turns) / n);
  if (m.spread() > 1.3) {
    printf(
        "[%s] NOTE: the two xargs runs differ by %.1fx: the machine is "
        "busy and the ratio is noisy\n",
        name, m.spread());
  }
  return m;
}

// The RESULT fields of one program, keys prefixed with `p`.
void AddFields(const std::string& p, const Measured& m,
               std::vector<std::pair<std::string, std::string>>* kv) {
  const int n = m.tasks;
  std::vector<std::pair<std::string, std::string>> f = {
      {"tasks", absl::StrCat(n)},
      {"ocx_s", Fmt(m.ocx.seconds)},
      {"ocx_tasks_per_s", Fmt(m.ocx_rate(), 1)},
      {"xargs_before_s", Fmt(m.xargs_before)},
      {"xargs_after_s", Fmt(m.xargs_after)},
      {"xargs_tasks_per_s", Fmt(m.xargs_rate(), 1)},
      {"shim_only_tasks_per_s", Fmt(n / m.shim_only, 1)},
      {"ratio", Fmt(m.ratio())},
      {"ratio_vs_shim_only", Fmt(m.ratio_vs_shim())},
      {"dispatcher_cpu_ms_per_task", Fmt(m.ocx.self_cpu * 1e3 / n)},
      {"children_cpu_ms_per_task", Fmt(m.ocx.children_cpu * 1e3 / n)},
      {"shim_only_cpu_ms_per_task", Fmt(m.shim_cpu * 1e3)},
      {"commits_per_task", Fmt(static_cast<double>(m.ocx.commits) / n)},
      {"turns_per_task", Fmt(static_cast<double>(m.ocx.turns) / n)},
      {"xargs_cpu_ms_per_task", Fmt(m.xargs_cpu * 1e3)},
      {"cpu_ratio", Fmt(m.xargs_cpu / m.ocx_cpu())},
      {"xargs_spread", Fmt(m.spread(), 2)},
  };
  for (auto& [k, v] : f) kv->emplace_back(p + k, v);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  const int w = args.workers;
  printf(
      "bench_dispatch: %d tasks of /bin/true, %d of python3 -c pass, %d "
      "workers (%d cores)\n",
      args.tasks, args.realistic_tasks, w, ocx::bench::Cores());
  printf("shim: %s\n", ShimPath().c_str());

  struct sigaction sa = {};
  sa.sa_handler = OnSigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);

  ocx::bench::BenchDir dir;
  const Program kTrue = {"true", {"/bin/true"}, "/bin/true"};
  Measured worst = MeasureProgram(kTrue, dir.path() + "/true", args.tasks, w);
  if (!worst.ok) return 1;
  std::vector<std::pair<std::string, std::string>> kv = {
      {"bench", "dispatch"}, {"workers", absl::StrCat(w)}};
  AddFields("", worst, &kv);

  if (args.realistic_tasks > 0) {
    const Program kPython = {
        "python", {"python3", "-c", "pass"}, "python3 -c pass"};
    if (ocx::bench::ShellTimed("python3 -c pass") < 0) {
      printf("[python] skipped: python3 -c pass does not run here\n");
    } else {
      printf("\n");
      Measured real = MeasureProgram(kPython, dir.path() + "/python",
                                     args.realistic_tasks, w);
      if (!real.ok) return 1;
      AddFields("python_", real, &kv);
    }
  }
  ocx::bench::PrintResult(kv);
  return 0;
}
