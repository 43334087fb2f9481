#include "server/http/console_api.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8_cut.h"
#include "server/api/cancel_evaluation.h"
#include "server/api/pending_reason.h"
#include "server/api/task_progress.h"
#include "server/http/json_text.h"
#include "summary/compare.h"
#include "summary/results_proto.h"
#include "summary/summary_table.h"

namespace ocx::server {
namespace {

using ocx::v1::Evaluation;

template <typename Messages>
std::string Array(const Messages& messages) {
  std::string out = "[";
  for (const auto& m : messages) {
    if (out.size() > 1) out.push_back(',');
    out.append(MessageJson(m));
  }
  out.push_back(']');
  return out;
}

std::string CallerJson(const Identity& caller) {
  return JsonObject({{"user", JsonString(caller.user)},
                     {"uid", absl::StrCat(caller.uid)},
                     {"admin", caller.admin ? "true" : "false"}});
}

}  // namespace

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

JsonAnswer ErrorAnswer(const absl::Status& status) {
  return {
      HttpStatusOf(status.code()),
      JsonObject(
          {{"error",
            JsonObject(
                {{"code", JsonString(absl::StatusCodeToString(status.code()))},
                 {"message",
                  JsonString(Utf8Prefix(status.message(), 4096))}})}})};
}

ConsoleApi::ConsoleApi(ConsoleOptions options) : options_(std::move(options)) {}

absl::StatusOr<Evaluation> ConsoleApi::Readable(
    const Identity& caller, const std::string& id,
    absl::string_view action) const {
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  OCX_ASSIGN_OR_RETURN(Evaluation e, options_.store->GetEvaluation(id));
  OCX_RETURN_IF_ERROR(AuthorizeEvaluation(caller,
                                          absl::StrCat("evaluation ", id),
                                          e.owner(), action, options_.access));
  *e.mutable_owner() = EffectiveOwner(e.owner(), options_.access);
  return e;
}

JsonAnswer ConsoleApi::ListEvaluations(const Identity& caller,
                                       const std::string& owner,
                                       const std::string& page_token) const {
  store::EvaluationFilter filter;
  absl::StatusOr<std::vector<int64_t>> owners =
      OwnerFilter(owner, caller, options_.access);
  if (!owners.ok()) return ErrorAnswer(owners.status());
  filter.owner_uids = *std::move(owners);
  std::string next;
  absl::StatusOr<std::vector<Evaluation>> list =
      options_.store->ListEvaluations(filter, 100, page_token, &next);
  if (!list.ok()) return ErrorAnswer(list.status());
  for (Evaluation& e : *list) {
    *e.mutable_owner() = EffectiveOwner(e.owner(), options_.access);
    e.clear_spec();
  }
  return {200, JsonObject({{"evaluations", Array(*list)},
                           {"next_page_token", JsonString(next)},
                           {"caller", CallerJson(caller)}})};
}

JsonAnswer ConsoleApi::GetEvaluation(const Identity& caller,
                                     const std::string& id) const {
  absl::StatusOr<ocx::v1::Evaluation> e = Readable(caller, id, "see it");
  if (!e.ok()) return ErrorAnswer(e.status());
  if (static_cast<int64_t>(e->spec().ByteSizeLong()) >
      options_.max_spec_bytes) {
    e->clear_spec();
    e->set_spec_omitted(true);
  }
  return {200, MessageJson(*e)};
}

JsonAnswer ConsoleApi::ListTasks(const Identity& caller,
                                 const std::string& id) const {
  absl::StatusOr<ocx::v1::Evaluation> e = Readable(caller, id, "see its tasks");
  if (!e.ok()) return ErrorAnswer(e.status());
  std::string next;
  absl::StatusOr<std::vector<ocx::v1::Task>> tasks = options_.store->ListTasks(
      id, ocx::v1::Task::STATE_UNSPECIFIED, ocx::v1::STAGE_UNSPECIFIED,
      options_.max_tasks, "", &next);
  if (!tasks.ok()) return ErrorAnswer(tasks.status());
  for (ocx::v1::Task& t : *tasks) {
    FillTaskProgress(e->work_dir(), &t);
    FillPendingReason(*options_.dispatcher, &t);
  }
  return {200, JsonObject({{"tasks", Array(*tasks)},
                           {"truncated", next.empty() ? "false" : "true"}})};
}

JsonAnswer ConsoleApi::GetResults(const Identity& caller,
                                  const std::string& id) const {
  absl::StatusOr<ocx::v1::Evaluation> e =
      Readable(caller, id, "read its results");
  if (!e.ok()) return ErrorAnswer(e.status());
  return {200, MessageJson(summary::ToProto(
                   summary::BuildSummaryTable(e->spec(), e->work_dir())))};
}

JsonAnswer ConsoleApi::Leaderboard(const Identity& caller,
                                   const std::vector<std::string>& ids) const {
  std::vector<std::string> chosen = ids;
  if (chosen.empty()) {
    // Newest first; only evaluations the caller may read count.
    std::string token, next;
    int pages = 0;  // a caller with few readable evaluations: stop somewhere
    do {
      absl::StatusOr<std::vector<ocx::v1::Evaluation>> page =
          options_.store->ListEvaluations(Evaluation::SUCCEEDED, 200, token,
                                          &next);
      if (!page.ok()) return ErrorAnswer(page.status());
      for (const ocx::v1::Evaluation& e : *page) {
        if (static_cast<int>(chosen.size()) <
                options_.max_leaderboard_evaluations &&
            MayAccess(caller, EffectiveOwner(e.owner(), options_.access))) {
          chosen.push_back(e.id());
        }
      }
      token = next;
    } while (!next.empty() && ++pages < 10 &&
             static_cast<int>(chosen.size()) <
                 options_.max_leaderboard_evaluations);
  }
  std::vector<summary::LabeledTable> tables;
  for (const std::string& id : chosen) {
    absl::StatusOr<ocx::v1::Evaluation> e =
        Readable(caller, id, "read its results");
    if (!e.ok()) return ErrorAnswer(e.status());
    tables.push_back(
        {id, summary::BuildSummaryTable(e->spec(), e->work_dir())});
  }
  std::string ids_json = "[";
  for (const std::string& id : chosen) {
    if (ids_json.size() > 1) ids_json.push_back(',');
    ids_json.append(JsonString(id));
  }
  ids_json.push_back(']');
  return {200, JsonObject({{"evaluation_ids", ids_json},
                           {"results", MessageJson(summary::ToProto(
                                           summary::CompareTables(tables)))}})};
}

JsonAnswer ConsoleApi::ListServers(const Identity& caller) const {
  (void)caller;  // open to every identified caller, as ListServers is
  absl::StatusOr<std::vector<ocx::v1::ServerPool>> pools =
      options_.store->ListServers("", /*all=*/false, /*with_attempts=*/false);
  if (!pools.ok()) return ErrorAnswer(pools.status());
  return {200, JsonObject({{"servers", Array(*pools)}})};
}

JsonAnswer ConsoleApi::Cancel(const Identity& caller,
                              const std::string& id) const {
  absl::Status cancelled = CancelEvaluationAs(
      caller, id, options_.store, options_.dispatcher, options_.access);
  if (!cancelled.ok()) return ErrorAnswer(cancelled);
  return GetEvaluation(caller, id);
}

absl::Status ConsoleApi::AuthorizeTaskLog(const Identity& caller,
                                          const std::string& task_id) const {
  if (task_id.empty()) return absl::InvalidArgumentError("task_id: required");
  OCX_ASSIGN_OR_RETURN(store::OwnedEvaluation of,
                       options_.store->EvaluationOfTask(task_id));
  return AuthorizeEvaluation(
      caller, absl::StrCat("task ", task_id, " of evaluation ", of.eval_id),
      of.owner, "read its logs", options_.access);
}

}  // namespace ocx::server
