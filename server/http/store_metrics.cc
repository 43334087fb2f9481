#include "server/http/store_metrics.h"

#include "absl/strings/ascii.h"
#include "common/metrics.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {
namespace {

using ocx::v1::Evaluation;
using ocx::v1::Replica;
using ocx::v1::Task;

std::string Lower(const std::string& name) {
  return absl::AsciiStrToLower(name);
}

std::string StageName(int stage) {
  switch (stage) {
    case ocx::v1::STAGE_INFER:
      return "infer";
    case ocx::v1::STAGE_EVAL:
      return "eval";
    default:
      return "unspecified";
  }
}

void Collect(store::Store* store) {
  static metrics::Family& tasks = metrics::Gauge(
      "ocx_tasks", "Tasks stored, by stage and state.", {"stage", "state"});
  static metrics::Family& queue = metrics::Gauge(
      "ocx_queue_depth", "Tasks ready to run and waiting for a slot.", {});
  static metrics::Family& evaluations = metrics::Gauge(
      "ocx_evaluations", "Evaluations stored, by state.", {"state"});
  static metrics::Family& replicas =
      metrics::Gauge("ocx_model_server_replicas",
                     "Managed model-server replicas, by state.", {"state"});
  static metrics::Family& errors = metrics::Counter(
      "ocx_metrics_store_errors_total",
      "Scrapes whose store counts could not be read.", {});
  absl::StatusOr<store::Store::Counts> counts = store->CountByState();
  errors.Add({}, 0);  // Present (as 0) before the first error.
  if (!counts.ok()) {
    errors.Add({});
    return;
  }
  tasks.Clear();
  // Every state of every stage, so that a state with no tasks reads 0
  // rather than vanishing from the graph.
  for (int stage : {ocx::v1::STAGE_INFER, ocx::v1::STAGE_EVAL}) {
    for (int state = Task::PENDING; state <= Task::CANCELLED; ++state) {
      auto it = counts->tasks.find({stage, state});
      tasks.Set({StageName(stage),
                 Lower(Task::State_Name(static_cast<Task::State>(state)))},
                it == counts->tasks.end() ? 0 : it->second);
    }
  }
  int64_t ready = 0;
  for (const auto& [key, n] : counts->tasks) {
    if (key.second == Task::READY) ready += n;
  }
  queue.Set({}, ready);
  evaluations.Clear();
  for (int state = Evaluation::QUEUED; state <= Evaluation::CANCELLED;
       ++state) {
    auto it = counts->evaluations.find(state);
    evaluations.Set(
        {Lower(Evaluation::State_Name(static_cast<Evaluation::State>(state)))},
        it == counts->evaluations.end() ? 0 : it->second);
  }
  replicas.Clear();
  for (int state = Replica::STARTING; state <= Replica::FAILED; ++state) {
    auto it = counts->replicas.find(state);
    replicas.Set(
        {Lower(Replica::State_Name(static_cast<Replica::State>(state)))},
        it == counts->replicas.end() ? 0 : it->second);
  }
}

}  // namespace

void RegisterStoreMetrics(store::Store* store) {
  metrics::AddCollector([store] { Collect(store); });
}

}  // namespace ocx::server
