#include "server/daemon/listen_address.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string MakeTempDir() {
  std::string templ = JoinPath(::testing::TempDir(), "listen_test.XXXXXX");
  EXPECT_NE(mkdtemp(templ.data()), nullptr);
  return templ;
}

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

// The rule shared with the client's DefaultSocketPath()
// (client/server_address.h). Changing it strands existing clients.
TEST(DefaultSocketPathTest, PinsTheSharedRule) {
  EXPECT_EQ(DefaultSocketPathFor("/run/user/1000", 1000),
            "/run/user/1000/ocx/ocxd.sock");
  EXPECT_EQ(DefaultSocketPathFor("/run/user/1000/", 1000),
            "/run/user/1000/ocx/ocxd.sock");
  EXPECT_EQ(DefaultSocketPathFor("/run/user/0", 0),
            "/run/user/0/ocx/ocxd.sock");
  EXPECT_EQ(DefaultSocketPathFor("", 1000), "/tmp/ocx-1000/ocxd.sock");
  EXPECT_EQ(DefaultSocketPathFor("", 0), "/run/ocx/ocxd.sock");
  // A relative XDG_RUNTIME_DIR is invalid per the XDG spec: ignored.
  EXPECT_EQ(DefaultSocketPathFor("run/user", 1000), "/tmp/ocx-1000/ocxd.sock");
}

TEST(DefaultSocketPathTest, ReadsTheEnvironment) {
  {
    ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/4242");
    EXPECT_EQ(DefaultSocketPath(), "/run/user/4242/ocx/ocxd.sock");
  }
  {
    ScopedEnv xdg("XDG_RUNTIME_DIR", std::nullopt);
    EXPECT_EQ(DefaultSocketPath(),
              geteuid() == 0
                  ? std::string("/run/ocx/ocxd.sock")
                  : absl::StrCat("/tmp/ocx-", geteuid(), "/ocxd.sock"));
  }
}

TEST(ClientAddressTest, TcpGetsTheBoundPortUnixStaysAsIs) {
  auto v4 = ParseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(ClientAddress(*v4, 41234), "127.0.0.1:41234");
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(ClientAddress(*v6, 80), "[::1]:80");
  auto unix_socket = ParseListenAddress("unix:///tmp/x/ocxd.sock");
  ASSERT_TRUE(unix_socket.ok()) << unix_socket.status();
  EXPECT_EQ(ClientAddress(*unix_socket, 0), "unix:///tmp/x/ocxd.sock");
  EXPECT_EQ(AddressFilePath("/var/lib/ocx/ocx.db"),
            "/var/lib/ocx/ocx.db.address");
}

TEST(ParseListenAddressTest, EmptyMeansDefaultUnixSocket) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/77");
  absl::StatusOr<ListenAddress> address = ParseListenAddress("");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->kind, ListenAddress::Kind::kUnix);
  EXPECT_EQ(address->socket_path, "/run/user/77/ocx/ocxd.sock");
  EXPECT_EQ(address->grpc_target, "unix:/run/user/77/ocx/ocxd.sock");
  EXPECT_EQ(address->lock_path, "/run/user/77/ocx/ocxd.sock.lock");
}

TEST(ParseListenAddressTest, UnixForms) {
  for (const char* configured :
       {"unix:///run/ocx/ocxd.sock", "unix:/run/ocx/ocxd.sock",
        "/run/ocx/ocxd.sock", "unix:///run//ocx/./ocxd.sock"}) {
    SCOPED_TRACE(configured);
    absl::StatusOr<ListenAddress> address = ParseListenAddress(configured);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_EQ(address->kind, ListenAddress::Kind::kUnix);
    EXPECT_EQ(address->socket_path, "/run/ocx/ocxd.sock");
    EXPECT_EQ(address->grpc_target, "unix:/run/ocx/ocxd.sock");
    EXPECT_EQ(address->lock_path, "/run/ocx/ocxd.sock.lock");
    EXPECT_EQ(address->ToString(), "unix:///run/ocx/ocxd.sock");
  }
}

TEST(ParseListenAddressTest, TcpForms) {
  for (const char* configured : {"localhost:50051", "0.0.0.0:0", "[::1]:8080",
                                 "[::]:65535", "eval-head.example.com:7000"}) {
    SCOPED_TRACE(configured);
    absl::StatusOr<ListenAddress> address = ParseListenAddress(configured);
    ASSERT_TRUE(address.ok()) << address.status();
    EXPECT_EQ(address->kind, ListenAddress::Kind::kTcp);
    EXPECT_EQ(address->grpc_target, configured);
    EXPECT_EQ(address->ToString(), configured);
    EXPECT_EQ(address->socket_path, "");
    EXPECT_EQ(address->lock_path, "");
  }
}

TEST(ParseListenAddressTest, RejectsMalformedAddresses) {
  for (const char* configured :
       {"unix://run/ocx.sock", "unix:relative.sock", "unix:", "unix:///run/",
        "unix-abstract:ocxd", "localhost", "localhost:", ":50051",
        "localhost:65536", "localhost:+1", "localhost:http", "::1:50051",
        "[::1]50051", "http://localhost:80", "relative/ocxd.sock"}) {
    SCOPED_TRACE(configured);
    absl::StatusOr<ListenAddress> address = ParseListenAddress(configured);
    ASSERT_FALSE(address.ok());
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(address.status().message()),
                StartsWith(absl::StrCat("listen: \"", configured, "\"")));
  }
}

TEST(ParseListenAddressTest, SocketPathLengthLimit) {
  // "/" + 106 characters = 107 bytes: the longest sun_path allows.
  std::string longest = "/" + std::string(106, 'a');
  absl::StatusOr<ListenAddress> ok = ParseListenAddress("unix://" + longest);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->socket_path.size(), kMaxUnixSocketPathBytes);

  std::string too_long = longest + "b";
  absl::StatusOr<ListenAddress> bad = ParseListenAddress("unix://" + too_long);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("listen: "));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("108 bytes"));
}

TEST(ParseListenAddressTest, LongDefaultPathIsRejectedToo) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/" + std::string(100, 'x'));
  absl::StatusOr<ListenAddress> address = ParseListenAddress("");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(address.status().message()), StartsWith("listen: "));
}

TEST(ResolveListenAddressTest, CreatesSocketDirectoryPrivate) {
  std::string root = MakeTempDir();
  std::string dir = JoinPath(root, "a/ocx");
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress(absl::StrCat("unix://", dir, "/ocxd.sock"));
  ASSERT_TRUE(address.ok()) << address.status();
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700);
  // Ancestors get the usual 0755 (less the umask): only the last is private.
  ASSERT_EQ(stat(JoinPath(root, "a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0700, 0700);
  EXPECT_FALSE(PathExists(address->socket_path));
}

TEST(ResolveListenAddressTest, LeavesExistingDirectoryAlone) {
  std::string dir = MakeTempDir();
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress(JoinPath(dir, "ocxd.sock"));
  ASSERT_TRUE(address.ok()) << address.status();
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755);
}

TEST(ResolveListenAddressTest, DefaultPathUnderXdgRuntimeDir) {
  std::string xdg = MakeTempDir();
  ScopedEnv env("XDG_RUNTIME_DIR", xdg);
  absl::StatusOr<ListenAddress> address = ResolveListenAddress("");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->socket_path, JoinPath(xdg, "ocx/ocxd.sock"));
  EXPECT_TRUE(PathExists(JoinPath(xdg, "ocx")));
}

TEST(ResolveListenAddressTest, RefusesDefaultDirectoryOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  std::string xdg = MakeTempDir();
  std::string dir = JoinPath(xdg, "ocx");
  ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(chown(dir.c_str(), 65534, 65534), 0);
  ScopedEnv env("XDG_RUNTIME_DIR", xdg);
  absl::StatusOr<ListenAddress> address = ResolveListenAddress("");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(address.status().message()),
              HasSubstr("belongs to uid 65534"));
}

TEST(ResolveListenAddressTest, ParentIsAFile) {
  std::string dir = MakeTempDir();
  std::string file = JoinPath(dir, "file");
  ASSERT_TRUE(WriteFileAtomic(file, "x").ok());
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress(JoinPath(file, "ocxd.sock"));
  EXPECT_EQ(address.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(address.status().message()), StartsWith("listen: "));
}

TEST(ResolveListenAddressTest, TcpTouchesNothing) {
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress("127.0.0.1:50051");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->kind, ListenAddress::Kind::kTcp);
  EXPECT_TRUE(RemoveStaleSocket(*address).ok());
}

// Binds a unix socket at `path` and closes it: the file a crashed daemon
// leaves behind.
void LeaveStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

TEST(RemoveStaleSocketTest, RemovesASocketFile) {
  std::string dir = MakeTempDir();
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress(JoinPath(dir, "ocxd.sock"));
  ASSERT_TRUE(address.ok()) << address.status();
  LeaveStaleSocket(address->socket_path);
  ASSERT_TRUE(PathExists(address->socket_path));
  EXPECT_TRUE(RemoveStaleSocket(*address).ok());
  EXPECT_FALSE(PathExists(address->socket_path));
  // Nothing there: still fine.
  EXPECT_TRUE(RemoveStaleSocket(*address).ok());
}

TEST(RemoveStaleSocketTest, LeavesOtherFilesAlone) {
  std::string dir = MakeTempDir();
  absl::StatusOr<ListenAddress> address =
      ResolveListenAddress(JoinPath(dir, "ocxd.sock"));
  ASSERT_TRUE(address.ok()) << address.status();
  ASSERT_TRUE(WriteFileAtomic(address->socket_path, "precious").ok());
  absl::Status status = RemoveStaleSocket(*address);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("is not a socket"));
  EXPECT_EQ(*ReadFile(address->socket_path), "precious");
}

}  // namespace
}  // namespace ocx::daemon
