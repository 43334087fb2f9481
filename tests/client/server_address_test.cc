#include "client/server_address.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace ocx::client {
namespace {

using Source = ServerAddress::Source;

TEST(UserSocketPathTest, XdgRuntimeDirWhenAbsolute) {
  EXPECT_EQ(UserSocketPath("/run/user/1000", 1000),
            "/run/user/1000/ocx/ocxd.sock");
  EXPECT_EQ(UserSocketPath("/run/user/1000/", 1000),
            "/run/user/1000/ocx/ocxd.sock");
}

TEST(UserSocketPathTest, TmpWhenXdgIsUnsetEmptyOrRelative) {
  EXPECT_EQ(UserSocketPath(nullptr, 1000), "/tmp/ocx-1000/ocxd.sock");
  EXPECT_EQ(UserSocketPath("", 1000), "/tmp/ocx-1000/ocxd.sock");
  EXPECT_EQ(UserSocketPath("run/user", 1000), "/tmp/ocx-1000/ocxd.sock");
}

TEST(UserSocketPathTest, RootUsesTheSystemSocket) {
  EXPECT_EQ(UserSocketPath(nullptr, 0), "/run/ocx/ocxd.sock");
  EXPECT_EQ(UserSocketPath("/run/user/0", 0), "/run/user/0/ocx/ocxd.sock");
}

// Points XDG_RUNTIME_DIR at a fresh temporary directory for one test.
class DefaultSocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/ocx-addr-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    const char* old = getenv("XDG_RUNTIME_DIR");
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv("XDG_RUNTIME_DIR", (dir_ + "/xdg").c_str(), 1);
    mkdir((dir_ + "/xdg").c_str(), 0700);
    mkdir((dir_ + "/system").c_str(), 0755);
    system_socket_ = dir_ + "/system/ocxd.sock";
    user_socket_ = dir_ + "/xdg/ocx/ocxd.sock";
  }
  void TearDown() override {
    if (had_old_) {
      setenv("XDG_RUNTIME_DIR", old_.c_str(), 1);
    } else {
      unsetenv("XDG_RUNTIME_DIR");
    }
    unlink(user_socket_.c_str());
    unlink(system_socket_.c_str());
    rmdir((dir_ + "/xdg/ocx").c_str());
    rmdir((dir_ + "/xdg").c_str());
    rmdir((dir_ + "/system").c_str());
    rmdir(dir_.c_str());
  }
  static void Touch(const std::string& path) {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    fclose(f);
  }

  std::string dir_;
  std::string system_socket_;
  std::string user_socket_;
  bool had_old_ = false;
  std::string old_;
};

TEST_F(DefaultSocketPathTest, UserSocketWhenNothingExists) {
  EXPECT_EQ(DefaultSocketPath(system_socket_), user_socket_);
}

TEST_F(DefaultSocketPathTest, SystemSocketWhenOnlyItExists) {
  Touch(system_socket_);
  EXPECT_EQ(DefaultSocketPath(system_socket_), system_socket_);
}

TEST_F(DefaultSocketPathTest, UserSocketWinsWhenBothExist) {
  Touch(system_socket_);
  mkdir((dir_ + "/xdg/ocx").c_str(), 0700);
  Touch(user_socket_);
  EXPECT_EQ(DefaultSocketPath(system_socket_), user_socket_);
}

TEST_F(DefaultSocketPathTest, ResolveFallsBackToTheDefault) {
  absl::StatusOr<ServerAddress> address =
      ResolveServerAddress("", nullptr, DefaultSocketPath(system_socket_));
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(address->is_unix);
  EXPECT_EQ(address->socket_path, user_socket_);
  EXPECT_EQ(address->target, "unix://" + user_socket_);
  EXPECT_EQ(address->source, Source::kDefault);
}

TEST(ParseServerAddressTest, UnixForms) {
  for (const char* text :
       {"unix:///run/ocx/ocxd.sock", "unix:/run/ocx/ocxd.sock",
        "/run/ocx/ocxd.sock", "unix:///run//ocx/./ocxd.sock"}) {
    absl::StatusOr<ServerAddress> address = ParseServerAddress(text);
    ASSERT_TRUE(address.ok()) << text << ": " << address.status();
    EXPECT_TRUE(address->is_unix) << text;
    EXPECT_EQ(address->socket_path, "/run/ocx/ocxd.sock") << text;
    EXPECT_EQ(address->target, "unix:///run/ocx/ocxd.sock") << text;
  }
}

TEST(ParseServerAddressTest, RelativeUnixPathIsMadeAbsolute) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  absl::StatusOr<ServerAddress> address = ParseServerAddress("unix:ocxd.sock");
  ASSERT_TRUE(address.ok()) << address.status();
  std::string expected = std::string(cwd) + "/ocxd.sock";
  if (std::string(cwd) == "/") expected = "/ocxd.sock";
  EXPECT_EQ(address->socket_path, expected);
}

TEST(ParseServerAddressTest, TcpForms) {
  for (const char* text : {"localhost:50051", "10.0.0.7:1", "[::1]:50051",
                           "dns:///ocx.example.com:443", "ipv4:127.0.0.1:9"}) {
    absl::StatusOr<ServerAddress> address = ParseServerAddress(text);
    ASSERT_TRUE(address.ok()) << text << ": " << address.status();
    EXPECT_FALSE(address->is_unix) << text;
    EXPECT_EQ(address->target, text);
    EXPECT_EQ(address->socket_path, "");
  }
}

TEST(ParseServerAddressTest, RejectsMalformedAddresses) {
  for (const char* text :
       {"", "   ", "localhost", "host:", "host:0", "host:70000", "host:80a",
        ":50051", "::1:50051", "[::1]", "unix://host/x.sock",
        "unix:", "http://host:80", "dns:"}) {
    absl::StatusOr<ServerAddress> address = ParseServerAddress(text);
    EXPECT_FALSE(address.ok()) << "accepted \"" << text << "\"";
    if (!address.ok()) {
      EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ParseServerAddressTest, ErrorNamesTheAcceptedForms) {
  absl::StatusOr<ServerAddress> address = ParseServerAddress("localhost");
  ASSERT_FALSE(address.ok());
  EXPECT_NE(address.status().message().find("\"localhost\""),
            std::string::npos);
  EXPECT_NE(address.status().message().find("host:port"), std::string::npos);
}

TEST(ParseServerAddressTest, RejectsSocketPathsTooLongForSunPath) {
  std::string path = "/tmp/" + std::string(103, 'a');  // 108 bytes.
  absl::StatusOr<ServerAddress> address = ParseServerAddress(path);
  ASSERT_FALSE(address.ok());
  EXPECT_NE(address.status().message().find("at most 107"), std::string::npos);
  path.pop_back();  // 107 bytes: fits.
  EXPECT_TRUE(ParseServerAddress(path).ok());
}

TEST(ResolveServerAddressTest, FlagBeatsEnvBeatsDefault) {
  absl::StatusOr<ServerAddress> flag =
      ResolveServerAddress("host:1", "/env.sock", "/default.sock");
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->target, "host:1");
  EXPECT_EQ(flag->source, Source::kFlag);

  absl::StatusOr<ServerAddress> env =
      ResolveServerAddress("", "/env.sock", "/default.sock");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->target, "unix:///env.sock");
  EXPECT_EQ(env->source, Source::kEnv);

  absl::StatusOr<ServerAddress> fallback =
      ResolveServerAddress("", "", "/default.sock");
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback->target, "unix:///default.sock");
  EXPECT_EQ(fallback->source, Source::kDefault);
}

TEST(ResolveServerAddressTest, BadEnvValueNamesTheVariable) {
  absl::StatusOr<ServerAddress> address =
      ResolveServerAddress("", "nonsense", "/default.sock");
  ASSERT_FALSE(address.ok());
  EXPECT_EQ(address.status().message().rfind("OCX_SERVER: ", 0), 0u)
      << address.status();
}

TEST(ResolveServerAddressTest, ReadsOcxServerFromTheEnvironment) {
  setenv("OCX_SERVER", "127.0.0.1:7070", 1);
  absl::StatusOr<ServerAddress> from_env = ResolveServerAddress("");
  absl::StatusOr<ServerAddress> from_flag =
      ResolveServerAddress("unix:/tmp/flag.sock");
  unsetenv("OCX_SERVER");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->target, "127.0.0.1:7070");
  EXPECT_EQ(from_env->source, Source::kEnv);
  ASSERT_TRUE(from_flag.ok()) << from_flag.status();
  EXPECT_EQ(from_flag->target, "unix:///tmp/flag.sock");
  EXPECT_EQ(from_flag->source, Source::kFlag);
}

TEST(SourceNameTest, NamesFlagEnvAndDefault) {
  EXPECT_EQ(SourceName(Source::kFlag), "--server");
  EXPECT_EQ(SourceName(Source::kEnv), "OCX_SERVER");
  EXPECT_EQ(SourceName(Source::kDefault), "default address");
}

}  // namespace
}  // namespace ocx::client
