// Dispatcher: its side of user-given model endpoints (docs/endpoints.md).
// EndpointHealth keeps each endpoint's state and checks; here, which tasks
// use which endpoint, the gate before a launch, what an attempt's end says
// about its endpoint, and the events of its checks and breaker.
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/dispatcher/dispatcher.h"
#include "serving/endpoint_check.h"

namespace ocx::server {
namespace {

// TaskError.kind of an attempt that got no HTTP answer (task/error).
constexpr char kEndpointUnreachable[] = "endpoint_unreachable";
constexpr char kInferTask[] = "OpenICLInferTask";

}  // namespace

const Dispatcher::UserEndpoint* Dispatcher::EndpointOf(const TaskEntry& t) {
  if (t.task.stage() != ocx::v1::STAGE_INFER || !t.pool_id.empty()) {
    return nullptr;
  }
  EvalEntry& e = evals_.at(t.task.evaluation_id());
  if (!e.endpoints_known) {
    // ocx-task's OpenICLInferTask talks to the endpoint; a command task
    // may use the model's settings as it likes.
    const std::string& type =
        e.evaluation.spec().infer().runner().task().type();
    const bool api_task = type.empty() || type == kInferTask;
    for (const ocx::v1::ModelConfig& m : e.evaluation.spec().models()) {
      if (!api_task) break;
      std::string base = serving::UserEndpointOf(m);
      if (base.empty()) continue;
      e.endpoint_of_model[m.abbr()] =
          UserEndpoint{std::move(base), serving::RequestedModelOf(m)};
    }
    e.endpoints_known = true;
  }
  auto it = e.endpoint_of_model.find(t.task.model_abbr());
  return it == e.endpoint_of_model.end() ? nullptr : &it->second;
}

std::optional<absl::Status> Dispatcher::EndpointHolds(
    TaskEntry& t, const FairShare::Turn::Candidate& c, ScheduleTurn* st,
    int64_t now) {
  const UserEndpoint* ep = EndpointOf(t);
  if (ep == nullptr) return std::nullopt;
  EndpointHealth::Verdict v = endpoints_->Gate(ep->base_url, ep->model);
  switch (v.kind) {
    case EndpointHealth::Verdict::Kind::kLaunch:
      return std::nullopt;
    case EndpointHealth::Verdict::Kind::kFail:
      // No attempt can help: the server does not serve the model.
      st->walk.Dropped();
      return SetTaskState(&t, ocx::v1::Task::FAILED, v.reason, now);
    case EndpointHealth::Verdict::Kind::kWait:
      break;
  }
  const std::string& eval_id = t.task.evaluation_id();
  st->queue_reasons[{eval_id, t.task.stage()}] = v.reason;
  st->endpoint_reasons[{eval_id, t.task.model_abbr()}] = std::move(v.reason);
  st->SkipModel(c);
  return absl::OkStatus();
}

absl::Status Dispatcher::EndpointStep(int64_t now) {
  std::set<std::string> in_use;
  for (const auto& [id, e] : evals_) {
    for (const auto& [abbr, ep] : e.endpoint_of_model) {
      in_use.insert(ep.base_url);
    }
  }
  endpoints_->Retain(in_use);
  // Endpoints of models with infer tasks in the ready queues (one queue
  // per evaluation, stage and model): an up one is checked again for them.
  std::set<std::string> queued;
  fair_.ForEachUser([&](const Account&, const UserQueues& queues) {
    for (const auto& [key, q] : queues) {
      auto e = evals_.find(q.evaluation_id);
      if (key.stage != ocx::v1::STAGE_INFER || q.tasks.empty() ||
          e == evals_.end()) {
        continue;
      }
      const EvalEntry& entry = e->second;
      if (key.model == kSharedModelQueue) {
        for (const auto& [abbr, ep] : entry.endpoint_of_model) {
          queued.insert(ep.base_url);
        }
        continue;
      }
      auto ep = entry.endpoint_of_model.find(entry.models[key.model]);
      if (ep != entry.endpoint_of_model.end()) {
        queued.insert(ep->second.base_url);
      }
    }
  });
  for (const EndpointHealth::Change& c : endpoints_->Step(now, queued)) {
    using Kind = EndpointHealth::Change::Kind;
    if (c.kind == Kind::kReachable || c.kind == Kind::kUnreachable) {
      OCX_RETURN_IF_ERROR(EndpointEvent(c, now));
      continue;
    }
    auto by = breaker_opened_by_.find(c.base_url);
    if (by == breaker_opened_by_.end()) continue;
    const auto [eval_id, task_id, attempt] = by->second;
    breaker_opened_by_.erase(by);
    if (evals_.count(eval_id) == 0) continue;
    OCX_RETURN_IF_ERROR(AddEvent(eval_id, task_id, attempt,
                                 "ENDPOINT_BREAKER_CLOSED", c.message, now));
  }
  return absl::OkStatus();
}

// On every unfinished evaluation that uses the endpoint, as the
// evaluation's own event (no task): all their infer tasks wait or go.
absl::Status Dispatcher::EndpointEvent(const EndpointHealth::Change& c,
                                       int64_t now) {
  const char* state = c.kind == EndpointHealth::Change::Kind::kReachable
                          ? "ENDPOINT_REACHABLE"
                          : "ENDPOINT_UNREACHABLE";
  for (const auto& [id, e] : evals_) {
    for (const auto& [abbr, ep] : e.endpoint_of_model) {
      if (ep.base_url != c.base_url) continue;
      OCX_RETURN_IF_ERROR(AddEvent(id, "", 0, state, c.message, now));
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::EndpointAttemptEnded(TaskEntry& t, bool succeeded,
                                              const FailureFacts& facts,
                                              const std::string& reason,
                                              int64_t now) {
  const UserEndpoint* ep = EndpointOf(t);
  if (ep == nullptr) return absl::OkStatus();
  if (succeeded ||
      (!facts.error_kind.empty() && facts.error_kind != kEndpointUnreachable)) {
    endpoints_->Answered(ep->base_url);
    return absl::OkStatus();
  }
  if (facts.error_kind != kEndpointUnreachable) return absl::OkStatus();
  std::optional<EndpointHealth::Change> opened =
      endpoints_->ConnectionFailed(ep->base_url, reason, now);
  if (!opened.has_value()) return absl::OkStatus();
  const int attempt = t.attempt.attempt.number();
  breaker_opened_by_[ep->base_url] =
      std::make_tuple(t.task.evaluation_id(), t.task.id(), attempt);
  return AddEvent(t.task.evaluation_id(), t.task.id(), attempt,
                  "ENDPOINT_BREAKER_OPEN", opened->message, now);
}

}  // namespace ocx::server
