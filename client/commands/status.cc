// ocxctl status and ocxctl task: one evaluation (or the recent ones), one
// task.
#include <algorithm>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"
#include "client/commands/watch.h"

namespace ocx::client {
namespace {

using v1::Evaluation;
using v1::Task;

// `ocxctl status ID` shows this many of its tasks.
constexpr int kStatusTasks = 20;
// `ocxctl status` without an id shows this many recent evaluations.
constexpr int kRecentEvaluations = 20;

// The pools `evaluation` uses with the replicas that may have served it:
// those not ended and those that ended after it was created. Pools left
// without replicas stay only while an evaluation waits for them. Empty when
// the daemon has no managed servers (or predates them).
std::vector<v1::ServerPool> ServersOf(
    const CommandContext& ctx, const Evaluation& evaluation,
    absl::StatusOr<v1::ListServersResponse> response) {
  std::vector<v1::ServerPool> pools;
  if (!response.ok()) {
    // The status above is complete without this section; say why it is
    // missing unless the daemon simply has no such call.
    if (response.status().code() != absl::StatusCode::kUnimplemented) {
      *ctx.err << "ocxctl: servers not shown: " << response.status().message()
               << std::endl;
    }
    return pools;
  }
  const int64_t created = evaluation.create_time().seconds();
  for (v1::ServerPool& pool : *response->mutable_servers()) {
    v1::ServerPool kept = pool;
    kept.clear_replicas();
    for (v1::Replica& r : *pool.mutable_replicas()) {
      bool ended =
          r.state() == v1::Replica::STOPPED || r.state() == v1::Replica::FAILED;
      if (!ended || !r.has_end_time() || r.end_time().seconds() >= created) {
        *kept.add_replicas() = std::move(r);
      }
    }
    if (kept.replicas_size() > 0 || kept.evaluation_ids_size() > 0) {
      pools.push_back(std::move(kept));
    }
  }
  return pools;
}

// Why the evaluation's READY tasks wait, one line per distinct reason
// ("READY tasks waiting: user quota (alice runs 4 of 4 tasks)"), from one
// page of them. Empty when none waits or the daemon does not say.
std::string WaitingLines(const CommandContext& ctx,
                         const Evaluation& evaluation) {
  int ready = 0;
  for (const v1::StageCounts& c : evaluation.stage_counts()) {
    ready += c.ready();
  }
  if (ready == 0) return "";
  v1::ListTasksRequest request;
  request.set_evaluation_id(evaluation.id());
  request.set_state(Task::READY);
  request.set_page_size(kStatusTasks);
  absl::StatusOr<v1::ListTasksResponse> page = ctx.client->ListTasks(request);
  if (!page.ok()) return "";
  std::vector<std::string> seen;
  std::string out;
  for (const Task& t : page->tasks()) {
    const std::string& why = t.pending_reason();
    if (why.empty() || std::find(seen.begin(), seen.end(), why) != seen.end()) {
      continue;
    }
    seen.push_back(why);
    absl::StrAppend(&out, "READY tasks ", why, "\n");
  }
  return out;
}

int RecentEvaluations(const CommandContext& ctx, const std::string& owner) {
  v1::ListEvaluationsRequest request;
  request.set_page_size(kRecentEvaluations);
  request.set_owner(owner);
  absl::StatusOr<v1::ListEvaluationsResponse> response =
      ctx.client->ListEvaluations(request);
  if (!response.ok()) return Fail(ctx, response.status());
  std::vector<Evaluation> list(response->evaluations().begin(),
                               response->evaluations().end());
  if (list.empty() && IsTable(ctx)) {
    *ctx.err << "no evaluations found" << std::endl;
    return kExitOk;
  }
  *ctx.out << FormatEvaluationList(list, Render(ctx)) << std::flush;
  return kExitOk;
}

}  // namespace

int RunStatus(const CommandContext& ctx, const std::string& evaluation_id,
              bool watch, const std::string& owner) {
  if (evaluation_id.empty()) {
    if (watch) return Usage(ctx, "status --watch needs an evaluation id");
    return RecentEvaluations(ctx, owner);
  }
  if (!owner.empty()) {
    return Usage(ctx, "--mine lists evaluations: give no evaluation id");
  }
  // The tables' three reads go out together (the stub is thread-safe):
  // the command then waits for one round trip to ocxd, not three.
  const bool table = IsTable(ctx) && !watch;
  std::future<absl::StatusOr<v1::ListTasksResponse>> tasks_answer;
  std::future<absl::StatusOr<v1::ListServersResponse>> servers_answer;
  if (table) {
    tasks_answer = std::async(std::launch::async, [&] {
      v1::ListTasksRequest request;
      request.set_evaluation_id(evaluation_id);
      request.set_page_size(kStatusTasks);
      return ctx.client->ListTasks(request);
    });
    servers_answer = std::async(std::launch::async, [&] {
      v1::ListServersRequest request;
      request.set_evaluation_id(evaluation_id);
      request.set_all(true);
      return ctx.client->ListServers(request);
    });
  }
  v1::GetEvaluationRequest get;
  get.set_id(evaluation_id);
  // A table shows no spec (a large sweep's is hundreds of kilobytes).
  if (IsTable(ctx)) get.set_view(v1::EVALUATION_VIEW_BASIC);
  absl::StatusOr<Evaluation> evaluation = ctx.client->GetEvaluation(get);
  if (!evaluation.ok()) {
    return FailEvaluation(ctx, evaluation.status(), evaluation_id);
  }
  if (watch) {
    int64_t after = evaluation->last_event_sequence();
    return WatchUntilDone(ctx, *std::move(evaluation), after);
  }
  // One page of tasks: status of a 10,000-task evaluation must stay quick
  // (and readable); `ocxctl tasks` lists them all.
  std::vector<Task> tasks;
  bool more = false;
  if (table) {
    absl::StatusOr<v1::ListTasksResponse> page = tasks_answer.get();
    if (!page.ok()) return FailEvaluation(ctx, page.status(), evaluation_id);
    tasks.assign(page->tasks().begin(), page->tasks().end());
    more = !page->next_page_token().empty();
  }
  *ctx.out << FormatEvaluationStatus(*evaluation, tasks, Render(ctx))
           << std::flush;
  if (more) {
    *ctx.out << "(first " << tasks.size() << " of " << evaluation->task_count()
             << " tasks; all of them: ocxctl tasks " << evaluation_id << ")"
             << std::endl;
  }
  if (table) {
    *ctx.out << WaitingLines(ctx, *evaluation);
    *ctx.out << FormatServersSection(
                    ServersOf(ctx, *evaluation, servers_answer.get()),
                    Render(ctx))
             << std::flush;
  }
  return kExitOk;
}

int RunTask(const CommandContext& ctx, const std::string& task_id) {
  v1::GetTaskRequest request;
  request.set_id(task_id);
  absl::StatusOr<Task> task = ctx.client->GetTask(request);
  if (!task.ok()) {
    return Fail(ctx, task.status(), absl::StrCat("task ", task_id), task_id);
  }
  *ctx.out << FormatTaskDetail(*task, Render(ctx)) << std::flush;
  return kExitOk;
}

}  // namespace ocx::client
