#include "server/http/console_api.h"

#include <functional>
#include <utility>

#include "absl/strings/numbers.h"
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

// A TaskQuery's values.
struct TaskSelection {
  ocx::v1::Stage stage = ocx::v1::STAGE_UNSPECIFIED;
  ocx::v1::Task::State state = ocx::v1::Task::STATE_UNSPECIFIED;
  int page_size = 0;
};

absl::StatusOr<TaskSelection> Select(const TaskQuery& query, int max_tasks) {
  TaskSelection out;
  if (!query.stage.empty() && !ocx::v1::Stage_Parse(query.stage, &out.stage)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stage: \"", Utf8Prefix(query.stage, 64),
                     "\" is not a stage; use STAGE_INFER or STAGE_EVAL"));
  }
  if (!query.state.empty() &&
      !ocx::v1::Task::State_Parse(query.state, &out.state)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: \"", Utf8Prefix(query.state, 64),
        "\" is not a task state; use e.g. READY, RUNNING or FAILED"));
  }
  if (!query.page_size.empty() &&
      (!absl::SimpleAtoi(query.page_size, &out.page_size) ||
       out.page_size < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: \"", Utf8Prefix(query.page_size, 64),
                     "\" is not a count of tasks"));
  }
  if (out.page_size == 0 || out.page_size > max_tasks) {
    out.page_size = max_tasks;
  }
  return out;
}

// The ETag variant of one page of tasks.
std::string TasksVariant(const TaskSelection& s, const std::string& token) {
  return absl::StrCat("t", static_cast<int>(s.stage), "-",
                      static_cast<int>(s.state), "-", s.page_size, "-",
                      absl::Hex(std::hash<std::string>{}(token)));
}

// Whether a task's answer can change without an event: a READY task's
// pending reason, a running task's progress and stall.
bool Live(const ocx::v1::Task& t) {
  return t.state() == ocx::v1::Task::READY ||
         t.state() == ocx::v1::Task::LAUNCHING ||
         t.state() == ocx::v1::Task::RUNNING;
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
                  JsonString(Utf8Prefix(status.message(), 4096))}})}}),
      ""};
}

ConsoleApi::ConsoleApi(ConsoleOptions options)
    : options_(std::move(options)), tags_(options_.store) {}

absl::StatusOr<Evaluation> ConsoleApi::Readable(const Identity& caller,
                                                const std::string& id,
                                                absl::string_view action,
                                                bool with_spec) const {
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  OCX_ASSIGN_OR_RETURN(Evaluation e,
                       options_.store->GetEvaluation(id, with_spec));
  OCX_RETURN_IF_ERROR(AuthorizeEvaluation(caller,
                                          absl::StrCat("evaluation ", id),
                                          e.owner(), action, options_.access));
  *e.mutable_owner() = EffectiveOwner(e.owner(), options_.access);
  return e;
}

std::optional<JsonAnswer> ConsoleApi::NotModified(
    const Identity& caller, const std::string& id, absl::string_view action,
    absl::string_view variant, const std::string& if_none_match) const {
  if (if_none_match.empty() || id.empty()) return std::nullopt;
  absl::StatusOr<ocx::v1::Owner> owner = options_.store->OwnerOfEvaluation(id);
  if (!owner.ok()) return ErrorAnswer(owner.status());
  absl::Status may = AuthorizeEvaluation(
      caller, absl::StrCat("evaluation ", id), *owner, action, options_.access);
  if (!may.ok()) return ErrorAnswer(may);
  std::optional<std::string> tag = tags_.Current(id, variant, if_none_match);
  if (!tag) return std::nullopt;
  return JsonAnswer{304, "", *std::move(tag)};
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
  return {200,
          JsonObject({{"evaluations", Array(*list)},
                      {"next_page_token", JsonString(next)},
                      {"caller", CallerJson(caller)}}),
          ""};
}

JsonAnswer ConsoleApi::GetEvaluation(const Identity& caller,
                                     const std::string& id, bool with_spec,
                                     const std::string& if_none_match) const {
  const char* variant = with_spec ? "e" : "b";
  if (auto same = NotModified(caller, id, "see it", variant, if_none_match)) {
    return *std::move(same);
  }
  absl::StatusOr<ocx::v1::Evaluation> e =
      Readable(caller, id, "see it", with_spec);
  if (!e.ok()) return ErrorAnswer(e.status());
  if (static_cast<int64_t>(e->spec().ByteSizeLong()) >
      options_.max_spec_bytes) {
    e->clear_spec();
    e->set_spec_omitted(true);
  }
  return {200, MessageJson(*e), tags_.Tag(variant, e->last_event_sequence())};
}

JsonAnswer ConsoleApi::ListTasks(const Identity& caller, const std::string& id,
                                 const TaskQuery& query,
                                 const std::string& if_none_match) const {
  absl::StatusOr<TaskSelection> selection = Select(query, options_.max_tasks);
  if (!selection.ok()) return ErrorAnswer(selection.status());
  const std::string variant = TasksVariant(*selection, query.page_token);
  if (auto same =
          NotModified(caller, id, "see its tasks", variant, if_none_match)) {
    return *std::move(same);
  }
  // Read before the tasks: the tag's sequence is never newer than them.
  absl::StatusOr<ocx::v1::Evaluation> e =
      Readable(caller, id, "see its tasks", /*with_spec=*/false);
  if (!e.ok()) return ErrorAnswer(e.status());
  std::string next;
  absl::StatusOr<std::vector<ocx::v1::Task>> tasks =
      options_.store->ListTasks(id, selection->state, selection->stage,
                                selection->page_size, query.page_token, &next);
  if (!tasks.ok()) return ErrorAnswer(tasks.status());
  bool live = false;
  for (ocx::v1::Task& t : *tasks) {
    FillTaskProgress(e->work_dir(), &t);
    FillPendingReason(*options_.dispatcher, &t);
    live |= Live(t);
  }
  return {200,
          JsonObject({{"tasks", Array(*tasks)},
                      {"next_page_token", JsonString(next)},
                      {"truncated", next.empty() ? "false" : "true"}}),
          live ? "" : tags_.Tag(variant, e->last_event_sequence())};
}

JsonAnswer ConsoleApi::GetResults(const Identity& caller, const std::string& id,
                                  const std::string& if_none_match) const {
  if (auto same =
          NotModified(caller, id, "read its results", "r", if_none_match)) {
    return *std::move(same);
  }
  absl::StatusOr<ocx::v1::Evaluation> e =
      Readable(caller, id, "read its results");
  if (!e.ok()) return ErrorAnswer(e.status());
  return {200,
          MessageJson(summary::ToProto(
              summary::BuildSummaryTable(e->spec(), e->work_dir()))),
          tags_.Tag("r", e->last_event_sequence())};
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
  return {200,
          JsonObject({{"evaluation_ids", ids_json},
                      {"results", MessageJson(summary::ToProto(
                                      summary::CompareTables(tables)))}}),
          ""};
}

JsonAnswer ConsoleApi::ListServers(const Identity& caller) const {
  (void)caller;  // open to every identified caller, as ListServers is
  absl::StatusOr<std::vector<ocx::v1::ServerPool>> pools =
      options_.store->ListServers("", /*all=*/false, /*with_attempts=*/false);
  if (!pools.ok()) return ErrorAnswer(pools.status());
  return {200, JsonObject({{"servers", Array(*pools)}}), ""};
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
