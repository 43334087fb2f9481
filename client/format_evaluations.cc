// Evaluations as tables: the list, one evaluation's status, and the line
// `submit` prints.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "client/format_internal.h"

namespace ocx::client {
namespace {

using format_internal::Age;
using format_internal::DateTimeWithAge;
using format_internal::IsSet;
using format_internal::OrNone;
using format_internal::Span;
using format_internal::StructuredForm;
using format_internal::StructuredList;
using v1::Evaluation;
using v1::StageCounts;
using v1::Task;

struct Totals {
  int pending = 0;  // pending + ready
  int running = 0;
  int succeeded = 0;
  int failed = 0;
  int cancelled = 0;
};

Totals SumStages(const Evaluation& evaluation) {
  Totals totals;
  for (const StageCounts& counts : evaluation.stage_counts()) {
    totals.pending += counts.pending() + counts.ready();
    totals.running += counts.running();
    totals.succeeded += counts.succeeded();
    totals.failed += counts.failed();
    totals.cancelled += counts.cancelled();
  }
  return totals;
}

// "alice (uid 1001)", or "<none>" from a daemon that records no owner.
std::string OwnerText(const v1::Owner& owner) {
  if (owner.user().empty()) return OrNone("");
  return absl::StrCat(owner.user(), " (uid ", owner.uid(), ")");
}

}  // namespace

std::string FormatEvaluationList(const std::vector<Evaluation>& list,
                                 const RenderOptions& options) {
  if (std::optional<std::string> structured = StructuredList(
          list, &v1::ListEvaluationsResponse::mutable_evaluations,
          options.format)) {
    return *structured;
  }
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"ID", "NAME", "OWNER", "STATE", "TASKS", "SUCCEEDED",
                    "FAILED", "RUNNING", "PENDING", "CANCELLED", "AGE",
                    "DURATION", "WORK-DIR"});
  } else {
    rows.push_back({"ID", "NAME", "OWNER", "STATE", "TASKS", "SUCCEEDED",
                    "FAILED", "RUNNING", "AGE"});
  }
  for (const Evaluation& e : list) {
    Totals totals = SumStages(e);
    std::vector<std::string> row = {e.id(),
                                    OrNone(e.name()),
                                    OrNone(e.owner().user()),
                                    StateName(e.state()),
                                    absl::StrCat(e.task_count()),
                                    absl::StrCat(totals.succeeded),
                                    absl::StrCat(totals.failed),
                                    absl::StrCat(totals.running)};
    if (wide) {
      row.push_back(absl::StrCat(totals.pending));
      row.push_back(absl::StrCat(totals.cancelled));
    }
    row.push_back(Age(e.create_time(), options));
    if (wide) {
      row.push_back(Span(e.create_time(), e.end_time(), options));
      row.push_back(OrNone(e.work_dir()));
    }
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatEvaluationStatus(const Evaluation& evaluation,
                                   const std::vector<Task>& tasks,
                                   const RenderOptions& options) {
  if (std::optional<std::string> structured =
          StructuredForm(evaluation, evaluation.id(), options.format)) {
    return *structured;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", evaluation.id()},
      {"Name", OrNone(evaluation.name())},
      {"Owner", OwnerText(evaluation.owner())},
      {"State", StateName(evaluation.state())},
      {"Work dir", OrNone(evaluation.work_dir())},
      {"Created", DateTimeWithAge(evaluation.create_time(), options)},
  };
  if (!evaluation.rescored_from().empty()) {
    fields.insert(fields.begin() + 5,
                  {"Rescores",
                   absl::StrCat(evaluation.rescored_from(), " (predictions in ",
                                evaluation.predictions_work_dir(), ")")});
  }
  if (IsSet(evaluation.end_time())) {
    fields.push_back(
        {"Ended", DateTimeWithAge(evaluation.end_time(), options)});
  }
  fields.push_back({"Duration", Span(evaluation.create_time(),
                                     evaluation.end_time(), options)});
  fields.push_back({"Tasks", absl::StrCat(evaluation.task_count())});
  std::string out = RenderFields(fields);

  if (evaluation.stage_counts_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"STAGE", "TOTAL", "PENDING", "READY", "RUNNING", "SUCCEEDED", "FAILED",
         "CANCELLED"}};
    for (const StageCounts& c : evaluation.stage_counts()) {
      rows.push_back({StageName(c.stage()), absl::StrCat(c.total()),
                      absl::StrCat(c.pending()), absl::StrCat(c.ready()),
                      absl::StrCat(c.running()), absl::StrCat(c.succeeded()),
                      absl::StrCat(c.failed()), absl::StrCat(c.cancelled())});
    }
    absl::StrAppend(&out, "\n", RenderTable(rows));
  }
  if (!tasks.empty()) {
    absl::StrAppend(&out, "\n", FormatTaskList(tasks, options));
  }
  return out;
}

std::string FormatCreated(const Evaluation& evaluation,
                          const RenderOptions& options) {
  if (std::optional<std::string> structured =
          StructuredForm(evaluation, evaluation.id(), options.format)) {
    return *structured;
  }
  return absl::StrCat(
      "evaluation ", evaluation.id(), " created (", evaluation.task_count(),
      evaluation.task_count() == 1 ? " task" : " tasks",
      evaluation.rescored_from().empty()
          ? ""
          : absl::StrCat("; rescores ", evaluation.rescored_from(),
                         ", no inference"),
      ")\n");
}

}  // namespace ocx::client
