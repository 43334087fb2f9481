// Following one evaluation to its end (`submit --watch`, `status --watch`).
//
// Thread-compatible: one watch at a time per context.
#ifndef OCX_CLIENT_COMMANDS_WATCH_H_
#define OCX_CLIENT_COMMANDS_WATCH_H_

#include <cstdint>

#include "client/commands.h"
#include "ocx/v1/resources.pb.h"

namespace ocx::client {

// Follows `evaluation` until it ends, drawing the live view (on `out` for
// tables, on `err` when `out` carries JSON, YAML or names), from the events
// after `after_sequence`. Survives daemon restarts: a broken stream is
// resumed after the last event seen. Returns kExitOk when the evaluation
// SUCCEEDED, kExitFailed when it failed or was cancelled, and the failed
// call's code otherwise.
int WatchUntilDone(const CommandContext& ctx, v1::Evaluation evaluation,
                   int64_t after_sequence);

}  // namespace ocx::client

#endif  // OCX_CLIENT_COMMANDS_WATCH_H_
