#include "client/server_address.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/socket_path.h"

namespace ocx::client {
namespace {

constexpr char kAcceptedForms[] =
    "expected unix:///path/to/ocxd.sock, /path/to/ocxd.sock or host:port";

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string CurrentDir() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "/";
  return buf;
}

// Lexically absolute: "." and ".." segments removed, slashes collapsed.
std::string Absolute(absl::string_view path) {
  std::string joined = (!path.empty() && path[0] == '/')
                           ? std::string(path)
                           : absl::StrCat(CurrentDir(), "/", path);
  std::string out;
  size_t i = 0;
  while (i < joined.size()) {
    size_t j = joined.find('/', i);
    if (j == std::string::npos) j = joined.size();
    absl::string_view part(joined.data() + i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      size_t slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
      continue;
    }
    absl::StrAppend(&out, "/", part);
  }
  return out.empty() ? "/" : out;
}

absl::StatusOr<ServerAddress> UnixAddress(absl::string_view original,
                                          absl::string_view path,
                                          ServerAddress::Source source) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server address \"", original, "\" has no socket path; ",
                     kAcceptedForms));
  }
  ServerAddress address;
  address.is_unix = true;
  address.socket_path = Absolute(path);
  address.target = absl::StrCat("unix://", address.socket_path);
  address.source = source;
  constexpr size_t kMaxPath = sizeof(sockaddr_un{}.sun_path) - 1;
  if (address.socket_path.size() > kMaxPath) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket path ", address.socket_path, " is ", address.socket_path.size(),
        " bytes long; unix sockets allow at most ", kMaxPath,
        " (choose a shorter path)"));
  }
  return address;
}

bool IsPort(absl::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  int port = 0;
  return absl::SimpleAtoi(text, &port) && port > 0 && port <= 65535;
}

}  // namespace

std::string UserSocketPath(const char* xdg_runtime_dir, uid_t euid) {
  return DefaultSocketPathFor(xdg_runtime_dir == nullptr ? "" : xdg_runtime_dir,
                              euid);
}

std::string DefaultSocketPath(const std::string& system_socket) {
  std::string user = UserSocketPath(getenv("XDG_RUNTIME_DIR"), geteuid());
  if (!Exists(user) && Exists(system_socket)) return system_socket;
  return user;
}

std::string DefaultSocketPath() { return DefaultSocketPath(kSystemSocketPath); }

absl::StatusOr<ServerAddress> ParseServerAddress(absl::string_view text,
                                                 ServerAddress::Source source) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty server address; ", kAcceptedForms));
  }
  if (absl::StartsWith(trimmed, "unix://")) {
    absl::string_view path = trimmed.substr(7);
    if (!path.empty() && path[0] != '/') {
      // unix://host/path: gRPC has no authority for unix sockets.
      return absl::InvalidArgumentError(absl::StrCat(
          "server address \"", trimmed,
          "\": a unix socket URI needs an absolute path (three slashes: "
          "unix:///path/to/ocxd.sock)"));
    }
    return UnixAddress(trimmed, path, source);
  }
  if (absl::StartsWith(trimmed, "unix:")) {
    return UnixAddress(trimmed, trimmed.substr(5), source);
  }
  if (trimmed[0] == '/') return UnixAddress(trimmed, trimmed, source);
  for (absl::string_view scheme :
       {"dns:", "ipv4:", "ipv6:", "unix-abstract:"}) {
    if (absl::StartsWith(trimmed, scheme) && trimmed.size() > scheme.size()) {
      ServerAddress address;
      address.target = std::string(trimmed);
      address.source = source;
      return address;
    }
  }
  // host:port or [v6]:port.
  size_t colon = trimmed.rfind(':');
  bool ok = colon != absl::string_view::npos && colon > 0 &&
            IsPort(trimmed.substr(colon + 1)) &&
            !absl::StrContains(trimmed, "/");
  if (ok) {
    absl::string_view host = trimmed.substr(0, colon);
    if (host.front() == '[') {
      ok = host.size() > 2 && host.back() == ']';
    } else {
      ok = !absl::StrContains(host, ":");  // bare IPv6 needs brackets.
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server address \"", trimmed, "\" is not valid; ", kAcceptedForms));
  }
  ServerAddress address;
  address.target = std::string(trimmed);
  address.source = source;
  return address;
}

absl::StatusOr<ServerAddress> ResolveServerAddress(
    absl::string_view flag_value, const char* env_value,
    const std::string& default_socket) {
  if (!flag_value.empty()) {
    return ParseServerAddress(flag_value, ServerAddress::Source::kFlag);
  }
  if (env_value != nullptr && env_value[0] != '\0') {
    absl::StatusOr<ServerAddress> address =
        ParseServerAddress(env_value, ServerAddress::Source::kEnv);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kServerEnvVar, ": ", address.status().message()));
    }
    return address;
  }
  return UnixAddress(default_socket, default_socket,
                     ServerAddress::Source::kDefault);
}

absl::StatusOr<ServerAddress> ResolveServerAddress(
    absl::string_view flag_value) {
  return ResolveServerAddress(flag_value, getenv(kServerEnvVar),
                              DefaultSocketPath());
}

std::string SourceName(ServerAddress::Source source) {
  switch (source) {
    case ServerAddress::Source::kFlag:
      return "--server";
    case ServerAddress::Source::kEnv:
      return kServerEnvVar;
    case ServerAddress::Source::kDefault:
      return "default address";
  }
  return "default address";
}

}  // namespace ocx::client
