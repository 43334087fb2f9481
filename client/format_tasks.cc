// Tasks and attempts as tables: the task list, one task with its attempts.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/format.h"
#include "client/format_internal.h"

namespace ocx::client {
namespace {

using format_internal::Age;
using format_internal::DateTime;
using format_internal::DateTimeWithAge;
using format_internal::IsSet;
using format_internal::JoinList;
using format_internal::kNone;
using format_internal::OrNone;
using format_internal::Span;
using format_internal::StructuredForm;
using format_internal::StructuredList;
using format_internal::ToTime;
using v1::Attempt;
using v1::Task;

std::string Attempts(const Task& task) {
  if (task.max_attempts() > 0) {
    return absl::StrCat(task.attempt_count(), "/", task.max_attempts());
  }
  return absl::StrCat(task.attempt_count());
}

// The state, with a STALLED badge while the daemon finds a running task's
// progress stalled.
std::string TaskState(const Task& task) {
  if (IsSet(task.stalled_since())) {
    return absl::StrCat(StateName(task.state()), " [STALLED]");
  }
  return StateName(task.state());
}

}  // namespace

std::string FormatProgress(const Task& task, bool with_rate) {
  if (!task.has_progress()) return kNone;
  const v1::TaskProgress& p = task.progress();
  std::string out = p.total() > 0 ? absl::StrCat(p.done(), "/", p.total())
                                  : absl::StrCat(p.done());
  if (with_rate) {
    absl::StrAppend(&out, " (", absl::StrFormat("%.1f", p.rate_per_s()), "/s)");
  }
  return out;
}

std::string FormatTaskList(const std::vector<Task>& tasks,
                           const RenderOptions& options) {
  if (std::optional<std::string> structured = StructuredList(
          tasks, &v1::ListTasksResponse::mutable_tasks, options.format)) {
    return *structured;
  }
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"ID", "STAGE", "STATE", "PROGRESS", "ATTEMPTS", "MODEL",
                    "DATASETS", "GPUS", "AGE", "DURATION", "REASON"});
  } else {
    rows.push_back({"ID", "STAGE", "STATE", "PROGRESS", "ATTEMPTS", "MODEL",
                    "DATASETS", "AGE"});
  }
  for (const Task& t : tasks) {
    std::vector<std::string> row = {t.id(),
                                    StageName(t.stage()),
                                    TaskState(t),
                                    FormatProgress(t, wide),
                                    Attempts(t),
                                    OrNone(t.model_abbr()),
                                    JoinList(t.dataset_abbrs(), wide)};
    if (wide) row.push_back(absl::StrCat(t.num_gpus()));
    row.push_back(Age(t.create_time(), options));
    if (wide) {
      row.push_back(Span(t.start_time(), t.end_time(), options));
      row.push_back(
          OrNone(t.pending_reason().empty() ? t.reason() : t.pending_reason()));
    }
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatExit(const Attempt& attempt) {
  if (attempt.has_exit_code()) return absl::StrCat(attempt.exit_code());
  if (!attempt.has_signal()) return kNone;
  switch (attempt.signal()) {
    case 1:
      return "SIGHUP";
    case 2:
      return "SIGINT";
    case 6:
      return "SIGABRT";
    case 7:
      return "SIGBUS";
    case 9:
      return "SIGKILL";
    case 11:
      return "SIGSEGV";
    case 15:
      return "SIGTERM";
    default:
      return absl::StrCat("SIG", attempt.signal());
  }
}

std::string FormatAttempts(const std::vector<Attempt>& attempts,
                           const RenderOptions& options) {
  bool wide = options.format == OutputFormat::kWide;
  std::vector<std::vector<std::string>> rows;
  if (wide) {
    rows.push_back({"NUMBER", "STATE", "BACKEND", "BACKEND-ID", "GPUS",
                    "STARTED", "DURATION", "EXIT", "REASON", "LOG"});
  } else {
    rows.push_back({"NUMBER", "STATE", "BACKEND-ID", "STARTED", "DURATION",
                    "EXIT", "REASON", "LOG"});
  }
  for (const Attempt& a : attempts) {
    std::vector<std::string> row = {absl::StrCat(a.number()),
                                    StateName(a.state())};
    if (wide) row.push_back(OrNone(a.backend()));
    row.push_back(OrNone(a.backend_id()));
    if (wide) {
      row.push_back(a.gpus().empty() ? std::string(kNone)
                                     : absl::StrJoin(a.gpus(), ","));
    }
    row.push_back(DateTime(a.start_time(), options));
    row.push_back(Span(a.start_time(), a.end_time(), options));
    row.push_back(FormatExit(a));
    row.push_back(OrNone(a.reason()));
    row.push_back(OrNone(a.log_path()));
    rows.push_back(std::move(row));
  }
  return RenderTable(rows);
}

std::string FormatTaskDetail(const Task& task, const RenderOptions& options) {
  if (std::optional<std::string> structured =
          StructuredForm(task, task.id(), options.format)) {
    return *structured;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", task.id()},
      {"Evaluation", OrNone(task.evaluation_id())},
      {"Name", OrNone(task.name())},
      {"Stage", StageName(task.stage())},
      {"State", TaskState(task)},
      {"Model", OrNone(task.model_abbr())},
      {"Datasets", JoinList(task.dataset_abbrs(), true)},
      {"GPUs", absl::StrCat(task.num_gpus())},
      {"Depends on", JoinList(task.depends_on(), true)},
      {"Attempts", Attempts(task)},
      {"Created", DateTimeWithAge(task.create_time(), options)},
      {"Started", DateTimeWithAge(task.start_time(), options)},
  };
  if (IsSet(task.end_time())) {
    fields.push_back({"Ended", DateTimeWithAge(task.end_time(), options)});
  }
  fields.push_back(
      {"Duration", Span(task.start_time(), task.end_time(), options)});
  if (IsSet(task.next_attempt_time())) {
    fields.push_back(
        {"Next attempt",
         absl::StrCat(
             DateTime(task.next_attempt_time(), options), " (in ",
             HumanDuration(ToTime(task.next_attempt_time()) - options.now),
             ")")});
  }
  if (IsSet(task.stalled_since())) {
    fields.push_back(
        {"Stalled since",
         absl::StrCat(DateTimeWithAge(task.stalled_since(), options),
                      " (no progress reported)")});
  }
  if (!task.reason().empty()) fields.push_back({"Reason", task.reason()});
  if (!task.pending_reason().empty()) {
    fields.push_back({"Waiting", task.pending_reason()});
  }
  std::string out = RenderFields(fields);
  if (task.attempts_size() > 0) {
    std::vector<Attempt> attempts(task.attempts().begin(),
                                  task.attempts().end());
    absl::StrAppend(&out, "\n", FormatAttempts(attempts, options));
  }
  return out;
}

}  // namespace ocx::client
