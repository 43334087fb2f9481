#include "server/api/plan_page.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/fnv1a.h"
#include "common/page_token.h"
#include "common/status_macros.h"
#include "common/task_params.h"

namespace ocx::server {
namespace {

constexpr int64_t kMaxPlanPageSize = 100000;
// Room for the answer's own fields and framing besides its tasks.
constexpr int64_t kAnswerOverhead = 16 * 1024;

// A token is good for the same spec and view only.
std::string PlanScope(const ocx::v1::PlanEvaluationRequest& req) {
  Fnv1a64 h;
  h.UpdateField("plan");
  h.UpdateField(DeterministicBytes(req.spec()));
  return absl::StrCat(
      "plan ", FingerprintHex(h.value()),
      " view=", req.view() == ocx::v1::TASK_VIEW_BASIC ? "basic" : "full");
}

// The bytes `t` adds to a repeated field: tag, length and message.
int64_t FieldBytes(const ocx::v1::Task& t) {
  const int64_t n = static_cast<int64_t>(t.ByteSizeLong());
  return n + 1 + (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 5);
}

}  // namespace

absl::StatusOr<PlanPageRequest> ReadPlanPageRequest(
    const ocx::v1::PlanEvaluationRequest& req) {
  PlanPageRequest page;
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  page.page_size = req.page_size() == 0
                       ? kMaxPlanPageSize
                       : std::min<int64_t>(req.page_size(), kMaxPlanPageSize);
  if (!req.page_token().empty()) {
    OCX_ASSIGN_OR_RETURN(std::string position,
                         ReadPageToken(req.page_token(), PlanScope(req)));
    if (!absl::SimpleAtoi(position, &page.start) || page.start <= 0) {
      return absl::InvalidArgumentError("page_token: malformed position");
    }
  }
  return page;
}

absl::Status FillPlanPage(Submission sub,
                          const ocx::v1::PlanEvaluationRequest& req,
                          const PlanPageRequest& page, int64_t max_bytes,
                          ocx::v1::PlanEvaluationResponse* resp) {
  const int64_t n = static_cast<int64_t>(sub.task_rows.size());
  if (page.start >= n && n > 0 && page.start > 0) {
    return absl::InvalidArgumentError(
        "page_token: past the end of the plan (did the dataset files "
        "change?); plan again without page_token");
  }
  resp->set_work_dir(sub.evaluation.work_dir());
  int64_t samples = 0, cost = 0;
  int reused = 0;
  for (const ocx::v1::Task& t : sub.task_rows) {
    if (t.state() == ocx::v1::Task::SUCCEEDED) ++reused;
    if (t.stage() != ocx::v1::STAGE_INFER) continue;
    for (const ocx::v1::TaskDataset& d : t.params().datasets()) {
      samples += d.num_samples();
      cost += d.cost();
    }
  }
  resp->set_total_samples(samples);
  resp->set_total_cost(cost);
  resp->set_reused_tasks(reused);
  resp->set_total_tasks(static_cast<int32_t>(n));
  const bool full = req.view() != ocx::v1::TASK_VIEW_BASIC;
  const ocx::v1::EvaluationSpec& spec = sub.evaluation.spec();
  // The configs the first page's references point into, once.
  if (!full && page.start == 0) *resp->mutable_spec() = spec;
  int64_t bytes = static_cast<int64_t>(resp->ByteSizeLong()) + kAnswerOverhead;
  int64_t i = page.start;
  for (; i < n && i - page.start < page.page_size; ++i) {
    ocx::v1::Task t = sub.task_rows.Get(i);
    FillTaskParamsIds(t.evaluation_id(), t.id(), t.stage(),
                      sub.evaluation.work_dir(), t.mutable_params());
    if (full) OCX_RETURN_IF_ERROR(ExpandTaskParams(spec, t.mutable_params()));
    const int64_t more = FieldBytes(t);
    // At least one task per page, so that paging always advances.
    if (i > page.start && bytes + more > max_bytes) break;
    bytes += more;
    *resp->add_tasks() = std::move(t);
  }
  if (i < n) {
    resp->set_next_page_token(MakePageToken(PlanScope(req), absl::StrCat(i)));
  }
  return absl::OkStatus();
}

}  // namespace ocx::server
