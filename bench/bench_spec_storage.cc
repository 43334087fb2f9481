// bench_spec_storage: what storing the spec once per evaluation (task rows
// hold references, TaskParams.refs) saves, against the layout before it
// (every task row held full copies of its model, dataset and task configs),
// in one run.
//
//   database  100 models x 50 datasets (NaivePartitioner: 5,000 infer and
//             5,000 eval tasks), models and datasets with realistic configs
//             (a chat meta_template, prompt templates, generation kwargs,
//             ~1.5 KB each). The same planned tasks are committed twice into
//             fresh database files: as planned (references) and with every
//             task's params expanded (the old rows). Reported: file bytes
//             and the bytes of the params column; the ratio old / new.
//   planning  VmHWM of a child process that runs PrepareSubmission of the
//             issue's big sweep (200 models x 500 datasets, SizePartitioner,
//             117,200 tasks with the default --max-task-size), against a
//             child that does the same and then expands every task's params
//             (the memory the old copies needed). Target (issue 15): plan
//             117,200 tasks with VmHWM < 150 MB.
//
// Usage: bench_spec_storage [--models M] [--datasets D]
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "common/task_params.h"
#include "server/store/store.h"
#include "server/submission.h"

namespace {

using ocx::bench::Fmt;

// A model as a lab writes one: chat template, generation settings.
void FillModel(int m, ocx::v1::ModelConfig* model) {
  model->set_abbr(absl::StrCat("checkpoint-", m * 500));
  model->set_type("OpenAISDK");
  model->set_path(absl::StrCat("/mnt/ckpt/llama-7b-sft/iter_", m * 500));
  model->set_openai_api_base("http://127.0.0.1:8000/v1");
  model->set_max_out_len(1024);
  model->set_max_seq_len(4096);
  model->set_batch_size(16);
  auto* kwargs = model->mutable_generation_kwargs()->mutable_fields();
  (*kwargs)["top_p"].set_number_value(0.95);
  (*kwargs)["stop"].set_string_value("<|im_end|>");
  auto* round = (*model->mutable_meta_template()
                      ->mutable_struct_value()
                      ->mutable_fields())["round"]
                    .mutable_list_value();
  for (const char* role : {"HUMAN", "BOT", "SYSTEM"}) {
    auto* f = round->add_values()->mutable_struct_value()->mutable_fields();
    (*f)["role"].set_string_value(role);
    (*f)["begin"].set_string_value(absl::StrCat("<|im_start|>", role, "\n"));
    (*f)["end"].set_string_value("<|im_end|>\n");
    (*f)["generate"].set_bool_value(std::string(role) == "BOT");
  }
}

void FillDataset(int d, int64_t size, ocx::v1::DatasetConfig* ds) {
  ds->set_abbr(absl::StrCat("dataset_", d));
  ds->set_type("JsonlDataset");
  ds->set_path(absl::StrCat("/mnt/data/eval/suite/dataset_", d, ".jsonl"));
  ds->set_size(size);
  ds->mutable_reader_cfg()->add_input_columns("question");
  ds->mutable_reader_cfg()->add_input_columns("context");
  ds->mutable_reader_cfg()->set_output_column("answer");
  auto* tmpl =
      ds->mutable_infer_cfg()->mutable_prompt_template()->mutable_template_();
  tmpl->set_string_value(absl::StrCat(
      "You are a careful assistant. Read the context and answer the "
      "question of task ",
      d,
      ". Think step by step, then give the final answer on the last line "
      "as 'The answer is X'.\n\nContext: {context}\nQuestion: {question}\n"
      "Answer:"));
  ds->mutable_infer_cfg()->mutable_inferencer()->set_type("GenInferencer");
  ds->mutable_eval_cfg()->mutable_evaluator()->set_type("AccEvaluator");
}

ocx::v1::EvaluationSpec MakeSpec(int models, int datasets, bool size) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < models; ++m) FillModel(m, spec.add_models());
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> log_size(std::log(10.0),
                                                  std::log(100000.0));
  for (int d = 0; d < datasets; ++d) {
    FillDataset(d, static_cast<int64_t>(std::exp(log_size(rng))),
                spec.add_datasets());
  }
  if (size) {
    auto* p = spec.mutable_infer()->mutable_partitioner();
    p->set_type("SizePartitioner");
    p->set_max_task_size(2000000);
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

absl::StatusOr<ocx::server::Submission> Plan(
    const ocx::v1::EvaluationSpec& spec, const std::string& dir) {
  ocx::server::SubmissionPolicy policy;
  policy.work_root = dir + "/work";
  return ocx::server::PrepareSubmission(spec, "bench", "", "ebench", policy,
                                        /*create_dirs=*/false);
}

struct Stored {
  int64_t file_bytes = 0;
  int64_t params_bytes = 0;
};

// Commits `sub` into a fresh database; `expand` stores full params.
bool Commit(const ocx::server::Submission& sub, const std::string& db,
            bool expand, Stored* out) {
  auto store = ocx::store::Store::Open(db);
  if (!store.ok()) return false;
  absl::Status s = (*store)->Begin();
  ocx::v1::Evaluation e = sub.evaluation;
  e.set_task_count(static_cast<int32_t>(sub.task_rows.size()));
  if (s.ok()) s = (*store)->InsertEvaluation(e).status();
  for (const ocx::v1::Task& t : sub.task_rows) {
    if (!s.ok()) break;
    if (!expand) {
      out->params_bytes += t.params().ByteSizeLong();
      s = (*store)->InsertTask(t);
      continue;
    }
    ocx::v1::Task full = t;
    ocx::FillTaskParamsIds(t.evaluation_id(), t.id(), t.stage(),
                           sub.evaluation.work_dir(), full.mutable_params());
    s = ocx::ExpandTaskParams(sub.evaluation.spec(), full.mutable_params());
    out->params_bytes += full.params().ByteSizeLong();
    if (s.ok()) s = (*store)->InsertTask(full);
  }
  if (s.ok()) s = (*store)->Commit();
  store->reset();
  if (!s.ok()) {
    fprintf(stderr, "commit: %s\n", s.ToString().c_str());
    return false;
  }
  out->file_bytes = ocx::bench::FileSize(db) +
                    std::max<int64_t>(0, ocx::bench::FileSize(db + "-wal"));
  return true;
}

// VmHWM (KiB) of a child that plans `spec` and, with `expand`, then holds
// every task's expanded params, as tasks were held before references.
int64_t PlanningPeakKb(const ocx::v1::EvaluationSpec& spec,
                       const std::string& dir, bool expand, size_t* tasks) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int64_t result[2] = {-1, 0};
    auto sub = Plan(spec, dir);
    if (sub.ok()) {
      // Before: every task held parsed, its params expanded.
      std::vector<ocx::v1::Task> parsed;
      if (expand) {
        for (ocx::v1::Task t : sub->task_rows) {
          (void)ocx::ExpandTaskParams(sub->evaluation.spec(),
                                      t.mutable_params());
          parsed.push_back(std::move(t));
        }
      }
      result[0] = ocx::bench::ProcStatusKb(getpid(), "VmHWM");
      result[1] = static_cast<int64_t>(sub->task_rows.size());
    }
    (void)!write(fds[1], result, sizeof(result));
    _exit(0);
  }
  close(fds[1]);
  int64_t result[2] = {-1, 0};
  (void)!read(fds[0], result, sizeof(result));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  *tasks = static_cast<size_t>(result[1]);
  return result[0];
}

}  // namespace

int main(int argc, char** argv) {
  int models = 100, datasets = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--models") {
      models = atoi(argv[i + 1]);
    } else if (flag == "--datasets") {
      datasets = atoi(argv[i + 1]);
    } else {
      fprintf(stderr,
              "usage: bench_spec_storage [--models M] [--datasets D]\n");
      return 2;
    }
  }
  ocx::bench::BenchDir dir;
  printf("bench_spec_storage: %d models x %d datasets; %d cores\n", models,
         datasets, ocx::bench::Cores());
  const ocx::v1::EvaluationSpec spec = MakeSpec(models, datasets, false);
  auto sub = Plan(spec, dir.path());
  if (!sub.ok()) {
    fprintf(stderr, "%s\n", sub.status().ToString().c_str());
    return 1;
  }
  Stored refs, copies;
  if (!Commit(*sub, dir.path() + "/refs.db", false, &refs) ||
      !Commit(*sub, dir.path() + "/copies.db", true, &copies)) {
    return 1;
  }
  const double file_ratio =
      static_cast<double>(copies.file_bytes) / refs.file_bytes;
  const double params_ratio =
      static_cast<double>(copies.params_bytes) / refs.params_bytes;
  printf("database, %zu tasks, spec %zu bytes:\n", sub->task_rows.size(),
         sub->evaluation.spec().ByteSizeLong());
  printf(
      "  configs copied into every task (before): %.1f MB file, params "
      "%.1f MB\n",
      copies.file_bytes / 1e6, copies.params_bytes / 1e6);
  printf(
      "  spec once, tasks refer to it (now):      %.1f MB file, params "
      "%.1f MB\n",
      refs.file_bytes / 1e6, refs.params_bytes / 1e6);
  printf("  ratio before/now: file %.1fx, params %.1fx\n", file_ratio,
         params_ratio);

  const ocx::v1::EvaluationSpec big = MakeSpec(200, 500, true);
  size_t big_tasks = 0, big_tasks_old = 0;
  const int64_t hwm = PlanningPeakKb(big, dir.path(), false, &big_tasks);
  const int64_t hwm_old = PlanningPeakKb(big, dir.path(), true, &big_tasks_old);
  printf("planning 200 models x 500 datasets (SizePartitioner): %zu tasks\n",
         big_tasks);
  printf("  VmHWM with references (now): %.1f MB (target < 150 MB)\n",
         hwm / 1024.0);
  printf("  VmHWM holding expanded params (before): %.1f MB\n",
         hwm_old / 1024.0);
  printf("  ratio before/now: %.2fx\n",
         static_cast<double>(hwm_old) / static_cast<double>(hwm));
  ocx::bench::PrintResult({
      {"tasks", absl::StrCat(sub->task_rows.size())},
      {"db_mb_before", Fmt(copies.file_bytes / 1e6, 1)},
      {"db_mb_now", Fmt(refs.file_bytes / 1e6, 1)},
      {"ratio_db", Fmt(file_ratio, 1)},
      {"ratio_params", Fmt(params_ratio, 1)},
      {"plan_tasks", absl::StrCat(big_tasks)},
      {"plan_hwm_mb", Fmt(hwm / 1024.0, 1)},
      {"plan_hwm_mb_before", Fmt(hwm_old / 1024.0, 1)},
      {"ratio_plan_hwm", Fmt(static_cast<double>(hwm_old) / hwm, 2)},
  });
  return 0;
}
