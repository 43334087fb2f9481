#include "server/api/evaluation_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/api/cancel_evaluation.h"
#include "server/api/grpc_status.h"
#include "server/api/pending_reason.h"
#include "server/api/plan_page.h"
#include "server/api/task_progress.h"
#include "server/rescore.h"
#include "server/submission_stream.h"
#include "spec/limits.h"
#include "summary/results_proto.h"
#include "summary/summary_table.h"

namespace ocx::server {
namespace {

using ocx::v1::Evaluation;

absl::Status RequireId(const std::string& id, const char* field) {
  if (id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int requested, int def, int max,
                             const char* field) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be negative"));
  }
  if (requested == 0) return def;
  return std::min(requested, max);
}

// INVALID_ARGUMENT naming `field` for an enum value this daemon does not
// know (proto3 keeps unknown numbers): a filter on it would match nothing,
// and an empty OK would hide the client's mistake.
absl::Status RequireKnown(const google::protobuf::EnumDescriptor* type,
                          int value, const char* field) {
  if (type->FindValueByNumber(value) != nullptr) return absl::OkStatus();
  std::vector<std::string> known;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) known.push_back(type->value(i)->name());
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": unknown value ", value,
                   " (known: ", absl::StrJoin(known, ", "), ")"));
}

// The answer of a handler that returns what the store says: `value` moved
// into `*resp`, or its error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> value, T* resp) {
  if (!value.ok()) return ToGrpcStatus(value.status());
  *resp = *std::move(value);
  return grpc::Status::OK;
}

bool IsFinal(Evaluation::State s) {
  return s == Evaluation::SUCCEEDED || s == Evaluation::FAILED ||
         s == Evaluation::CANCELLED;
}

bool IsFinal(ocx::v1::Attempt::State s) {
  return s != ocx::v1::Attempt::LAUNCHING && s != ocx::v1::Attempt::RUNNING;
}

}  // namespace

namespace {

// Planning reads the size cache and the output records from the store.
SubmissionPolicy WithStore(SubmissionPolicy policy, store::Store* store) {
  if (policy.store == nullptr) policy.store = store;
  policy.limits = spec::EffectiveLimits(policy.limits);
  return policy;
}

}  // namespace

EvaluationServiceImpl::EvaluationServiceImpl(store::Store* store,
                                             Dispatcher* dispatcher,
                                             SubmissionPolicy policy,
                                             CallerResolver caller,
                                             AccessPolicy access)
    : store_(store),
      dispatcher_(dispatcher),
      policy_(WithStore(std::move(policy), store)),
      caller_(std::move(caller)),
      access_(std::move(access)) {}

absl::StatusOr<Identity> EvaluationServiceImpl::Caller(
    const grpc::ServerContext& ctx) const {
  if (!caller_) return absl::UnauthenticatedError("no caller identification");
  return caller_(ctx);
}

absl::StatusOr<Identity> EvaluationServiceImpl::CallerOf(
    const grpc::ServerContext& ctx, const std::string& eval_id,
    absl::string_view action) const {
  OCX_ASSIGN_OR_RETURN(Identity caller, Caller(ctx));
  OCX_RETURN_IF_ERROR(RequireId(eval_id, "id"));
  OCX_ASSIGN_OR_RETURN(ocx::v1::Owner owner,
                       store_->OwnerOfEvaluation(eval_id));
  OCX_RETURN_IF_ERROR(AuthorizeEvaluation(
      caller, absl::StrCat("evaluation ", eval_id), owner, action, access_));
  return caller;
}

absl::StatusOr<Identity> EvaluationServiceImpl::CallerOfTask(
    const grpc::ServerContext& ctx, const std::string& task_id,
    absl::string_view action) const {
  OCX_ASSIGN_OR_RETURN(Identity caller, Caller(ctx));
  OCX_ASSIGN_OR_RETURN(store::OwnedEvaluation of,
                       store_->EvaluationOfTask(task_id));
  OCX_RETURN_IF_ERROR(AuthorizeEvaluation(
      caller, absl::StrCat("task ", task_id, " of evaluation ", of.eval_id),
      of.owner, action, access_));
  return caller;
}

absl::Status EvaluationServiceImpl::Authorize(const Identity& caller,
                                              const Evaluation& e,
                                              absl::string_view action) const {
  return AuthorizeEvaluation(caller, absl::StrCat("evaluation ", e.id()),
                             e.owner(), action, access_);
}

void EvaluationServiceImpl::FillOwner(Evaluation* e) const {
  if (e->owner().user().empty()) {
    *e->mutable_owner() = EffectiveOwner(e->owner(), access_);
  }
}

grpc::Status EvaluationServiceImpl::CreateEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::CreateEvaluationRequest* req,
    Evaluation* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status may = AuthorizeSubmit(*caller, "submit evaluations", access_);
  if (!may.ok()) return ToGrpcStatus(may);
  SubmissionPolicy policy = policy_;
  policy.caller = &*caller;
  absl::StatusOr<PreparedSubmission> prepared = PrepareToPlan(
      req->spec(), req->name(), req->request_id(), NewEvaluationId(), policy,
      /*create_dirs=*/true, OwnerOf(*caller));
  if (!prepared.ok()) return ToGrpcStatus(prepared.status());
  Submission& sub = prepared->submission;
  *sub.evaluation.mutable_owner() = OwnerOf(*caller);
  sub.requested_by = DescribeCaller(*caller);
  // Planned on this thread while the dispatcher stores what is planned.
  absl::StatusOr<std::string> id =
      SubmitPlanned(*std::move(prepared), dispatcher_);
  if (!id.ok()) return ToGrpcStatus(id.status());
  return Reply(store_->GetEvaluation(*id), resp);
}

grpc::Status EvaluationServiceImpl::RescoreEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::RescoreEvaluationRequest* req,
    Evaluation* resp) {
  // Reading the source and submitting are both asked: the new evaluation
  // is the caller's, made from what the source's owner may have kept
  // private.
  absl::StatusOr<Identity> caller = CallerOf(*ctx, req->id(), "rescore it");
  absl::Status may =
      caller.ok() ? AuthorizeSubmit(*caller, "submit evaluations", access_)
                  : caller.status();
  if (!may.ok()) return ToGrpcStatus(may);
  absl::StatusOr<Evaluation> source = store_->GetEvaluation(req->id());
  if (!source.ok()) return ToGrpcStatus(source.status());
  RescoreOptions options;
  options.evaluator = req->evaluator();
  options.dataset_evaluators = {req->dataset_evaluators().begin(),
                                req->dataset_evaluators().end()};
  options.name = req->name();
  options.request_id = req->request_id();
  SubmissionPolicy policy = policy_;
  policy.caller = &*caller;
  absl::StatusOr<Submission> sub = PrepareRescore(
      *source, options, NewEvaluationId(), policy, OwnerOf(*caller));
  if (!sub.ok()) return ToGrpcStatus(sub.status());
  *sub->evaluation.mutable_owner() = OwnerOf(*caller);
  sub->requested_by =
      absl::StrCat(DescribeCaller(*caller), ", rescoring ", req->id());
  absl::StatusOr<std::string> id = dispatcher_->Submit(*std::move(sub));
  if (!id.ok()) return ToGrpcStatus(id.status());
  return Reply(store_->GetEvaluation(*id), resp);
}

grpc::Status EvaluationServiceImpl::PlanEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::PlanEvaluationRequest* req,
    ocx::v1::PlanEvaluationResponse* resp) {
  // Planning reads the files the spec names: the same rule as submitting,
  // and the caller's own read rights (SubmissionPolicy::caller).
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status may = caller.ok()
                         ? AuthorizeSubmit(*caller, "plan evaluations", access_)
                         : caller.status();
  if (!may.ok()) return ToGrpcStatus(may);
  // The page is checked before the (repeated) planning.
  absl::StatusOr<PlanPageRequest> page = ReadPlanPageRequest(*req);
  if (!page.ok()) return ToGrpcStatus(page.status());
  SubmissionPolicy policy = policy_;
  policy.caller = &*caller;
  absl::StatusOr<Submission> sub =
      PrepareSubmission(req->spec(), "", "", "dry-run", policy,
                        /*create_dirs=*/false, OwnerOf(*caller));
  if (!sub.ok()) return ToGrpcStatus(sub.status());
  return ToGrpcStatus(FillPlanPage(*std::move(sub), *req, *page,
                                   policy_.limits.max_message_bytes(), resp));
}

grpc::Status EvaluationServiceImpl::CheckEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::CheckEvaluationRequest* req,
    ocx::v1::CheckEvaluationResponse* resp) {
  // Reads the files the spec names, as planning does: the same rule, and
  // the caller's own read rights.
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status may =
      caller.ok() ? AuthorizeSubmit(*caller, "check evaluations", access_)
                  : caller.status();
  if (!may.ok()) return ToGrpcStatus(may);
  absl::StatusOr<std::vector<ocx::v1::PreflightCheck>> checks =
      Preflight(req->spec(), *caller, preflight_);
  if (!checks.ok()) return ToGrpcStatus(checks.status());
  for (ocx::v1::PreflightCheck& c : *checks) *resp->add_checks() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status EvaluationServiceImpl::GetEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::GetEvaluationRequest* req,
    Evaluation* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status ok = caller.ok() ? RequireId(req->id(), "id") : caller.status();
  if (ok.ok()) {
    ok =
        RequireKnown(ocx::v1::EvaluationView_descriptor(), req->view(), "view");
  }
  if (!ok.ok()) return ToGrpcStatus(ok);
  const bool basic = req->view() == ocx::v1::EVALUATION_VIEW_BASIC;
  absl::StatusOr<Evaluation> e = store_->GetEvaluation(req->id(), !basic);
  if (!e.ok()) return ToGrpcStatus(e.status());
  ok = Authorize(*caller, *e, "see it");
  if (!ok.ok()) return ToGrpcStatus(ok);
  FillOwner(&*e);
  if (basic) e->set_spec_omitted(true);
  FitAnswer(basic, &*e);
  *resp = *std::move(e);
  return grpc::Status::OK;
}

void EvaluationServiceImpl::FitAnswer(bool basic, Evaluation* e) const {
  // A spec stored before limits.max_spec_bytes may not fit in an answer.
  if (e->has_spec() && (basic || static_cast<int64_t>(e->ByteSizeLong()) >
                                     policy_.limits.max_message_bytes() -
                                         spec::kAnswerOverheadBytes)) {
    e->clear_spec();
    e->set_spec_omitted(true);
  }
}

grpc::Status EvaluationServiceImpl::ListEvaluations(
    grpc::ServerContext* ctx, const ocx::v1::ListEvaluationsRequest* req,
    ocx::v1::ListEvaluationsResponse* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status known =
      RequireKnown(Evaluation::State_descriptor(), req->state(), "state");
  if (!known.ok()) return ToGrpcStatus(known);
  absl::StatusOr<int> size = PageSize(req->page_size(), 50, 1000, "page_size");
  if (!size.ok()) return ToGrpcStatus(size.status());
  store::EvaluationFilter filter;
  filter.state = req->state();
  absl::StatusOr<std::vector<int64_t>> owners =
      OwnerFilter(req->owner(), *caller, access_);
  if (!owners.ok()) return ToGrpcStatus(owners.status());
  filter.owner_uids = *std::move(owners);
  std::string next;
  auto list = store_->ListEvaluations(filter, *size, req->page_token(), &next);
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (Evaluation& e : *list) {
    FillOwner(&e);
    *resp->add_evaluations() = std::move(e);
  }
  resp->set_next_page_token(next);
  return grpc::Status::OK;
}

grpc::Status EvaluationServiceImpl::CancelEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::CancelEvaluationRequest* req,
    Evaluation* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status ok = caller.ok() ? CancelEvaluationAs(*caller, req->id(), store_,
                                                     dispatcher_, access_)
                                : caller.status();
  if (!ok.ok()) return ToGrpcStatus(ok);
  absl::StatusOr<Evaluation> e = store_->GetEvaluation(req->id());
  if (!e.ok()) return ToGrpcStatus(e.status());
  FillOwner(&*e);
  FitAnswer(/*basic=*/false, &*e);
  *resp = *std::move(e);
  return grpc::Status::OK;
}

grpc::Status EvaluationServiceImpl::WatchEvaluation(
    grpc::ServerContext* ctx, const ocx::v1::WatchEvaluationRequest* req,
    grpc::ServerWriter<ocx::v1::WatchEvaluationResponse>* writer) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status ok = caller.ok() ? RequireId(req->id(), "id") : caller.status();
  if (!ok.ok()) return ToGrpcStatus(ok);
  int64_t after = req->after_sequence();
  uint64_t generation = 0;
  bool first = true;
  constexpr int kBatch = 1000;
  while (!ctx->IsCancelled()) {
    if (shutting_down_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "ocxd is shutting down; watch again to resume");
    }
    // No event of this evaluation committed since the last read: a response
    // goes out only with new events, so the read is skipped (a quiet stream
    // costs nothing however often the dispatcher commits).
    if (!first && !store_->MayHaveEventsAfter(req->id(), after)) {
      generation = dispatcher_->WaitForCommit(generation, absl::Seconds(1));
      continue;
    }
    // Snapshot and events come from one read transaction (the ordering
    // guarantee in service.proto): a final snapshot carries every event up
    // to the final one, and a snapshot is never older than its events.
    absl::StatusOr<store::EvaluationWithEvents> read =
        store_->GetEvaluationWithEvents(req->id(), after, kBatch);
    if (!read.ok()) return ToGrpcStatus(read.status());
    // An owner never changes: checking the first read is enough.
    if (first) ok = Authorize(*caller, read->evaluation, "watch it");
    if (!ok.ok()) return ToGrpcStatus(ok);
    const bool more = static_cast<int>(read->events.size()) == kBatch;
    const bool final = IsFinal(read->evaluation.state());
    if (first || !read->events.empty()) {
      ocx::v1::WatchEvaluationResponse resp;
      for (ocx::v1::Event& ev : read->events) {
        after = ev.sequence();
        *resp.add_events() = std::move(ev);
      }
      read->evaluation.clear_spec();
      FillOwner(&read->evaluation);
      *resp.mutable_evaluation() = std::move(read->evaluation);
      if (!writer->Write(resp)) return grpc::Status::OK;  // client left
      first = false;
    }
    if (more) continue;
    if (final) return grpc::Status::OK;
    // At most ~10 snapshots a second, however busy the dispatcher is.
    absl::SleepFor(absl::Milliseconds(100));
    generation = dispatcher_->WaitForCommit(generation, absl::Seconds(1));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
}

grpc::Status EvaluationServiceImpl::ListTasks(
    grpc::ServerContext* ctx, const ocx::v1::ListTasksRequest* req,
    ocx::v1::ListTasksResponse* resp) {
  absl::Status ok = RequireId(req->evaluation_id(), "evaluation_id");
  if (ok.ok()) {
    // NOT_FOUND for an unknown evaluation rather than an empty list.
    ok = CallerOf(*ctx, req->evaluation_id(), "see its tasks").status();
  }
  if (ok.ok()) {
    ok = RequireKnown(ocx::v1::Task::State_descriptor(), req->state(), "state");
  }
  if (ok.ok()) {
    ok = RequireKnown(ocx::v1::Stage_descriptor(), req->stage(), "stage");
  }
  if (!ok.ok()) return ToGrpcStatus(ok);
  absl::StatusOr<int> size =
      PageSize(req->page_size(), 500, 10000, "page_size");
  if (!size.ok()) return ToGrpcStatus(size.status());
  std::string next;
  // A page is cut below max_message_bytes too (an eval task of a dataset
  // split in many parts lists every part's infer task in depends_on).
  auto tasks = store_->ListTasks(
      req->evaluation_id(), req->state(), req->stage(), *size,
      req->page_token(), &next,
      policy_.limits.max_message_bytes() - spec::kAnswerOverheadBytes);
  if (!tasks.ok()) return ToGrpcStatus(tasks.status());
  // Progress lives in the work dir: read only when some task runs.
  std::string work_dir;
  for (ocx::v1::Task& t : *tasks) {
    if (t.state() == ocx::v1::Task::RUNNING && work_dir.empty()) {
      absl::StatusOr<Evaluation> e =
          store_->GetEvaluation(req->evaluation_id());
      if (e.ok()) work_dir = e->work_dir();
    }
    if (!work_dir.empty()) FillTaskProgress(work_dir, &t);
    FillPendingReason(*dispatcher_, &t);
    *resp->add_tasks() = std::move(t);
  }
  resp->set_next_page_token(next);
  return grpc::Status::OK;
}

grpc::Status EvaluationServiceImpl::GetTask(grpc::ServerContext* ctx,
                                            const ocx::v1::GetTaskRequest* req,
                                            ocx::v1::Task* resp) {
  absl::Status ok = RequireId(req->id(), "id");
  if (ok.ok() && IsReplica(req->id())) {
    ok = absl::NotFoundError(
        absl::StrCat(req->id(),
                     " is a managed model-server replica, not a task: see it "
                     "with `ocxctl servers` and its log with `ocxctl logs ",
                     req->id(), "`"));
  }
  if (ok.ok()) ok = CallerOfTask(*ctx, req->id(), "see its tasks").status();
  if (!ok.ok()) return ToGrpcStatus(ok);
  absl::StatusOr<ocx::v1::Task> t = store_->GetTask(req->id());
  if (t.ok()) {
    FillTaskProgress(t->params().work_dir(), &*t);
    FillPendingReason(*dispatcher_, &*t);
  }
  return Reply(std::move(t), resp);
}

grpc::Status EvaluationServiceImpl::GetEvaluationResults(
    grpc::ServerContext* ctx, const ocx::v1::GetEvaluationResultsRequest* req,
    ocx::v1::EvaluationResults* resp) {
  absl::StatusOr<Identity> caller = Caller(*ctx);
  absl::Status ok =
      caller.ok() ? RequireId(req->name(), "name") : caller.status();
  if (!ok.ok()) return ToGrpcStatus(ok);
  absl::StatusOr<Evaluation> e = store_->GetEvaluation(req->name());
  if (!e.ok()) return ToGrpcStatus(e.status());
  ok = Authorize(*caller, *e, "read its results");
  if (!ok.ok()) return ToGrpcStatus(ok);
  *resp =
      summary::ToProto(summary::BuildSummaryTable(e->spec(), e->work_dir()));
  return grpc::Status::OK;
}

grpc::Status EvaluationServiceImpl::ReadTaskLog(
    grpc::ServerContext* ctx, const ocx::v1::ReadTaskLogRequest* req,
    grpc::ServerWriter<ocx::v1::ReadTaskLogResponse>* writer) {
  absl::Status ok = RequireId(req->task_id(), "task_id");
  if (!ok.ok()) return ToGrpcStatus(ok);
  if (req->attempt() < 0 || req->offset() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        req->attempt() < 0 ? "attempt: must not be negative"
                           : "offset: must not be negative"));
  }
  // A replica's starts have logs as a task's attempts do, and the same
  // follow semantics.
  const bool replica = IsReplica(req->task_id());
  ok = replica ? AuthorizeReplicaLogRead(*ctx, req->task_id())
               : CallerOfTask(*ctx, req->task_id(), "read its logs").status();
  if (!ok.ok()) return ToGrpcStatus(ok);
  auto lookup = [&](int number) {
    return replica ? store_->GetReplicaAttempt(req->task_id(), number)
                   : store_->GetAttempt(req->task_id(), number);
  };
  // Before a task's first attempt starts there is nothing to read; with
  // follow, wait for it. (Tasks only: a replica with no start stored yet
  // answers NOT_FOUND at once.)
  absl::StatusOr<ocx::v1::Attempt> attempt = lookup(req->attempt());
  while (!replica && !attempt.ok() && absl::IsNotFound(attempt.status()) &&
         req->follow() && req->attempt() == 0 && !ctx->IsCancelled() &&
         !shutting_down_) {
    absl::StatusOr<ocx::v1::Task> t = store_->GetTask(req->task_id());
    if (!t.ok()) return ToGrpcStatus(t.status());
    if (t->state() == ocx::v1::Task::CANCELLED ||
        t->state() == ocx::v1::Task::FAILED) {
      break;
    }
    dispatcher_->WaitForCommit(0, absl::Milliseconds(500));
    attempt = lookup(req->attempt());
  }
  if (!attempt.ok()) return ToGrpcStatus(attempt.status());
  int64_t offset = req->offset();
  std::string buf(64 * 1024, '\0');
  while (!ctx->IsCancelled()) {
    int fd = open(attempt->log_path().c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;
    if (fd >= 0) {
      n = pread(fd, buf.data(), buf.size(), offset);
      close(fd);
    }
    if (n > 0) {
      ocx::v1::ReadTaskLogResponse resp;
      resp.set_data(buf.data(), static_cast<size_t>(n));
      resp.set_attempt(attempt->number());
      offset += n;
      resp.set_offset(offset);
      if (!writer->Write(resp)) return grpc::Status::OK;
      continue;
    }
    if (!req->follow() || IsFinal(attempt->state()) || shutting_down_) break;
    absl::SleepFor(absl::Milliseconds(200));
    absl::StatusOr<ocx::v1::Attempt> fresh = lookup(attempt->number());
    if (fresh.ok()) attempt = *std::move(fresh);
  }
  return grpc::Status::OK;
}

}  // namespace ocx::server
