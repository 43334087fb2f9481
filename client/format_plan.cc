// A dry run's plan as a table, with its totals.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "client/format_internal.h"

namespace ocx::client {

using format_internal::JoinList;
using format_internal::kNone;
using format_internal::OrNone;
using format_internal::TaskIds;
using v1::Task;

namespace {

// A task's dataset parts with their ranges ("gsm8k_0 [0:189]"), from its
// params; the bare abbrs when the params are absent.
std::vector<std::string> PartsWithRanges(const Task& t) {
  std::vector<std::string> parts;
  if (t.params().datasets().empty()) {
    parts.assign(t.dataset_abbrs().begin(), t.dataset_abbrs().end());
    return parts;
  }
  for (const v1::TaskDataset& d : t.params().datasets()) {
    const std::string& range = d.config().reader_cfg().test_range();
    parts.push_back(range.empty()
                        ? d.config().abbr()
                        : absl::StrCat(d.config().abbr(), " ", range));
  }
  return parts;
}

// The sum over the task's datasets, or "-" when one of them is unknown (0).
std::string SumOrNone(const Task& t,
                      int64_t (v1::TaskDataset::*field)() const) {
  int64_t sum = 0;
  for (const v1::TaskDataset& d : t.params().datasets()) {
    int64_t v = (d.*field)();
    if (v <= 0) return kNone;
    sum += v;
  }
  return t.params().datasets().empty() ? kNone : absl::StrCat(sum);
}

}  // namespace

std::string FormatPlan(const v1::PlanEvaluationResponse& plan,
                       const RenderOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      return RenderMessage(plan, options.format);
    case OutputFormat::kName:
      return TaskIds(plan.tasks());
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      break;
  }
  bool wide = options.format == OutputFormat::kWide;
  bool any_reused = false;
  for (const Task& t : plan.tasks()) {
    if (t.state() == Task::SUCCEEDED) any_reused = true;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "STAGE", "MODEL",
                                                 "DATASETS", "SAMPLES", "COST",
                                                 "GPUS", "DEPENDS"}};
  if (any_reused) rows[0].push_back("REUSED");
  int infer = 0;
  int eval = 0;
  int gpus = 0;
  for (const Task& t : plan.tasks()) {
    if (t.stage() == v1::STAGE_INFER) ++infer;
    if (t.stage() == v1::STAGE_EVAL) ++eval;
    gpus = std::max(gpus, t.num_gpus());
    rows.push_back({t.id(), StageName(t.stage()), OrNone(t.model_abbr()),
                    JoinList(PartsWithRanges(t), wide),
                    SumOrNone(t, &v1::TaskDataset::num_samples),
                    SumOrNone(t, &v1::TaskDataset::cost),
                    absl::StrCat(t.num_gpus()),
                    JoinList(t.depends_on(), wide)});
    if (t.state() == Task::SUCCEEDED) rows.back().push_back("yes");
  }
  std::string out = RenderTable(rows);
  std::string gpu_text =
      gpus == 0 ? "CPU only"
                : absl::StrCat("up to ", gpus, gpus == 1 ? " GPU" : " GPUs",
                               " per task");
  std::string size_text;
  if (plan.total_samples() > 0) {
    size_text = absl::StrCat(", ", plan.total_samples(), " samples");
    if (plan.total_cost() > 0) {
      absl::StrAppend(&size_text, " (cost ", plan.total_cost(), ")");
    }
  }
  absl::StrAppend(&out, "\n", plan.tasks_size(),
                  plan.tasks_size() == 1 ? " task" : " tasks", " (", infer,
                  " infer, ", eval, " eval)", size_text, ", ", gpu_text,
                  ", work dir ", OrNone(plan.work_dir()), "\n");
  if (plan.reused_tasks() > 0) {
    absl::StrAppend(&out, plan.reused_tasks(),
                    plan.reused_tasks() == 1 ? " task is" : " tasks are",
                    " reused: outputs with the same fingerprint exist\n");
  }
  absl::StrAppend(&out, "dry run: nothing was stored\n");
  return out;
}

}  // namespace ocx::client
