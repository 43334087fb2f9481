// ocxctl list and ocxctl tasks: evaluations and tasks, filtered, every page.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::Task;

// A State of `Resource` (Evaluation, Task) by name, any case; `kind` names
// the resource in the message.
template <typename Resource>
absl::StatusOr<typename Resource::State> ParseState(const std::string& text,
                                                    absl::string_view kind) {
  using State = typename Resource::State;
  State state;
  if (Resource::State_Parse(absl::AsciiStrToUpper(text), &state) &&
      state != Resource::STATE_UNSPECIFIED) {
    return state;
  }
  std::vector<std::string> known;
  for (int i = Resource::State_MIN + 1; i <= Resource::State_MAX; ++i) {
    if (Resource::State_IsValid(i)) {
      known.push_back(Resource::State_Name(static_cast<State>(i)));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--state: unknown ", kind, " state \"", text,
                   "\" (known: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<v1::Stage> ParseStage(const std::string& text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "infer") return v1::STAGE_INFER;
  if (lower == "eval") return v1::STAGE_EVAL;
  return absl::InvalidArgumentError(absl::StrCat(
      "--stage: unknown stage \"", text, "\" (known: infer, eval)"));
}

// All tasks of an evaluation, every page.
absl::StatusOr<std::vector<Task>> ListAllTasks(const CommandContext& ctx,
                                               v1::ListTasksRequest request) {
  std::vector<Task> tasks;
  while (true) {
    absl::StatusOr<v1::ListTasksResponse> page = ctx.client->ListTasks(request);
    if (!page.ok()) return page.status();
    for (Task& task : *page->mutable_tasks()) tasks.push_back(std::move(task));
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  return tasks;
}

}  // namespace

int RunList(const CommandContext& ctx, const std::string& state, int limit,
            const std::string& owner) {
  if (limit <= 0) return Usage(ctx, "--limit must be at least 1");
  v1::ListEvaluationsRequest request;
  request.set_owner(owner);
  if (!state.empty()) {
    absl::StatusOr<Evaluation::State> parsed =
        ParseState<Evaluation>(state, "evaluation");
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_state(*parsed);
  }
  std::vector<Evaluation> list;
  while (static_cast<int>(list.size()) < limit) {
    request.set_page_size(
        std::min(limit - static_cast<int>(list.size()), 1000));
    absl::StatusOr<v1::ListEvaluationsResponse> page =
        ctx.client->ListEvaluations(request);
    if (!page.ok()) return Fail(ctx, page.status());
    for (Evaluation& e : *page->mutable_evaluations()) {
      list.push_back(std::move(e));
    }
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  if (static_cast<int>(list.size()) > limit) list.resize(limit);
  if (list.empty() && IsTable(ctx)) {
    *ctx.err << "no evaluations found" << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatEvaluationList(list, Render(ctx)) << std::flush;
  return kExitOk;
}

int RunTasks(const CommandContext& ctx, const std::string& evaluation_id,
             const std::string& state, const std::string& stage) {
  v1::ListTasksRequest request;
  request.set_evaluation_id(evaluation_id);
  if (!state.empty()) {
    absl::StatusOr<Task::State> parsed = ParseState<Task>(state, "task");
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_state(*parsed);
  }
  if (!stage.empty()) {
    absl::StatusOr<v1::Stage> parsed = ParseStage(stage);
    if (!parsed.ok()) return Usage(ctx, parsed.status().message());
    request.set_stage(*parsed);
  }
  absl::StatusOr<std::vector<Task>> tasks = ListAllTasks(ctx, request);
  if (!tasks.ok()) {
    return FailEvaluation(ctx, tasks.status(), evaluation_id);
  }
  if (tasks->empty() && IsTable(ctx)) {
    *ctx.err << "no tasks found" << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatTaskList(*tasks, Render(ctx)) << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
