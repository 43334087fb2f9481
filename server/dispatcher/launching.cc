// Dispatcher: placing ready tasks into free runner slots and starting
// them (DESIGN.md decision 4: the attempt row is committed first).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/attempt_record.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/run_as.h"
#include "server/dispatcher/task_command.h"
#include "server/dispatcher/task_files.h"

namespace ocx::server {
namespace {

using ocx::v1::Attempt;
using ocx::v1::Task;

const char* StageLabel(int stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

metrics::Family& DispatchLatency() {
  static metrics::Family& latency = metrics::Histogram(
      "ocx_dispatch_latency_seconds",
      "Tasks from runnable (READY, backoff over) to launched, by stage.",
      {"stage"},
      // From the milliseconds of an idle daemon to the hours of a backlog.
      {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600, 21600,
       86400});
  return latency;
}

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

absl::StatusOr<runners::LaunchSpec> Dispatcher::LaunchSpecOf(TaskEntry* t,
                                                             int attempt) {
  // Queued tasks hold no params nor name (Track): read when they launch.
  if (!t->task.has_params()) {
    OCX_RETURN_IF_ERROR(store_->ReadTaskDetails(&t->task));
  }
  return BuildLaunchSpec(*t, attempt);
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
  if (options_.run_as_owners) {
    spec.run_as =
        RunAsAccount(evals_.at(t.task.evaluation_id()).evaluation.owner());
  }
  return spec;
}

// Placement (DESIGN.md decision 4, docs/security.md "Fair share"): the
// fair-share walk hands out one task at a time, from the user holding the
// least; inside a user, queues go by priority and age. A queue stops at its
// stage's max_num_workers; a runner that says "full" stops every queue on
// it for this turn (a big GPU task is not overtaken by small ones); a task
// waiting for a replica lets the tasks behind it go.
absl::Status Dispatcher::Schedule(int64_t now, std::vector<Launch>* out) {
  ScheduleTurn st{fair_.StartTurn(), {}, {}, {}, {}};
  while (std::optional<FairShare::Turn::Candidate> c = st.walk.Next()) {
    OCX_RETURN_IF_ERROR(TryPlace(*c, &st, now, out));
  }
  PublishReasons(st);
  return absl::OkStatus();
}

absl::Status Dispatcher::TryPlace(const FairShare::Turn::Candidate& c,
                                  ScheduleTurn* st, int64_t now,
                                  std::vector<Launch>* out) {
  FairShare::Turn& walk = st->walk;
  const int64_t uid = c.account->uid;
  OCX_ASSIGN_OR_RETURN(TaskEntry * tp, CandidateEntry(c));
  TaskEntry& t = *tp;
  EvalEntry& e = evals_.at(t.task.evaluation_id());
  auto wait = [&](absl::string_view why) {
    st->queue_reasons[{e.evaluation.id(), t.task.stage()}] =
        absl::StrCat("waiting: ", why);
  };
  auto fail = [&](const std::string& why) {
    walk.Dropped();
    return SetTaskState(&t, Task::FAILED, why, now);
  };
  const ocx::v1::RunnerConfig& rc = RunnerConfigFor(t);
  if (const int limit = rc.max_num_workers();  // defaulted by ApplyDefaults
      e.running[t.task.stage()] >= limit) {
    wait(absl::StrCat("max_num_workers (", e.running[t.task.stage()], " of ",
                      limit, " ", StageLabel(t.task.stage()),
                      " tasks of this evaluation run)"));
    walk.SkipQueue();
    return absl::OkStatus();
  }
  runners::Runner* runner = RunnerOf(t);
  if (runner == nullptr)
    return fail(absl::StrCat(rc.type(), " is not available in this ocxd"));
  if (auto held = EndpointHolds(t, c, st, now)) return *held;
  if (auto f = st->full.find(runner); f != st->full.end()) {
    wait(f->second.uid != uid ? "fair share (other users' turn)"
         : f->second.priority > c.key->priority
             ? absl::StrCat("priority (", c.account->user,
                            "'s higher-priority evaluations first)")
             : f->second.message);
    walk.SkipQueue();
    return absl::OkStatus();
  }
  const int gpus = HeldGpus(t);
  if (std::string never = fair_.NeverFits(uid, gpus); !never.empty()) {
    return fail(absl::StrCat("cannot run: ", never));
  }
  if (std::string blocked = fair_.Blocked(uid, gpus); !blocked.empty()) {
    wait(blocked);
    st->user_reasons[uid] = absl::StrCat("waiting: ", blocked);
    walk.SkipUser();
    return absl::OkStatus();
  }
  // Routed first: a task waiting for a replica costs no spec, blocks none.
  std::optional<ServerPools::Route> route;
  if (!t.pool_id.empty()) {
    const std::string failure = pools_->FailureOf(t.pool_id);
    if (!failure.empty()) return fail(failure);
    route = pools_->Pick(t.pool_id);
    if (!route.has_value()) {
      wait(absl::StrCat("model server (no ready replica of ",
                        t.task.model_abbr(), ")"));
      st->SkipModel(c);
      return absl::OkStatus();
    }
  }
  OCX_ASSIGN_OR_RETURN(runners::LaunchSpec spec,
                       LaunchSpecOf(&t, t.task.attempt_count() + 1));
  if (route.has_value()) spec.env["OCX_OPENAI_API_BASE"] = route->base_url;
  absl::StatusOr<std::vector<int>> placed = runner->Place(spec);
  if (!placed.ok()) {
    if (RetryPolicy::IsPermanentPlacementError(placed.status())) {
      return fail(absl::StrCat("cannot run on ", runner->backend(), ": ",
                               placed.status().message()));
    }
    wait(placed.status().message());
    st->full[runner] = FullRunner{uid, c.key->priority,
                                  std::string(placed.status().message())};
    walk.SkipQueue();
    return absl::OkStatus();
  }
  spec.gpus = *placed;
  // Counted as running first: the walk weighs the user with this task.
  OCX_RETURN_IF_ERROR(RecordLaunch(&t, runner, std::move(spec),
                                   route.has_value() ? route->replica_id : "",
                                   now, out));
  walk.Started();
  return absl::OkStatus();
}

void Dispatcher::PublishReasons(const ScheduleTurn& st) {
  WaitReasons reasons;
  fair_.ForEachUser([&](const Account& account, const UserQueues& queues) {
    auto user = st.user_reasons.find(account.uid);
    for (const auto& [key, queue] : queues) {
      std::pair<std::string, int> id{queue.evaluation_id, key.stage};
      auto own = st.queue_reasons.find(id);
      if (own != st.queue_reasons.end()) {
        reasons.emplace(std::move(id), own->second);
      } else if (user != st.user_reasons.end()) {
        reasons.emplace(std::move(id), user->second);
      }
    }
  });
  absl::MutexLock lock(&reasons_mu_);
  pending_reasons_.swap(reasons);
  endpoint_reasons_ = st.endpoint_reasons;
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

void Dispatcher::LaunchAll(std::vector<Launch>* launches) {
  // Each runner gets its ready attempts as one batch (a Slurm job array).
  std::map<runners::Runner*, std::vector<const runners::LaunchSpec*>> batches;
  std::vector<runners::Runner*> order;
  for (Launch& launch : *launches) {
    const runners::LaunchSpec& spec = launch.spec;
    runners::Runner* runner = launch.runner;
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
    absl::Status ready =
        missing.empty()
            ? WriteTaskJson(t.task.params(), SpecOf(t), FilesFor(spec.run_as))
            : absl::OkStatus();
    if (!missing.empty() || !ready.ok()) {
      runner->Unplace(spec.key);
      launch_results_.push_back({runner, spec.key,
                                 ready.ok() ? absl::UnknownError("") : ready,
                                 std::move(missing)});
      continue;
    }
    if (batches.count(runner) == 0) order.push_back(runner);
    batches[runner].push_back(&spec);
  }
  for (runners::Runner* runner : order) {
    const std::vector<const runners::LaunchSpec*>& specs = batches[runner];
    std::vector<absl::StatusOr<std::string>> ids = runner->LaunchBatch(specs);
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!ids[i].ok()) runner->Unplace(specs[i]->key);
      launch_results_.push_back({runner, specs[i]->key, std::move(ids[i]), ""});
    }
  }
  // Their outcomes are written by the next turn, within
  // kLaunchResultsDelayMs (Loop): not at once, so that a shim's exit a few
  // milliseconds later (a task that costs nothing) is written in the same
  // turn, with the launches into the slots it frees: one commit per batch,
  // not two.
}

absl::Status Dispatcher::ApplyLaunchResults(int64_t now) {
  std::vector<LaunchResult> results;
  results.swap(launch_results_);
  for (const LaunchResult& r : results) {
    auto it = tasks_.find(r.key.task_id);
    if (it == tasks_.end() ||
        it->second.attempt.attempt.number() != r.key.attempt ||
        it->second.attempt.attempt.state() != Attempt::LAUNCHING) {
      continue;
    }
    TaskEntry& t = it->second;
    if (!r.missing_inputs.empty()) {
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED,
          absl::StrCat("missing inputs: ", r.missing_inputs), now));
      continue;
    }
    if (!r.id.ok()) {
      FailureFacts facts;
      facts.launch_error = r.id.status().code();
      OCX_RETURN_IF_ERROR(FinishAttempt(
          &t, Attempt::FAILED,
          absl::StrCat("could not start: ", r.id.status().message()), now,
          facts));
      continue;
    }
    if (t.ready_ms > 0) {
      DispatchLatency().Observe(
          {StageLabel(t.task.stage())},
          std::max<int64_t>(0, NowMillis() - t.ready_ms) / 1000.0);
    }
    t.attempt.attempt.set_backend_id(*r.id);
    t.attempt.attempt.set_state(Attempt::RUNNING);
    OCX_RETURN_IF_ERROR(store_->PutAttempt(t.attempt));
    OCX_RETURN_IF_ERROR(
        SetTaskState(&t, Task::RUNNING,
                     absl::StrCat("attempt ", r.key.attempt, " running as ",
                                  r.runner->backend(), " ", *r.id),
                     now));
  }
  return absl::OkStatus();
}

}  // namespace ocx::server
