// The record of an attempt about to launch, for tasks and replica starts
// alike: what the store keeps of a placed LaunchSpec before the backend
// hears of it (DESIGN.md decision 4).
#ifndef OCX_SERVER_DISPATCHER_ATTEMPT_RECORD_H_
#define OCX_SERVER_DISPATCHER_ATTEMPT_RECORD_H_

#include <cstdint>
#include <string>

#include "runners/runner.h"
#include "server/store/store.h"

namespace ocx::server {

// LAUNCHING, named and numbered by `spec.key`, on `backend`, with the
// spec's attempt dir, log path and GPUs, started at `now`.
store::AttemptRecord LaunchingAttempt(const runners::LaunchSpec& spec,
                                      const std::string& backend, int64_t now);

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_ATTEMPT_RECORD_H_
