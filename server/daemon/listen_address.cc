#include "server/daemon/listen_address.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/socket_path.h"
#include "common/status_macros.h"

namespace ocx::daemon {
namespace {

constexpr absl::string_view kSocketName = "ocxd.sock";

absl::Status ListenError(absl::string_view configured,
                         absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("listen: \"", configured, "\": ", problem));
}

absl::StatusOr<ListenAddress> UnixAddress(absl::string_view configured,
                                          absl::string_view path) {
  if (path.empty() || path[0] != '/') {
    return ListenError(configured,
                       "unix socket path must be absolute "
                       "(unix:///abs/path)");
  }
  if (path.back() == '/') {
    return ListenError(configured, "unix socket path names a directory");
  }
  std::string socket_path = AbsolutePath(path, "/");
  if (socket_path.size() > kMaxUnixSocketPathBytes) {
    return ListenError(
        configured,
        absl::StrCat("unix socket path is ", socket_path.size(),
                     " bytes; the kernel allows at most ",
                     kMaxUnixSocketPathBytes, ", choose a shorter path"));
  }
  ListenAddress address;
  address.kind = ListenAddress::Kind::kUnix;
  address.grpc_target = absl::StrCat("unix:", socket_path);
  address.lock_path = absl::StrCat(socket_path, ".lock");
  address.socket_path = std::move(socket_path);
  return address;
}

absl::StatusOr<ListenAddress> TcpAddress(absl::string_view configured) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(configured, "[")) {
    size_t close = configured.find("]:");
    if (close == absl::string_view::npos) {
      return ListenError(configured, "expected [ipv6-address]:port");
    }
    host = configured.substr(1, close - 1);
    port = configured.substr(close + 2);
  } else {
    size_t colon = configured.rfind(':');
    if (colon == absl::string_view::npos) {
      return ListenError(configured, "expected unix:///abs/path or host:port");
    }
    host = configured.substr(0, colon);
    port = configured.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return ListenError(configured,
                         "write IPv6 addresses in brackets: [::1]:port");
    }
  }
  if (host.empty()) {
    return ListenError(configured,
                       "missing host; use 0.0.0.0:port or [::]:port for all "
                       "interfaces");
  }
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '/' ||
        c == '[' || c == ']') {
      return ListenError(configured, "malformed host");
    }
  }
  uint32_t port_number = 0;
  if (port.empty() ||
      !absl::ascii_isdigit(static_cast<unsigned char>(port[0])) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return ListenError(configured, "port must be a number from 0 to 65535");
  }
  ListenAddress address;
  address.kind = ListenAddress::Kind::kTcp;
  address.grpc_target = std::string(configured);
  return address;
}

// Creates `dir` with `mode` when missing; its ancestors with MakeDirs.
// Returns whether this call created it.
absl::StatusOr<bool> EnsureDirectory(const std::string& dir, mode_t mode) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, " exists and is not a directory"));
    }
    return false;
  }
  if (errno != ENOENT) return PosixError(absl::StrCat("stat ", dir), errno);
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    OCX_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));
  }
  if (mkdir(dir.c_str(), mode) != 0) {
    if (errno == EEXIST) return EnsureDirectory(dir, mode);  // Lost a race.
    return PosixError(absl::StrCat("mkdir ", dir), errno);
  }
  return true;
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (kind == Kind::kUnix) return absl::StrCat("unix://", socket_path);
  return grpc_target;
}

std::string ClientAddress(const ListenAddress& address, int bound_port) {
  if (address.kind == ListenAddress::Kind::kUnix) return address.ToString();
  // grpc_target is "host:port" or "[v6]:port": the port follows the last ':'.
  const size_t colon = address.grpc_target.rfind(':');
  return absl::StrCat(address.grpc_target.substr(0, colon), ":", bound_port);
}

std::string AddressFilePath(const std::string& database_path) {
  return absl::StrCat(database_path, ".address");
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view configured) {
  if (configured.empty()) {
    std::string path = DefaultSocketPath();
    return UnixAddress(path, path);
  }
  if (absl::StartsWith(configured, "unix-abstract:")) {
    return ListenError(configured,
                       "abstract sockets are not supported (there is no file "
                       "to lock); use unix:///abs/path");
  }
  if (absl::StartsWith(configured, "unix://")) {
    absl::string_view rest = configured.substr(7);
    if (rest.empty() || rest[0] != '/') {
      return ListenError(configured,
                         "unix socket path must be absolute "
                         "(unix:///abs/path, three slashes)");
    }
    return UnixAddress(configured, rest);
  }
  if (absl::StartsWith(configured, "unix:")) {
    return UnixAddress(configured, configured.substr(5));
  }
  if (configured[0] == '/') return UnixAddress(configured, configured);
  if (absl::StrContains(configured, "://")) {
    return ListenError(configured, "expected unix:///abs/path or host:port");
  }
  return TcpAddress(configured);
}

absl::StatusOr<ListenAddress> ResolveListenAddress(
    const std::string& configured, std::optional<gid_t> socket_group) {
  OCX_ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress(configured));
  if (address.kind != ListenAddress::Kind::kUnix) return address;

  std::string dir =
      address.socket_path.substr(0, address.socket_path.rfind('/'));
  if (dir.empty()) return address;  // A socket in "/".
  absl::StatusOr<bool> created =
      EnsureDirectory(dir, socket_group.has_value() ? 0750 : 0700);
  if (!created.ok()) return Annotate(created.status(), "listen");
  if (*created && socket_group.has_value() &&
      (chown(dir.c_str(), static_cast<uid_t>(-1), *socket_group) != 0 ||
       chmod(dir.c_str(), 0750) != 0)) {
    return Annotate(PosixError(absl::StrCat("chgrp ", dir), errno), "listen");
  }
  if (!*created && configured.empty()) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) {
      return Annotate(PosixError(absl::StrCat("stat ", dir), errno), "listen");
    }
    if (st.st_uid != geteuid()) {
      return absl::FailedPreconditionError(
          absl::StrCat("listen: default socket directory ", dir,
                       " belongs to uid ", st.st_uid, ", not to us (uid ",
                       geteuid(), "); remove it or pass --listen"));
    }
  }
  return address;
}

absl::Status RemoveStaleSocket(const ListenAddress& address) {
  if (address.kind != ListenAddress::Kind::kUnix) return absl::OkStatus();
  const std::string& path = address.socket_path;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Annotate(PosixError(absl::StrCat("stat ", path), errno), "listen");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("listen: ", path,
                     " exists and is not a socket; remove it or choose "
                     "another --listen"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Annotate(
        PosixError(absl::StrCat("remove stale socket ", path), errno),
        "listen");
  }
  return absl::OkStatus();
}

}  // namespace ocx::daemon
