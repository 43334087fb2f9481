// The summary step of an ending evaluation. The dispatcher does not know
// how a summary is made (it must not include summary/): the daemon gives
// it a SummaryWriter. The step runs on the loop thread between two
// commits — after the one that recorded the evaluation's last task end,
// before the one that records the evaluation's own end — so a slow disk
// never holds the store's write transaction, and a crash in between leaves
// the evaluation active: recovery ends it again and rewrites the files.
//
// Thread-compatible: called from the dispatcher's loop thread only.
#ifndef OCX_SERVER_DISPATCHER_SUMMARY_STEP_H_
#define OCX_SERVER_DISPATCHER_SUMMARY_STEP_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::server {

// Writes the summary of an evaluation whose tasks all ended (it is about
// to become SUCCEEDED or FAILED). True when files were written, false when
// there was nothing to summarise; an error when writing failed. Must be
// idempotent (it runs again after a crash).
using SummaryWriter =
    std::function<absl::StatusOr<bool>(const ocx::v1::Evaluation&)>;

// Runs `writer` (none: nothing is written) and returns the note for the
// evaluation's final event: "" when nothing was written, else where the
// files are or why they are not. A failure is logged and noted, never
// fatal: it does not change the evaluation's state.
std::string RunSummaryStep(const SummaryWriter& writer,
                           const ocx::v1::Evaluation& evaluation);

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_SUMMARY_STEP_H_
