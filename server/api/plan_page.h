// One page of a PlanEvaluation answer (AIP-158 paging, AIP-157 views): the
// plan is made again for every page (nothing is kept between calls), and a
// page holds at most page_size tasks and stays below the daemon's
// limits.max_message_bytes. Totals cover the whole plan on every page.
//
// Thread-safe: no shared state.
#ifndef OCX_SERVER_API_PLAN_PAGE_H_
#define OCX_SERVER_API_PLAN_PAGE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "ocx/v1/service.pb.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {

// Where the page starts, from req.page_token (0 without one), and the page
// size (0: as many as fit; at most 100000). INVALID_ARGUMENT naming
// page_token for a token made for another spec or view, or edited, and
// naming page_size when negative. Checked before any planning.
struct PlanPageRequest {
  int64_t start = 0;
  int64_t page_size = 0;
};
absl::StatusOr<PlanPageRequest> ReadPlanPageRequest(
    const ocx::v1::PlanEvaluationRequest& req);

// Fills `resp` from the planned `sub`: work dir, totals over every task,
// and the tasks of the page (params expanded unless req.view is
// TASK_VIEW_BASIC, whose first page carries the spec they refer to) while
// the answer stays below `max_bytes`; then
// next_page_token when tasks are left. INVALID_ARGUMENT naming page_token
// when the token points past the plan.
absl::Status FillPlanPage(Submission sub,
                          const ocx::v1::PlanEvaluationRequest& req,
                          const PlanPageRequest& page, int64_t max_bytes,
                          ocx::v1::PlanEvaluationResponse* resp);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_PLAN_PAGE_H_
