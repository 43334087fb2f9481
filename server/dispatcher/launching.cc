// Dispatcher: placing ready tasks into free runner slots and starting
// them (DESIGN.md decision 4: the attempt row is committed first).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/attempt_record.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/task_command.h"
#include "server/dispatcher/task_files.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Task;

}  // namespace

const ocx::v1::RunnerConfig& Dispatcher::RunnerConfigFor(
    const TaskEntry& t) const {
  const auto& spec = evals_.at(t.task.evaluation_id()).evaluation.spec();
  return t.task.stage() == ocx::v1::STAGE_INFER ? spec.infer().runner()
                                                : spec.eval().runner();
}

const ocx::v1::EvaluationSpec& Dispatcher::SpecOf(const TaskEntry& t) const {
  return evals_.at(t.task.evaluation_id()).evaluation.spec();
}

runners::LaunchSpec Dispatcher::BuildLaunchSpec(const TaskEntry& t,
                                                int attempt) const {
  const ocx::v1::RunnerConfig& runner = RunnerConfigFor(t);
  // Stored params refer to the stage's task config (common/task_params.h);
  // the copy is small, the configs it refers to are not copied.
  ocx::v1::TaskParams p = t.task.params();
  if (p.has_refs()) *p.mutable_task() = runner.task();
  TaskPaths paths = PathsFor(p, attempt);
  runners::LaunchSpec spec;
  spec.key = {t.task.id(), attempt};
  spec.name = absl::StrCat("ocx-", t.task.id(), "-", attempt);
  spec.argv = TaskArgv(p, paths, attempt, options_.task_program);
  for (const auto& [k, v] : p.task().env()) spec.env[k] = v;
  spec.env["OCX_TASK_JSON"] = paths.task_json;
  spec.env["OCX_WORK_DIR"] = p.work_dir();
  spec.env["OCX_EVALUATION_ID"] = p.evaluation_id();
  spec.env["OCX_TASK_ID"] = t.task.id();
  spec.env["OCX_ATTEMPT"] = absl::StrCat(attempt);
  spec.env["OCX_ATTEMPT_DIR"] = paths.attempt_dir;
  spec.work_dir = p.work_dir();
  spec.attempt_dir = paths.attempt_dir;
  spec.log_path = paths.log_path;
  // A managed model's task sends requests to a replica that holds the
  // GPUs; it holds none itself.
  spec.num_gpus = t.pool_id.empty() ? t.task.num_gpus() : 0;
  spec.max_workers_per_gpu = std::max(1, runner.max_workers_per_gpu());
  spec.timeout_s = p.task().timeout_s();
  spec.runner = runner;
  spec.evaluation_id = t.task.evaluation_id();
  spec.stage = t.task.stage();
  spec.task_name = t.task.name();
  return spec;
}

absl::Status Dispatcher::Schedule(int64_t now, std::vector<Launch>* out) {
  // Runners that said "full" this turn: their other queues wait too.
  std::set<runners::Runner*> full;
  for (auto q = ready_.begin(); q != ready_.end();) {
    auto& queue = q->second;
    auto it = queue.begin();
    while (it != queue.end()) {
      TaskEntry& t = tasks_.at(it->second);
      EvalEntry& e = evals_.at(t.task.evaluation_id());
      const ocx::v1::RunnerConfig& rc = RunnerConfigFor(t);
      const int limit = rc.max_num_workers();  // defaulted by ApplyDefaults
      if (e.running[t.task.stage()] >= limit) break;
      runners::Runner* runner = RunnerOf(t);
      if (runner == nullptr) {
        it = queue.erase(it);
        OCX_RETURN_IF_ERROR(SetTaskState(
            &t, Task::FAILED,
            absl::StrCat(rc.type(), " is not available in this ocxd"), now));
        continue;
      }
      if (full.count(runner) > 0) break;
      // Routed first: a task waiting for a replica costs no launch spec.
      std::optional<ServerPools::Route> route;
      if (!t.pool_id.empty()) {
        // A managed model's task waits for a ready replica, without
        // holding up the tasks behind it.
        const std::string failure = pools_->FailureOf(t.pool_id);
        if (!failure.empty()) {
          it = queue.erase(it);
          OCX_RETURN_IF_ERROR(SetTaskState(&t, Task::FAILED, failure, now));
          continue;
        }
        route = pools_->Pick(t.pool_id);
        if (!route.has_value()) {
          ++it;
          continue;
        }
      }
      runners::LaunchSpec spec = BuildLaunchSpec(t, t.task.attempt_count() + 1);
      if (route.has_value()) {
        spec.env["OCX_OPENAI_API_BASE"] = route->base_url;
      }
      absl::StatusOr<std::vector<int>> placed = runner->Place(spec);
      if (!placed.ok()) {
        if (!RetryPolicy::IsPermanentPlacementError(placed.status())) {
          full.insert(runner);
          break;
        }
        it = queue.erase(it);
        OCX_RETURN_IF_ERROR(
            SetTaskState(&t, Task::FAILED,
                         absl::StrCat("cannot run on ", runner->backend(), ": ",
                                      placed.status().message()),
                         now));
        continue;
      }
      spec.gpus = *placed;
      it = queue.erase(it);
      OCX_RETURN_IF_ERROR(
          RecordLaunch(&t, runner, std::move(spec),
                       route.has_value() ? route->replica_id : "", now, out));
    }
    if (queue.empty()) {
      q = ready_.erase(q);
    } else {
      ++q;
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::RecordLaunch(TaskEntry* tp, runners::Runner* runner,
                                      runners::LaunchSpec spec,
                                      const std::string& replica_id,
                                      int64_t now, std::vector<Launch>* out) {
  TaskEntry& t = *tp;
  const int attempt = spec.key.attempt;
  t.task.set_attempt_count(attempt);
  t.task.clear_next_attempt_time();
  t.attempt = LaunchingAttempt(spec, runner->backend(), now);
  store::AttemptRecord& rec = t.attempt;
  Attempt& a = rec.attempt;
  if (!replica_id.empty()) {
    a.set_replica_id(replica_id);
    pools_->TaskStarted(replica_id);
  }
  // Fencing (DESIGN.md decision 4): the attempt row is committed before
  // the backend hears of it.
  OCX_RETURN_IF_ERROR(store_->PutAttempt(rec));
  OCX_RETURN_IF_ERROR(SetTaskState(&t, Task::LAUNCHING, "", now));
  out->push_back(Launch{runner, std::move(spec)});
  return absl::OkStatus();
}

absl::Status Dispatcher::LaunchAll(std::vector<Launch>* launches) {
  for (Launch& launch : *launches) {
    const runners::LaunchSpec& spec = launch.spec;
    runners::Runner* runner = launch.runner;
    int64_t now = NowMillis();
    auto it = tasks_.find(spec.key.task_id);
    if (it == tasks_.end()) {
      runner->Unplace(spec.key);
      continue;
    }
    TaskEntry& t = it->second;
    // The parts manifest: an eval task starts only when every prediction
    // part of its pairs exists (OpenCompass evaluated whatever parts it
    // found up to the first gap).
    std::string missing = MissingInputs(t.task.params());
    if (!missing.empty()) {
      runner->Unplace(spec.key);
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED, absl::StrCat("missing inputs: ", missing), now));
      continue;
    }
    absl::Status ready = WriteTaskJson(t.task.params(), SpecOf(t));
    absl::StatusOr<std::string> id =
        ready.ok() ? runner->Launch(spec) : absl::StatusOr<std::string>(ready);
    if (!id.ok()) {
      runner->Unplace(spec.key);
      FailureFacts facts;
      facts.launch_error = id.status().code();
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED,
          absl::StrCat("could not start: ", id.status().message()), now,
          facts));
      continue;
    }
    t.attempt.attempt.set_backend_id(*id);
    t.attempt.attempt.set_state(Attempt::RUNNING);
    OCX_RETURN_IF_ERROR(store_->PutAttempt(t.attempt));
    OCX_RETURN_IF_ERROR(
        SetTaskState(&t, Task::RUNNING,
                     absl::StrCat("attempt ", spec.key.attempt, " running as ",
                                  runner->backend(), " ", *id),
                     now));
  }
  return absl::OkStatus();
}

}  // namespace ocx::server
