#include "server/daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace ocx::daemon::systemd {
namespace {

// sd_notify returns > 0 when sent, 0 without NOTIFY_SOCKET, < 0 on error.
// unset_environment = 0: later calls must still find NOTIFY_SOCKET.
bool Send(const std::string& state) { return sd_notify(0, state.c_str()) > 0; }

std::string OneLine(absl::string_view text) {
  std::string line(text);
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

}  // namespace

bool Ready(absl::string_view status) {
  if (status.empty()) return Send("READY=1");
  return Send(absl::StrCat("READY=1\nSTATUS=", OneLine(status)));
}

bool Status(absl::string_view text) {
  return Send(absl::StrCat("STATUS=", OneLine(text)));
}

bool Stopping() { return Send("STOPPING=1"); }

bool ExtendTimeout(int64_t usec) {
  return Send(absl::StrCat("EXTEND_TIMEOUT_USEC=", std::max<int64_t>(usec, 0)));
}

bool Ping() { return Send("WATCHDOG=1"); }

int64_t WatchdogIntervalUsec() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return 0;
  return static_cast<int64_t>(std::max<uint64_t>(usec / 2, 1));
}

Watchdog::Watchdog() : interval_usec_(WatchdogIntervalUsec()) {}

bool Watchdog::MaybePing(int64_t now_ms) {
  if (!enabled() || MillisUntilDue(now_ms, 0) > 0) return false;
  last_ping_ms_ = now_ms;
  Ping();
  return true;
}

int64_t Watchdog::MillisUntilDue(int64_t now_ms, int64_t fallback) const {
  if (!enabled()) return fallback;
  if (last_ping_ms_ < 0) return 0;
  // Round the interval down to whole milliseconds so a ping is never late.
  int64_t due_ms = last_ping_ms_ + std::max<int64_t>(interval_usec_ / 1000, 1);
  return std::max<int64_t>(due_ms - now_ms, 0);
}

}  // namespace ocx::daemon::systemd
