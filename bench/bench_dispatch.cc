// bench_dispatch: throughput of the dispatcher + LocalRunner on no-op tasks.
//
// Target (issue): 5,000 no-op tasks through LocalRunner with
// max_num_workers = cores reach at least half the rate of
// `xargs -P <cores> -n 1 true` over the same count (ratio >= 0.5).
//
// Everything runs in this process, as in ocxd but without gRPC: a store in a
// temporary directory, a LocalRunner spawning the real ocx-shim, a Waker fed
// by a SIGCHLD handler, and the Dispatcher. One evaluation of N READY infer
// tasks running /bin/true (no expected outputs) is submitted; the clock runs
// from Submit() to the end_time the dispatcher stamps on the evaluation when
// its last task ends (this thread polls the store every 50 ms to see it).
//
// Baselines in the same process: the xargs pipeline before and after (their
// mean is the reference, the machine is shared and noisy) and, to split the
// cost, the same N tasks run by ocx-shim directly with W in flight and no
// dispatcher ("shim only").
//
// Usage: bench_dispatch [--tasks N] [--workers W]
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
  int workers = 0;  // 0: cores
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--tasks" || a == "--workers") && i + 1 < argc) {
      int v = atoi(argv[++i]);
      (a == "--tasks" ? args.tasks : args.workers) = v;
    } else {
      fprintf(stderr, "usage: %s [--tasks N] [--workers W]\n", argv[0]);
      exit(2);
    }
  }
  if (args.workers <= 0) args.workers = ocx::bench::Cores();
  if (args.tasks <= 0) args.tasks = 1;
  return args;
}

// `seq N | xargs -P W -n 1 true`; seconds, negative on failure.
// `children_cpu` gets the pipeline's CPU seconds.
double XargsBaseline(int tasks, int workers, double* children_cpu) {
  ocx::bench::CpuTimes cpu0 = ocx::bench::ProcessCpu();
  double s = ocx::bench::ShellTimed(
      absl::StrCat("seq ", tasks, " | xargs -P ", workers, " -n 1 true"));
  *children_cpu = ocx::bench::ProcessCpu().children - cpu0.children;
  return s;
}

// N runs of `ocx-shim ... -- /bin/true`, W in flight, spawned as LocalRunner
// does (new session, stderr to the log) but without the dispatcher or the
// store. Returns seconds, negative on failure.
double ShimOnly(const std::string& dir, int tasks, int workers) {
  std::string shim = OCX_SHIM_PATH;
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
        shim, "--attempt-dir", attempt_dir, "--log", log, "--", "/bin/true"};
    std::vector<char*> ptrs;
    for (std::string& s : args) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(),
                                     O_WRONLY | O_APPEND | O_CREAT, 0644);
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

ocx::server::Submission MakeSubmission(const std::string& eval_id,
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
    runner->mutable_task()->add_argv("/bin/true");
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
    p->mutable_task()->add_argv("/bin/true");
    sub.tasks.push_back(std::move(t));
  }
  return sub;
}

struct OcxRun {
  double seconds = -1;
  double self_cpu = 0;      // the dispatcher thread (process minus main)
  double children_cpu = 0;  // shims and tasks
  uint64_t commits = 0;
  int64_t succeeded = 0;
  std::string error;
};

OcxRun RunOcx(const std::string& dir, int tasks, int workers) {
  OcxRun run;
  auto store = ocx::store::Store::Open(dir + "/ocx.db");
  if (!store.ok()) {
    run.error = store.status().ToString();
    return run;
  }
  ocx::runners::LocalRunner::Options options;
  options.shim_path = OCX_SHIM_PATH;
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
      MakeSubmission(eval_id, dir + "/work", tasks, workers);
  uint64_t gen0 = dispatcher.WaitForCommit(0, absl::ZeroDuration());
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
  run.commits = gen - gen0;
  printf(
      "ocx: submit (insert + commit of %d tasks) took %.1f ms; %llu "
      "commits\n",
      tasks, (submitted - start) * 1e3,
      static_cast<unsigned long long>(run.commits));
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  const int n = args.tasks, w = args.workers;
  printf("bench_dispatch: %d no-op tasks, %d workers (%d cores)\n", n, w,
         ocx::bench::Cores());
  printf("shim: %s\n", OCX_SHIM_PATH);

  struct sigaction sa = {};
  sa.sa_handler = OnSigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);

  ocx::bench::BenchDir dir;
  auto report = [n](const char* what, double s) {
    printf("%-28s %8.3f s  %9.1f tasks/s  %7.3f ms/task\n", what, s, n / s,
           s * 1e3 / n);
  };

  double xargs_cpu_before = 0, xargs_cpu_after = 0;
  double xargs_before = XargsBaseline(n, w, &xargs_cpu_before);
  if (xargs_before <= 0) {
    fprintf(stderr, "xargs baseline failed\n");
    return 1;
  }
  report("xargs -P (before)", xargs_before);

  ocx::bench::CpuTimes shim_cpu0 = ocx::bench::ProcessCpu();
  std::string shim_dir = dir.path() + "/shim-only";
  mkdir(shim_dir.c_str(), 0755);
  double shim_only = ShimOnly(shim_dir, n, w);
  ocx::bench::CpuTimes shim_cpu1 = ocx::bench::ProcessCpu();
  if (shim_only <= 0) return 1;
  report("ocx-shim only (no daemon)", shim_only);

  OcxRun ocx_run = RunOcx(dir.path(), n, w);
  if (ocx_run.seconds <= 0) {
    fprintf(stderr, "ocx run failed: %s\n", ocx_run.error.c_str());
    return 1;
  }
  report("ocx dispatcher+LocalRunner", ocx_run.seconds);

  double xargs_after = XargsBaseline(n, w, &xargs_cpu_after);
  if (xargs_after <= 0) {
    fprintf(stderr, "xargs baseline failed\n");
    return 1;
  }
  report("xargs -P (after)", xargs_after);

  double xargs_mean = (xargs_before + xargs_after) / 2;
  double xargs_rate = n / xargs_mean;
  double ocx_rate = n / ocx_run.seconds;
  double ratio = ocx_rate / xargs_rate;
  double shim_rate = n / shim_only;
  printf("\n");
  printf("xargs mean: %.1f tasks/s\n", xargs_rate);
  printf(
      "ocx: %.1f tasks/s; ratio to xargs %.3f (target >= 0.5); ratio to "
      "shim only %.3f\n",
      ocx_rate, ratio, ocx_rate / shim_rate);
  printf(
      "ocx CPU: dispatcher process %.3f ms/task, shims+tasks %.3f "
      "ms/task; %.2f commits/task\n",
      ocx_run.self_cpu * 1e3 / n, ocx_run.children_cpu * 1e3 / n,
      static_cast<double>(ocx_run.commits) / n);
  printf("shim-only CPU: shims+tasks %.3f ms/task\n",
         (shim_cpu1.children - shim_cpu0.children) * 1e3 / n);
  // CPU per task is less sensitive to other load than wall time.
  double xargs_cpu = (xargs_cpu_before + xargs_cpu_after) / 2 / n;
  double ocx_cpu = (ocx_run.self_cpu + ocx_run.children_cpu) / n;
  printf("xargs CPU: %.3f ms/task; CPU ratio xargs/ocx %.3f\n", xargs_cpu * 1e3,
         xargs_cpu / ocx_cpu);
  double spread =
      std::max(xargs_before, xargs_after) / std::min(xargs_before, xargs_after);
  if (spread > 1.3) {
    printf(
        "NOTE: the two xargs runs differ by %.1fx: the machine is busy "
        "and the ratio is noisy\n",
        spread);
  }

  ocx::bench::PrintResult({
      {"bench", "dispatch"},
      {"tasks", absl::StrCat(n)},
      {"workers", absl::StrCat(w)},
      {"ocx_s", Fmt(ocx_run.seconds)},
      {"ocx_tasks_per_s", Fmt(ocx_rate, 1)},
      {"xargs_before_s", Fmt(xargs_before)},
      {"xargs_after_s", Fmt(xargs_after)},
      {"xargs_tasks_per_s", Fmt(xargs_rate, 1)},
      {"shim_only_tasks_per_s", Fmt(shim_rate, 1)},
      {"ratio", Fmt(ratio)},
      {"ratio_vs_shim_only", Fmt(ocx_rate / shim_rate)},
      {"dispatcher_cpu_ms_per_task", Fmt(ocx_run.self_cpu * 1e3 / n)},
      {"children_cpu_ms_per_task", Fmt(ocx_run.children_cpu * 1e3 / n)},
      {"commits_per_task", Fmt(static_cast<double>(ocx_run.commits) / n)},
      {"xargs_cpu_ms_per_task", Fmt(xargs_cpu * 1e3)},
      {"cpu_ratio", Fmt(xargs_cpu / ocx_cpu)},
      {"xargs_spread", Fmt(spread, 2)},
  });
  return 0;
}
