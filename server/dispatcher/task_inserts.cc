// Dispatcher: applying a submission (ApplySubmit): its work dir, its
// evaluation row and events, and its task rows (the part that grows with
// the plan).
#include <optional>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "server/dispatcher/dispatcher.h"
#include "server/dispatcher/run_as.h"

namespace ocx::server {

using ocx::v1::Evaluation;
using ocx::v1::Task;

namespace {

bool IsFinal(Task::State s) {
  return s == Task::SUCCEEDED || s == Task::FAILED || s == Task::CANCELLED;
}

// " by <who>" for an event message (the audit trail), "" when not said.
std::string By(const std::string& requested_by) {
  return requested_by.empty() ? "" : absl::StrCat(" by ", requested_by);
}

}  // namespace

absl::Status Dispatcher::ApplySubmit(Command* cmd, int64_t now) {
  Submission& sub = cmd->submission;
  Evaluation& e = sub.evaluation;
  // Whatever happens here, the planner of a streamed plan is told that no
  // more of it is taken (after the last chunk: a no-op).
  absl::Cleanup stop_stream = [&sub] {
    if (sub.task_stream != nullptr) {
      sub.task_stream->Stop(absl::CancelledError("the submission ended"));
    }
  };
  if (!e.request_id().empty()) {
    OCX_ASSIGN_OR_RETURN(auto existing,
                         store_->FindByRequestId(e.owner(), e.request_id()));
    if (existing.has_value()) {
      if (!existing->request_hash.empty() && !sub.request_hash.empty() &&
          existing->request_hash != sub.request_hash) {
        return absl::AlreadyExistsError(absl::StrCat(
            "request_id: \"", e.request_id(),
            "\" was used for another "
            "request (evaluation ",
            existing->eval_id,
            "); a retry must "
            "resend the same request, a new request needs a new request_id"));
      }
      cmd->result = existing->eval_id;
      return absl::OkStatus();
    }
  }
  // Made only now, after the request_id check: a retry makes no directory.
  const bool made_dir = sub.create_work_dir && !PathExists(e.work_dir());
  if (sub.create_work_dir) {
    std::optional<Identity> owner;
    if (options_.run_as_owners) owner = RunAsAccount(e.owner());
    if (!sub.owner_root.empty()) {
      absl::Status made = MakeDirsFor(sub.owner_root, FilesFor(owner));
      if (!made.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("work_dir: ", made.message()));
      }
    }
    OCX_RETURN_IF_ERROR(MakeWorkDirAs(e.work_dir(), owner));
  }
  absl::Status status = InsertSubmission(sub, now);
  if (status.ok()) {
    cmd->result = e.id();
  } else if (made_dir) {
    // A failed insert leaves no directory it made (rmdir: only if empty).
    rmdir(e.work_dir().c_str());
  }
  return status;
}

absl::Status Dispatcher::InsertSubmission(Submission& sub, int64_t now) {
  Evaluation& e = sub.evaluation;
  // A savepoint lets one bad submission fail alone inside the group commit.
  OCX_RETURN_IF_ERROR(store_->Savepoint());
  PlannedTasks planned;
  auto insert = [&]() -> absl::Status {
    e.set_state(Evaluation::QUEUED);
    if (sub.task_stream == nullptr) {
      e.set_task_count(
          static_cast<int32_t>(sub.tasks.size() + sub.task_rows.size()));
    }
    const int64_t task_count = e.task_count();
    SetTimestamp(now, e.mutable_create_time());
    SetTimestamp(now, e.mutable_update_time());
    OCX_ASSIGN_OR_RETURN(int64_t seq,
                         store_->InsertEvaluation(e, sub.request_hash));
    OCX_ASSIGN_OR_RETURN(int reused, InsertTasks(sub, now, &planned));
    for (const store::DatasetSizeRecord& r : sub.dataset_sizes) {
      OCX_RETURN_IF_ERROR(store_->PutDatasetSize(r, now));
    }
    OCX_RETURN_IF_ERROR(AddEvent(
        e.id(), "", 0, "QUEUED",
        absl::StrCat("evaluation created with ", task_count, " tasks",
                     reused > 0 ? absl::StrCat(" (", reused,
                                               " reused: outputs with the "
                                               "same fingerprint exist)")
                                : "",
                     By(sub.requested_by)),
        now));
    OCX_ASSIGN_OR_RETURN(auto pool_of_model,
                         pools_->AddEvaluation(e, /*persist=*/true, now));
    EvalEntry& entry = evals_[e.id()];
    entry.evaluation = e;
    entry.seq = seq;
    entry.account = AccountOf(e);
    entry.pool_of_model = std::move(pool_of_model);
    return absl::OkStatus();
  };
  absl::Status status = insert();
  if (!status.ok()) {
    // Nothing was tracked yet: the entry is added only after every insert
    // succeeded (an existing evaluation with this id must stay). The
    // planner of a streamed plan stops.
    if (sub.task_stream != nullptr) sub.task_stream->Stop(status);
    store_->RollbackToSavepoint();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          absl::StrCat("evaluation ", e.id(), " already exists"));
    }
    return status;
  }
  OCX_RETURN_IF_ERROR(store_->ReleaseSavepoint());
  // Reused tasks are done; Track() counts only tracked dependencies.
  for (Task& t : sub.tasks) {
    if (!IsFinal(t.state())) Track(std::move(t));
  }
  for (size_t i = 0; i < planned.size(); ++i) {
    if (!IsFinal(planned.state(i))) Track(planned.Get(i));
  }
  const int64_t rows = static_cast<int64_t>(planned.size());
  planned = PlannedTasks();
  ReleaseMemory(rows);
  touched_evals_.insert(e.id());
  return absl::OkStatus();
}

absl::StatusOr<int> Dispatcher::InsertTasks(Submission& sub, int64_t now,
                                            PlannedTasks* planned) {
  int reused = 0;
  auto stamp = [&](Task& t) {
    SetTimestamp(now, t.mutable_create_time());
    // Reused outputs: the only tasks that are created ended.
    if (t.state() == Task::SUCCEEDED) {
      SetTimestamp(now, t.mutable_end_time());
      ++reused;
    }
  };
  for (Task& t : sub.tasks) stamp(t);
  OCX_RETURN_IF_ERROR(store_->InsertTasks(sub.tasks));
  // Planned rows are stored as they are, with no parse per task, and
  // dropped once stored.
  auto insert_rows = [&](const TaskRows& rows) -> absl::Status {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows.View(i).state == Task::SUCCEEDED) ++reused;
      planned->Add(rows, i);
    }
    return store_->InsertTaskRows(rows, now);
  };
  OCX_RETURN_IF_ERROR(insert_rows(sub.task_rows));
  sub.task_rows = TaskRows();
  if (sub.task_stream == nullptr) return reused;
  // The evaluation row was stored with the count the planner announced:
  // the plan must have exactly as many rows.
  const size_t expected = static_cast<size_t>(sub.evaluation.task_count());
  size_t stored = sub.tasks.size() + planned->size();
  for (;;) {
    OCX_ASSIGN_OR_RETURN(std::optional<TaskRows> chunk, sub.task_stream->Pop());
    if (!chunk.has_value() || stored + chunk->size() > expected) {
      if (chunk.has_value()) stored += chunk->size();
      break;
    }
    stored += chunk->size();
    OCX_RETURN_IF_ERROR(insert_rows(*chunk));
  }
  if (stored != expected) {
    return absl::InternalError(
        absl::StrCat("the plan of ", sub.evaluation.id(), " came with ", stored,
                     " tasks or more, but its planner counted ", expected));
  }
  return reused;
}

}  // namespace ocx::server
