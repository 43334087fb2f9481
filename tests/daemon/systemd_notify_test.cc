#include "server/daemon/systemd_notify.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gtest/gtest.h"

namespace ocx::daemon::systemd {
namespace {

// Sets (or unsets, for nullopt) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Plays systemd: a datagram socket whose path is put in NOTIFY_SOCKET.
class FakeSystemd {
 public:
  FakeSystemd() {
    std::string templ = JoinPath(::testing::TempDir(), "sdnotify.XXXXXX");
    EXPECT_NE(mkdtemp(templ.data()), nullptr);
    path_ = JoinPath(templ, "notify");
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    env_.emplace("NOTIFY_SOCKET", path_);
  }
  ~FakeSystemd() {
    close(fd_);
    unlink(path_.c_str());
  }

  // The next datagram; "" when none is waiting.
  std::string Receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::optional<ScopedEnv> env_;
};

TEST(SystemdNotifyTest, NoOpsOutsideSystemd) {
  ScopedEnv notify("NOTIFY_SOCKET", std::nullopt);
  ScopedEnv usec("WATCHDOG_USEC", std::nullopt);
  EXPECT_FALSE(Ready());
  EXPECT_FALSE(Status("idle"));
  EXPECT_FALSE(Stopping());
  EXPECT_FALSE(ExtendTimeout(1000000));
  EXPECT_FALSE(Ping());
  EXPECT_EQ(WatchdogIntervalUsec(), 0);
}

TEST(SystemdNotifyTest, SendsTheProtocolMessages) {
  FakeSystemd systemd;
  EXPECT_TRUE(Ready());
  EXPECT_EQ(systemd.Receive(), "READY=1");
  EXPECT_TRUE(Ready("serving on unix:///run/ocx/ocxd.sock"));
  EXPECT_EQ(systemd.Receive(),
            "READY=1\nSTATUS=serving on unix:///run/ocx/ocxd.sock");
  EXPECT_TRUE(Status("recovering\n12 attempts"));
  EXPECT_EQ(systemd.Receive(), "STATUS=recovering 12 attempts");
  EXPECT_TRUE(ExtendTimeout(90000000));
  EXPECT_EQ(systemd.Receive(), "EXTEND_TIMEOUT_USEC=90000000");
  EXPECT_TRUE(Ping());
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  EXPECT_TRUE(Stopping());
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
  EXPECT_EQ(systemd.Receive(), "");
}

TEST(SystemdNotifyTest, WatchdogIntervalIsHalfOfWatchdogUsec) {
  {
    ScopedEnv usec("WATCHDOG_USEC", "30000000");
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(getpid()));
    EXPECT_EQ(WatchdogIntervalUsec(), 15000000);
    EXPECT_EQ(Watchdog().interval_usec(), 15000000);
  }
  {
    ScopedEnv usec("WATCHDOG_USEC", "30000000");
    ScopedEnv pid("WATCHDOG_PID", std::nullopt);
    EXPECT_EQ(WatchdogIntervalUsec(), 15000000);
  }
  {
    // Meant for another process (e.g. inherited by a child of ocxd).
    ScopedEnv usec("WATCHDOG_USEC", "30000000");
    ScopedEnv pid("WATCHDOG_PID", absl::StrCat(getpid() + 1));
    EXPECT_EQ(WatchdogIntervalUsec(), 0);
  }
  {
    ScopedEnv usec("WATCHDOG_USEC", std::nullopt);
    EXPECT_EQ(WatchdogIntervalUsec(), 0);
    EXPECT_FALSE(Watchdog().enabled());
  }
}

TEST(WatchdogTest, PingsOncePerInterval) {
  FakeSystemd systemd;
  Watchdog watchdog(/*interval_usec=*/1000000);
  ASSERT_TRUE(watchdog.enabled());
  EXPECT_EQ(watchdog.MillisUntilDue(5000, 77), 0);
  EXPECT_TRUE(watchdog.MaybePing(5000));
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  EXPECT_EQ(watchdog.MillisUntilDue(5000, 77), 1000);
  EXPECT_FALSE(watchdog.MaybePing(5400));
  EXPECT_EQ(systemd.Receive(), "");
  EXPECT_EQ(watchdog.MillisUntilDue(5400, 77), 600);
  EXPECT_TRUE(watchdog.MaybePing(6000));
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  // A late loop turn pings at once and restarts the interval from then.
  EXPECT_TRUE(watchdog.MaybePing(9000));
  EXPECT_EQ(watchdog.MillisUntilDue(9000, 77), 1000);
}

TEST(WatchdogTest, DisabledNeverPings) {
  FakeSystemd systemd;
  Watchdog watchdog(/*interval_usec=*/0);
  EXPECT_FALSE(watchdog.enabled());
  EXPECT_FALSE(watchdog.MaybePing(0));
  EXPECT_EQ(watchdog.MillisUntilDue(0, 77), 77);
  EXPECT_EQ(systemd.Receive(), "");
}

}  // namespace
}  // namespace ocx::daemon::systemd
