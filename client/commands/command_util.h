// What the ocxctl commands share (client/commands.h has the commands):
// error messages and exit codes for failed calls, the render options of a
// context, and the bookkeeping of a lost connection that --watch and
// `logs -f` ride out.
//
// Thread-compatible.
#ifndef OCX_CLIENT_COMMANDS_COMMAND_UTIL_H_
#define OCX_CLIENT_COMMANDS_COMMAND_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/commands.h"
#include "client/format.h"

namespace ocx::client {

inline constexpr char kLostConnection[] =
    "lost connection to ocxd, reconnecting…";

// Codes after which the same call may succeed once the daemon is back.
// CANCELLED counts because a daemon that shuts down cancels open streams;
// ocxctl itself never cancels a call it still waits for.
bool IsTransient(absl::StatusCode code);

// Whether something exists at `path`.
bool Exists(const std::string& path);

// "unix:///run/ocx.sock (--server)".
std::string Where(const ServerAddress& server);

// Prints "ocxctl: <message>" for a failed call about `what` ("evaluation
// e999"), whose id is `id`, and returns the exit code for its status.
int Fail(const CommandContext& ctx, const absl::Status& status,
         absl::string_view what = "", absl::string_view id = "");

// Fail for a call about evaluation `id`.
int FailEvaluation(const CommandContext& ctx, const absl::Status& status,
                   absl::string_view id);

// Prints "ocxctl: <message>" and returns kExitUsage.
int Usage(const CommandContext& ctx, absl::string_view message);

// Calls `create` (a Create or Rescore carrying a request_id) again on
// UNAVAILABLE / DEADLINE_EXCEEDED, up to ctx.create_retries times, waiting
// ctx.retry_backoff doubling: the request_id makes a retry return the
// evaluation the first call made.
absl::StatusOr<v1::Evaluation> CreateWithRetries(
    const CommandContext& ctx,
    const std::function<absl::StatusOr<v1::Evaluation>()>& create);

// Whether the context prints tables (table or wide) rather than data.
bool IsTable(const CommandContext& ctx);

// The render options of the context, measured from now.
RenderOptions Render(const CommandContext& ctx);

// A lost connection being ridden out: the wait between tries doubles from
// ctx.retry_backoff up to ctx.max_reconnect_backoff, and the outage may
// last ctx.reconnect_window.
class Outage {
 public:
  explicit Outage(const CommandContext& ctx);

  bool lost() const { return lost_; }
  // Marks the connection lost; true when it was not lost already (the
  // caller says so once).
  bool Begin();
  // The connection works again.
  void End();
  // Whether the outage has lasted longer than the reconnect window.
  bool Expired() const;
  // Sleeps before the next try.
  void Wait();
  // "lost connection to ocxd at <where> and could not reconnect within
  // <window> (<last error>)".
  std::string GaveUpText(const absl::Status& last) const;

 private:
  const CommandContext& ctx_;
  bool lost_ = false;
  absl::Time since_;
  absl::Duration backoff_;
};

}  // namespace ocx::client

#endif  // OCX_CLIENT_COMMANDS_COMMAND_UTIL_H_
