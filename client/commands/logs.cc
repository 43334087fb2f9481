// ocxctl logs: an attempt's log, byte for byte, optionally followed across
// daemon restarts.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/commands/command_util.h"

namespace ocx::client {

int RunLogs(const CommandContext& ctx, const std::string& task_id, int attempt,
            bool follow) {
  if (attempt < 0) return Usage(ctx, "--attempt must be 0 (latest) or more");
  int64_t offset = 0;
  // Once the daemon says which attempt "latest" is, stick to it so that a
  // resumed read continues the same file.
  int pinned_attempt = attempt;
  Outage outage(ctx);
  while (true) {
    v1::ReadTaskLogRequest request;
    request.set_task_id(task_id);
    request.set_attempt(pinned_attempt);
    request.set_offset(offset);
    request.set_follow(follow);
    bool closed_output = false;
    absl::Status status = ctx.client->ReadTaskLog(
        request, [&](const v1::ReadTaskLogResponse& chunk) {
          outage.End();
          ctx.out->write(chunk.data().data(),
                         static_cast<std::streamsize>(chunk.data().size()));
          ctx.out->flush();
          if (!ctx.out->good()) {
            closed_output = true;  // e.g. `ocxctl logs ... | head`.
            return false;
          }
          offset = chunk.offset();
          if (pinned_attempt == 0 && chunk.attempt() > 0) {
            pinned_attempt = chunk.attempt();
          }
          return true;
        });
    if (closed_output || status.ok()) return kExitOk;
    if (!follow || !IsTransient(status.code())) {
      std::string what =
          attempt > 0 ? absl::StrCat("attempt ", attempt, " of task ", task_id)
                      : absl::StrCat("task ", task_id);
      return Fail(ctx, status, what, task_id);
    }
    if (outage.Begin()) *ctx.err << "ocxctl: " << kLostConnection << std::endl;
    if (outage.Expired()) {
      *ctx.err << "ocxctl: " << outage.GaveUpText(status) << std::endl;
      return kExitUnreachable;
    }
    outage.Wait();
  }
}

}  // namespace ocx::client
