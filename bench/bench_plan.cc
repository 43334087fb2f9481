// bench_plan: planning and committing a large SizePartitioner evaluation.
//
// Targets (issue): plan 200 models x 500 datasets (100,000 pairs, sizes
// drawn from 10 to 100,000 samples) with SizePartitioner in under 1 s, and
// commit the resulting tasks in under 3 s; report both, with peak memory.
//
// The spec: 200 models, 500 datasets with explicit `size`s drawn
// log-uniformly from [10, 100000] (seed 42: most benchmarks are small, a
// few large, as in OpenCompass's suites); one dataset in ten is a 4-label
// perplexity dataset, one in twenty is named gsm8k_* (heavy: x10), the
// rest generate (factor 20). SizePartitioner with max_task_size
// --max-task-size (default 2,000,000: about one 100,000-sample generation
// dataset, so that the largest are split and the small ones packed; with
// OpenCompass's default 40000 the same spec is about 750,000 infer tasks),
// NaivePartitioner for eval (100,000 eval tasks, each with its parts
// manifest).
//
// Measured, in this process:
//   plan    PrepareSubmission: validation, defaults, sizes, PlanTasks with
//           fingerprints and manifests (median of 3); and PlanTasks alone.
//   commit  one Store transaction inserting the evaluation and every task
//           row into a fresh database file (WAL, synchronous=NORMAL), as
//           the dispatcher's Create does.
//   memory  VmHWM of this process after the SizePartitioner phases (read
//           before the baseline runs).
// Baseline in the same run: the same two steps for a NaivePartitioner spec
// of about the same number of tasks (200 models x D datasets); ratios are
// per task.
//
// Usage: bench_plan [--models M] [--datasets D] [--max-task-size S]
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "partitioners/plan.h"
#include "server/store/store.h"
#include "server/submission.h"
#include "spec/validate.h"

namespace {

using ocx::bench::Fmt;
using ocx::bench::Median;
using ocx::bench::Now;

struct Args {
  int models = 200;
  int datasets = 500;
  int64_t max_task_size = 2000000;
};

ocx::v1::EvaluationSpec MakeSpec(const Args& args, bool size_partitioner,
                                 int datasets) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < args.models; ++m) {
    ocx::v1::ModelConfig* model = spec.add_models();
    model->set_abbr(absl::StrCat("model-", m));
    model->set_type("OpenAISDK");
    model->set_path(absl::StrCat("org/model-", m));
    model->set_openai_api_base("http://127.0.0.1:8000/v1");
    model->set_max_out_len(1024);
    model->set_batch_size(16);
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> log_size(std::log(10.0),
                                                  std::log(100000.0));
  for (int d = 0; d < datasets; ++d) {
    ocx::v1::DatasetConfig* ds = spec.add_datasets();
    const bool heavy = d % 20 == 7;
    const bool ppl = d % 10 == 3;
    ds->set_abbr(heavy ? absl::StrCat("gsm8k_v", d) : absl::StrCat("ds", d));
    ds->set_type("JsonlDataset");
    ds->set_path(absl::StrCat("/data/ds", d, ".jsonl"));
    ds->set_size(static_cast<int64_t>(std::exp(log_size(rng))));
    ds->mutable_reader_cfg()->add_input_columns("question");
    ds->mutable_reader_cfg()->set_output_column("answer");
    auto* tmpl =
        ds->mutable_infer_cfg()->mutable_prompt_template()->mutable_template_();
    if (ppl) {
      auto* fields = tmpl->mutable_struct_value()->mutable_fields();
      for (const char* label : {"A", "B", "C", "D"}) {
        (*fields)[label].set_string_value(
            absl::StrCat("{question}\nAnswer: ", label));
      }
    } else {
      tmpl->set_string_value("Question: {question}\nAnswer:");
    }
    ds->mutable_infer_cfg()->mutable_inferencer()->set_type(
        ppl ? "PPLInferencer" : "GenInferencer");
    ds->mutable_eval_cfg()->mutable_evaluator()->set_type("AccEvaluator");
  }
  if (size_partitioner) {
    auto* p = spec.mutable_infer()->mutable_partitioner();
    p->set_type("SizePartitioner");
    p->set_max_task_size(args.max_task_size);
  }
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    auto* task = stage->mutable_runner()->mutable_task();
    task->set_type("command");
    task->add_argv("/usr/bin/python3");
    task->add_argv("run.py");
    task->add_argv("{task_json}");
  }
  return spec;
}

struct Phase {
  double prepare_s = 0;  // median PrepareSubmission
  double plan_s = 0;     // median PlanTasks alone
  double commit_s = 0;
  size_t tasks = 0;
  size_t infer_tasks = 0;
  int64_t parts = 0;
  int64_t samples = 0;
  int64_t db_bytes = 0;
};

bool Run(const ocx::v1::EvaluationSpec& spec, const std::string& dir,
         const std::string& name, Phase* out) {
  ocx::server::SubmissionPolicy policy;
  policy.work_root = dir + "/work";
  std::vector<double> prepare, plan;
  {
    ocx::v1::EvaluationSpec applied = spec;
    ocx::spec::ApplyDefaults(&applied);
    ocx::partitioners::PlanOptions options;
    for (const auto& d : applied.datasets()) {
      options.num_samples.push_back(d.size());
    }
    for (int i = 0; i < 3; ++i) {
      double t0 = Now();
      auto tasks = ocx::partitioners::PlanTasks(applied, name, options);
      plan.push_back(Now() - t0);
      if (!tasks.ok()) return false;
    }
  }
  absl::StatusOr<ocx::server::Submission> sub;
  for (int i = 0; i < 3; ++i) {
    sub = absl::UnknownError("not run");  // free the previous plan first
    double t0 = Now();
    sub = ocx::server::PrepareSubmission(spec, name, "", name, policy,
                                         /*create_dirs=*/false);
    prepare.push_back(Now() - t0);
    if (!sub.ok()) {
      fprintf(stderr, "%s: %s\n", name.c_str(),
              sub.status().ToString().c_str());
      return false;
    }
  }
  out->prepare_s = Median(prepare);
  out->plan_s = Median(plan);
  out->tasks = sub->task_rows.size();
  for (const ocx::v1::Task& t : sub->task_rows) {
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    ++out->infer_tasks;
    out->parts += t.params().datasets_size();
    for (const auto& d : t.params().datasets()) out->samples += d.num_samples();
  }

  const std::string db = absl::StrCat(dir, "/", name, ".db");
  auto store = ocx::store::Store::Open(db);
  if (!store.ok()) {
    fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return false;
  }
  double t0 = Now();
  absl::Status s = (*store)->Begin();
  sub->evaluation.set_task_count(static_cast<int32_t>(sub->task_rows.size()));
  if (s.ok()) s = (*store)->InsertEvaluation(sub->evaluation).status();
  for (const ocx::v1::Task& t : sub->task_rows) {
    if (!s.ok()) break;
    s = (*store)->InsertTask(t);
  }
  if (s.ok()) s = (*store)->Commit();
  out->commit_s = Now() - t0;
  if (!s.ok()) {
    fprintf(stderr, "commit: %s\n", s.ToString().c_str());
    return false;
  }
  store->reset();
  out->db_bytes = ocx::bench::FileSize(db) +
                  std::max<int64_t>(0, ocx::bench::FileSize(db + "-wal"));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--models") {
      args.models = atoi(argv[i + 1]);
    } else if (flag == "--datasets") {
      args.datasets = atoi(argv[i + 1]);
    } else if (flag == "--max-task-size") {
      args.max_task_size = atoll(argv[i + 1]);
    } else {
      fprintf(stderr,
              "usage: bench_plan [--models M] [--datasets D] "
              "[--max-task-size S]\n");
      return 2;
    }
  }
  ocx::bench::BenchDir dir;
  printf(
      "bench_plan: %d models x %d datasets (%d pairs), SizePartitioner "
      "max_task_size %lld; %d cores\n",
      args.models, args.datasets, args.models * args.datasets,
      static_cast<long long>(args.max_task_size), ocx::bench::Cores());

  // The size spec first, only to learn its task count for the baseline.
  ocx::v1::EvaluationSpec size_spec = MakeSpec(args, true, args.datasets);
  size_t size_tasks = 0;
  {
    ocx::server::SubmissionPolicy policy;
    policy.work_root = dir.path() + "/work";
    auto probe = ocx::server::PrepareSubmission(size_spec, "probe", "", "probe",
                                                policy, false);
    if (!probe.ok()) {
      fprintf(stderr, "%s\n", probe.status().ToString().c_str());
      return 1;
    }
    size_tasks = probe->tasks.size();
  }
  Phase size;
  if (!Run(size_spec, dir.path(), "size", &size)) return 1;
  int64_t hwm_kb = ocx::bench::ProcStatusKb(getpid(), "VmHWM");
  // Baseline: NaivePartitioner with about as many tasks (2 per pair).
  int naive_datasets = std::max<int>(
      1, static_cast<int>((size_tasks + args.models) / (2 * args.models)));
  Phase naive;
  if (!Run(MakeSpec(args, false, naive_datasets), dir.path(), "naive",
           &naive)) {
    return 1;
  }

  auto per_task = [](double s, size_t n) { return n > 0 ? s / n : 0; };
  double plan_ratio = per_task(size.prepare_s, size.tasks) /
                      per_task(naive.prepare_s, naive.tasks);
  double commit_ratio = per_task(size.commit_s, size.tasks) /
                        per_task(naive.commit_s, naive.tasks);
  printf(
      "SizePartitioner: %zu tasks (%zu infer with %lld dataset parts, "
      "%lld samples; %zu eval)\n",
      size.tasks, size.infer_tasks, static_cast<long long>(size.parts),
      static_cast<long long>(size.samples), size.tasks - size.infer_tasks);
  printf(
      "  plan (PrepareSubmission): %.3f s (target < 1 s); PlanTasks "
      "alone %.3f s\n",
      size.prepare_s, size.plan_s);
  printf(
      "  commit (one transaction): %.3f s (target < 3 s); database %.1f "
      "MB\n",
      size.commit_s, size.db_bytes / 1e6);
  printf("  peak memory (VmHWM): %.1f MB\n", hwm_kb / 1024.0);
  printf(
      "NaivePartitioner baseline: %zu tasks (%d models x %d datasets): "
      "plan %.3f s, commit %.3f s\n",
      naive.tasks, args.models, naive_datasets, naive.prepare_s,
      naive.commit_s);
  printf("per-task ratio vs baseline: plan %.2f, commit %.2f\n", plan_ratio,
         commit_ratio);
  ocx::bench::PrintResult({
      {"plan_s", Fmt(size.prepare_s)},
      {"plan_tasks_only_s", Fmt(size.plan_s)},
      {"commit_s", Fmt(size.commit_s)},
      {"tasks", absl::StrCat(size.tasks)},
      {"infer_tasks", absl::StrCat(size.infer_tasks)},
      {"hwm_mb", Fmt(hwm_kb / 1024.0, 1)},
      {"naive_tasks", absl::StrCat(naive.tasks)},
      {"naive_plan_s", Fmt(naive.prepare_s)},
      {"naive_commit_s", Fmt(naive.commit_s)},
      {"ratio_plan_per_task", Fmt(plan_ratio, 2)},
      {"ratio_commit_per_task", Fmt(commit_ratio, 2)},
  });
  return 0;
}
