// Dispatcher: queued tasks that never ran, held as 24-byte QueuedTasks in
// their evaluation instead of whole TaskEntries (issue 15: a million queued
// tasks per daemon), and the bulk cancel of an evaluation's queued tasks.
#include <malloc.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/work_dir_layout.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/planned_tasks.h"

namespace ocx::server {
namespace {

using ocx::v1::Task;

constexpr int kRefShift = 30;
constexpr uint32_t kMaxIndex = (1u << kRefShift) - 1;
// A plan numbers its tasks 0..n-1 by stage; far larger indexes (tests
// build tasks by hand) would make `queued` sparse: those are TaskEntries.
constexpr size_t kMaxGap = 1 << 16;
// Fewer dropped tasks than this leave glibc's free lists alone.
constexpr int64_t kTrimAfterTasks = 10000;

int StageOf(uint32_t ref) { return static_cast<int>(ref >> kRefShift); }
int IndexOf(uint32_t ref) { return static_cast<int>(ref & kMaxIndex); }

bool QueuedStage(int stage) {
  return stage == ocx::v1::STAGE_INFER || stage == ocx::v1::STAGE_EVAL;
}

}  // namespace

std::string Dispatcher::IdOf(const EvalEntry& e, Ref ref) {
  return absl::StrCat(
      e.evaluation.id(), "-",
      layout::StageName(static_cast<ocx::v1::Stage>(StageOf(ref))), "-",
      IndexOf(ref));
}

Dispatcher::QueuedTask* Dispatcher::FindQueued(const std::string& id,
                                               EvalEntry** eval, Ref* ref) {
  absl::string_view eval_id;
  ocx::v1::Stage stage;
  uint32_t index = 0;
  if (!SplitTaskId(id, &eval_id, &stage, &index)) return nullptr;
  auto it = evals_.find(std::string(eval_id));
  if (it == evals_.end()) return nullptr;
  std::deque<QueuedTask>& slots = it->second.queued[stage];
  if (index >= slots.size() || slots[index].state == 0) return nullptr;
  *eval = &it->second;
  *ref = RefOf(stage, static_cast<int>(index));
  return &slots[index];
}

bool Dispatcher::IsTracked(const std::string& id) {
  EvalEntry* e;
  Ref ref;
  return tasks_.count(id) > 0 || FindQueued(id, &e, &ref) != nullptr;
}

Dispatcher::TaskEntry* Dispatcher::Materialize(const std::string& id) {
  if (auto it = tasks_.find(id); it != tasks_.end()) return &it->second;
  EvalEntry* e = nullptr;
  Ref ref = 0;
  QueuedTask* q = FindQueued(id, &e, &ref);
  if (q == nullptr) return nullptr;
  TaskEntry& t = tasks_[id];
  Task& task = t.task;
  task.set_id(id);
  task.set_evaluation_id(e->evaluation.id());
  task.set_stage(static_cast<ocx::v1::Stage>(StageOf(ref)));
  task.set_index(IndexOf(ref));
  task.set_state(static_cast<Task::State>(q->state));
  task.set_model_abbr(e->models[q->model]);
  task.set_max_attempts(q->max_attempts);
  task.set_num_gpus(q->num_gpus);
  t.pending_deps = q->pending_deps;
  t.ready_ms = q->ready_ms;
  if (q->dependent != kNoRef) t.dependents.push_back(IdOf(*e, q->dependent));
  auto [begin, end] = e->more_dependents.equal_range(ref);
  for (auto it = begin; it != end; ++it) {
    t.dependents.push_back(IdOf(*e, it->second));
  }
  e->more_dependents.erase(begin, end);
  if (task.stage() == ocx::v1::STAGE_INFER) {
    // Counted waiting when it was tracked (TrackQueued).
    auto pool = e->pool_of_model.find(task.model_abbr());
    if (pool != e->pool_of_model.end()) t.pool_id = pool->second;
  }
  *q = QueuedTask{};
  --e->queued_count;
  e->entry_ids.insert(id);
  return &t;
}

bool Dispatcher::TrackQueued(const Task& task, EvalEntry& e) {
  const Task::State s = task.state();
  const int stage = task.stage();
  if ((s != Task::PENDING && s != Task::READY) || task.attempt_count() != 0 ||
      task.has_next_attempt_time() || task.has_start_time() ||
      !task.reason().empty() || !QueuedStage(stage) || task.index() < 0 ||
      static_cast<uint32_t>(task.index()) > kMaxIndex ||
      task.max_attempts() < 0 || task.max_attempts() > UINT16_MAX ||
      task.num_gpus() < 0 || task.num_gpus() > UINT16_MAX) {
    return false;
  }
  const Ref ref = RefOf(stage, task.index());
  std::deque<QueuedTask>& slots = e.queued[stage];
  const size_t index = static_cast<size_t>(task.index());
  if (index >= slots.size() + kMaxGap ||
      (index < slots.size() && slots[index].state != 0) ||
      task.id() != IdOf(e, ref)) {
    return false;
  }
  const int model = ModelIndexOf(e, task.model_abbr());
  if (model == kSharedModelQueue) return false;
  QueuedTask q;
  q.state = static_cast<uint8_t>(s);
  q.model = static_cast<uint16_t>(model);
  q.max_attempts = static_cast<uint16_t>(task.max_attempts());
  q.num_gpus = static_cast<uint16_t>(task.num_gpus());
  for (const std::string& dep : task.depends_on()) {
    EvalEntry* de = nullptr;
    Ref dref = 0;
    QueuedTask* d = FindQueued(dep, &de, &dref);
    if (d != nullptr && de == &e) {
      if (d->dependent == kNoRef) {
        d->dependent = ref;
      } else {
        e.more_dependents.emplace(dref, ref);
      }
      ++q.pending_deps;
      continue;
    }
    // Not tracked: finished before a restart; Recover() looks at how.
    TaskEntry* entry = Materialize(dep);
    if (entry == nullptr) continue;
    entry->dependents.push_back(task.id());
    ++q.pending_deps;
  }
  if (index >= slots.size()) slots.resize(index + 1);
  slots[index] = q;
  ++e.queued_count;
  if (stage == ocx::v1::STAGE_INFER) {
    auto pool = e.pool_of_model.find(task.model_abbr());
    if (pool != e.pool_of_model.end()) pools_->AddWaiting(pool->second, 1);
  }
  if (s == Task::READY) MakeReadyQueued(e, ref, slots[index]);
  return true;
}

absl::StatusOr<Dispatcher::TaskEntry*> Dispatcher::CandidateEntry(
    const FairShare::Turn::Candidate& c) {
  // A QueuedTask is queued without its id (MakeReadyQueued).
  TaskEntry* t =
      Materialize(c.task_id->empty() ? IdOf(evals_.at(c.queue->evaluation_id),
                                            RefOf(c.key->stage, c.index))
                                     : *c.task_id);
  if (t == nullptr) {
    return absl::InternalError(absl::StrCat("ready task ", c.index, " of ",
                                            c.queue->evaluation_id,
                                            " is not tracked"));
  }
  return t;
}

void Dispatcher::MakeReadyQueued(EvalEntry& e, Ref ref, QueuedTask& q) {
  q.ready_ms = NowMillis();
  // Its id in the ready queue is "": the queue's evaluation, its stage and
  // the index name it (IdOf), and a million ids would cost 64 bytes each.
  static const std::string kNoId;
  fair_.Add(
      e.account,
      QueueKey{e.evaluation.spec().priority(), e.seq, StageOf(ref), q.model},
      e.evaluation.id(), IndexOf(ref), kNoId);
}

Task Dispatcher::QueuedRow(const EvalEntry& e, Ref ref,
                           const QueuedTask& q) const {
  Task row;
  row.set_id(IdOf(e, ref));
  row.set_evaluation_id(e.evaluation.id());
  row.set_state(static_cast<Task::State>(q.state));
  row.set_max_attempts(q.max_attempts);
  return row;
}

absl::Status Dispatcher::QueuedReady(EvalEntry& e, Ref ref, QueuedTask& q,
                                     bool event, int64_t now) {
  q.state = Task::READY;
  const Task row = QueuedRow(e, ref, q);
  OCX_RETURN_IF_ERROR(store_->UpdateTask(row));
  if (event) {
    OCX_RETURN_IF_ERROR(AddEvent(e.evaluation.id(), row.id(), 0, "READY",
                                 "dependencies succeeded", now));
  }
  MakeReadyQueued(e, ref, q);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Dispatcher::CancelQueued(EvalEntry& e, int64_t now) {
  int64_t dropped = 0;
  std::vector<std::string> ids(e.entry_ids.begin(), e.entry_ids.end());
  for (const std::string& id : ids) {
    TaskEntry& t = tasks_.at(id);
    const Task::State s = t.task.state();
    if (s != Task::PENDING && s != Task::READY) continue;
    Unready(&t);
    if (!t.pool_id.empty()) pools_->AddWaiting(t.pool_id, -1);
    e.entry_ids.erase(id);
    tasks_.erase(id);
    ++dropped;
  }
  // The QueuedTasks wait for a pool by model: one count per model.
  std::vector<int64_t> per_model(e.models.size(), 0);
  for (const QueuedTask& q : e.queued[ocx::v1::STAGE_INFER]) {
    if (q.state != 0) ++per_model[q.model];
  }
  for (size_t m = 0; m < per_model.size(); ++m) {
    auto pool = e.pool_of_model.find(e.models[m]);
    if (pool != e.pool_of_model.end() && per_model[m] > 0) {
      pools_->AddWaiting(pool->second, -static_cast<int>(per_model[m]));
    }
  }
  dropped += e.queued_count;
  for (std::deque<QueuedTask>& slots : e.queued)
    std::deque<QueuedTask>().swap(slots);
  e.queued_count = 0;
  e.more_dependents.clear();
  // Every ready queue of the evaluation goes at once; its running tasks
  // are in none.
  fair_.RemoveEvaluation(e.account.uid, e.evaluation.spec().priority(), e.seq);
  if (dropped == 0) return 0;
  OCX_ASSIGN_OR_RETURN(
      int64_t stored,
      store_->CancelQueuedTasks(e.evaluation.id(), "cancelled by user", now));
  if (stored != dropped) {
    fprintf(stderr,
            "ocxd: cancel %s: %lld queued tasks in memory, %lld in "
            "the store\n",
            e.evaluation.id().c_str(), static_cast<long long>(dropped),
            static_cast<long long>(stored));
  }
  touched_evals_.insert(e.evaluation.id());
  ReleaseMemory(dropped);
  return dropped;
}

void Dispatcher::ReleaseMemory(int64_t tasks) {
  if (tasks >= kTrimAfterTasks) malloc_trim(0);
}

}  // namespace ocx::server
