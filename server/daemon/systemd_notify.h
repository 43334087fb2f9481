// The daemon's side of systemd's notify protocol (sd_notify(3)) for a
// Type=notify unit with WatchdogSec= (deploy/ocxd.service).
//
// Every function is a no-op returning false when NOTIFY_SOCKET is unset, that
// is when ocxd was not started by systemd (or by another notify-aware
// supervisor). Failures to send are not errors the daemon can act on, so the
// functions report only whether a message went out.
//
// Thread-safe: sd_notify opens a fresh socket per call; no state is kept.
#ifndef OCX_SERVER_DAEMON_SYSTEMD_NOTIFY_H_
#define OCX_SERVER_DAEMON_SYSTEMD_NOTIFY_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace ocx::daemon::systemd {

// READY=1: start-up is complete. Send it after the database is open, the
// recovery pass has finished and the server is listening — systemd then
// starts units ordered After=ocxd.service. Pass a status line to send
// STATUS= in the same datagram (empty: none).
bool Ready(absl::string_view status = "");

// STATUS=<text>: one line shown by `systemctl status ocxd`, e.g.
// "recovering 120 attempts" or "3 running, 40 ready". Newlines are replaced
// by spaces (a newline would end the field).
bool Status(absl::string_view text);

// STOPPING=1: shutdown has begun (tasks keep running under ocx-shim).
bool Stopping();

// EXTEND_TIMEOUT_USEC=<usec>: asks for `usec` more microseconds before the
// start (or stop) timeout fires. Send it periodically during a long recovery.
bool ExtendTimeout(int64_t usec);

// WATCHDOG=1: the daemon is alive. Call it from the dispatcher loop (not a
// helper thread, which would keep pinging while the loop hangs).
bool Ping();

// How often to Ping(), in microseconds: half of WATCHDOG_USEC as
// sd_watchdog_enabled(3) recommends; 0 when the watchdog is not enabled for
// this process (WatchdogSec= unset, or WATCHDOG_PID names another process).
int64_t WatchdogIntervalUsec();

// Rate-limits watchdog pings for a loop that wakes at irregular times.
//
// Example:
//   systemd::Watchdog watchdog;  // reads the environment once
//   while (running) {
//     watchdog.MaybePing(NowMillis());
//     waker.Wait(std::min(next_due_ms,
//                         watchdog.MillisUntilDue(NowMillis(), 1000)));
//     ...one loop turn...
//   }
//
// Thread-compatible.
class Watchdog {
 public:
  // Reads WatchdogIntervalUsec() once.
  Watchdog();
  // For tests: a fixed ping interval (0: disabled).
  explicit Watchdog(int64_t interval_usec) : interval_usec_(interval_usec) {}

  bool enabled() const { return interval_usec_ > 0; }
  int64_t interval_usec() const { return interval_usec_; }

  // Pings when enabled and a ping is due: on the first call, then once at
  // least one interval has passed since the last ping. Returns true when it
  // pinged (or would have, outside systemd).
  bool MaybePing(int64_t now_ms);

  // Milliseconds until the next ping is due (0: due now), to bound the
  // loop's sleep; `fallback` when the watchdog is disabled.
  int64_t MillisUntilDue(int64_t now_ms, int64_t fallback) const;

 private:
  int64_t interval_usec_ = 0;
  int64_t last_ping_ms_ = -1;
};

}  // namespace ocx::daemon::systemd

#endif  // OCX_SERVER_DAEMON_SYSTEMD_NOTIFY_H_
