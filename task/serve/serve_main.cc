#include "task/serve/serve_main.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ocx/v1/spec.pb.h"
#include "serving/endpoint_file.h"
#include "serving/serve_config.h"

namespace ocx::task {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitNoPort = 75;  // EX_TEMPFAIL: another start may find one
constexpr int kExitCannotRun = 127;

struct ServeFlags {
  std::string endpoint_file;
  std::string host;
  int port_first = 0;
  int port_last = 0;
  std::optional<int> port_start;
  std::string model_path;
  int num_gpus = 0;
  std::vector<std::string> command;
};

int Usage(const std::string& problem) {
  if (!problem.empty()) {
    std::fprintf(stderr, "ocx-task serve: %s\n", problem.c_str());
  }
  std::fprintf(stderr,
               "usage: ocx-task serve --endpoint-file F --ports A-B "
               "[--port-start S] [--host H]\n"
               "           [--model-path P] [--num-gpus N] -- command...\n"
               "  Picks a free port, fills {model_path} {port} {host} "
               "{num_gpus} {gpus},\n"
               "  writes F ({\"host\", \"port\", \"pid\"}) and execs the "
               "command.\n");
  return kExitUsage;
}

// Fills *flags from args; an empty string when they are complete, else the
// problem.
std::string ParseFlags(int nargs, char** args, ServeFlags* flags) {
  int i = 0;
  for (; i < nargs; ++i) {
    const std::string flag = args[i];
    if (flag == "--") break;
    if (i + 1 >= nargs) return absl::StrCat(flag, " needs a value");
    const std::string value = args[++i];
    if (flag == "--endpoint-file") {
      flags->endpoint_file = value;
    } else if (flag == "--host") {
      flags->host = value;
    } else if (flag == "--ports") {
      auto range = serving::ParsePortRange(value);
      if (!range.ok()) return std::string(range.status().message());
      flags->port_first = range->first;
      flags->port_last = range->second;
    } else if (flag == "--port-start") {
      int port = 0;
      if (!absl::SimpleAtoi(value, &port)) {
        return absl::StrCat("--port-start: not a port: \"", value, "\"");
      }
      flags->port_start = port;
    } else if (flag == "--model-path") {
      flags->model_path = value;
    } else if (flag == "--num-gpus") {
      if (!absl::SimpleAtoi(value, &flags->num_gpus) || flags->num_gpus < 0) {
        return absl::StrCat("--num-gpus: not a count: \"", value, "\"");
      }
    } else {
      return absl::StrCat("unknown flag ", flag);
    }
  }
  for (++i; i < nargs; ++i) flags->command.push_back(args[i]);
  if (flags->endpoint_file.empty()) return "--endpoint-file is required";
  if (flags->port_first == 0) return "--ports is required";
  if (flags->command.empty()) return "no command after --";
  if (flags->port_start.has_value() &&
      (*flags->port_start < flags->port_first ||
       *flags->port_start > flags->port_last)) {
    return absl::StrCat("--port-start ", *flags->port_start, " is not in ",
                        flags->port_first, "-", flags->port_last);
  }
  return "";
}

// True when a TCP socket can bind `port` on `address` now. The socket is
// closed again: the server binds it a moment later (a race another
// process could win; the start then fails and is retried).
bool CanBind(in_addr_t address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // Ports in TIME_WAIT are free for the server, which sets it too.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = address;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// The first bindable port from `start` up to `last`, then from `first`.
std::optional<int> PickPort(const std::string& host, int first, int last,
                            int start) {
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) {
    address.s_addr = htonl(INADDR_ANY);
  }
  const int count = last - first + 1;
  for (int k = 0; k < count; ++k) {
    const int port = first + (start - first + k) % count;
    if (CanBind(address.s_addr, port)) return port;
  }
  return std::nullopt;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace

int RunServe(int nargs, char** args) {
  ServeFlags flags;
  const std::string problem = ParseFlags(nargs, args, &flags);
  if (!problem.empty()) return Usage(problem);
  if (flags.host.empty()) flags.host = HostName();

  const int start = flags.port_start.value_or(flags.port_first);
  std::optional<int> port =
      PickPort(flags.host, flags.port_first, flags.port_last, start);
  if (!port.has_value()) {
    std::fprintf(stderr,
                 "ocx-task serve: no free port in %d-%d on %s (widen "
                 "serving.port_range or stop what holds them)\n",
                 flags.port_first, flags.port_last, flags.host.c_str());
    return kExitNoPort;
  }

  serving::ServeValues values;
  values.model_path = flags.model_path;
  values.host = flags.host;
  values.port = *port;
  values.num_gpus = flags.num_gpus;
  const char* gpus = std::getenv("CUDA_VISIBLE_DEVICES");
  values.gpus = gpus == nullptr ? "" : gpus;
  ocx::v1::ServeConfig serve;
  for (const std::string& arg : flags.command) serve.add_command(arg);
  absl::StatusOr<std::vector<std::string>> argv =
      serving::ExpandServeCommand(serve, values);
  if (!argv.ok()) return Usage(std::string(argv.status().message()));

  absl::Status written = serving::WriteEndpointFile(
      flags.endpoint_file, {flags.host, *port, static_cast<int64_t>(getpid())});
  if (!written.ok()) {
    std::fprintf(stderr, "ocx-task serve: %s\n", written.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "ocx-task serve: %s on %s:%d\n",
               absl::StrJoin(*argv, " ").c_str(), flags.host.c_str(), *port);
  std::fflush(stderr);

  std::vector<char*> exec_argv;
  for (std::string& arg : *argv) exec_argv.push_back(arg.data());
  exec_argv.push_back(nullptr);
  ::execvp(exec_argv[0], exec_argv.data());
  std::fprintf(stderr, "ocx-task serve: cannot run \"%s\": %s\n", exec_argv[0],
               std::strerror(errno));
  return kExitCannotRun;
}

}  // namespace ocx::task
