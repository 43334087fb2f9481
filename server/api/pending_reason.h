// Why a READY task waits: its retry backoff, or the reason the dispatcher
// published for its evaluation's stage in the last turn (fair share,
// max_num_workers, a full runner, a replica not ready). Shared by the gRPC
// API and the web console so both say the same.
//
// Thread-safe: reads the dispatcher's published reasons (one mutex).
#ifndef OCX_SERVER_API_PENDING_REASON_H_
#define OCX_SERVER_API_PENDING_REASON_H_

#include "ocx/v1/resources.pb.h"
#include "server/dispatcher/dispatcher.h"

namespace ocx::server {

// Sets what only the dispatcher knows: a READY task's pending_reason, a
// RUNNING task's stalled_since (when its progress stalled).
void FillPendingReason(const Dispatcher& dispatcher, ocx::v1::Task* task);

}  // namespace ocx::server

#endif  // OCX_SERVER_API_PENDING_REASON_H_
