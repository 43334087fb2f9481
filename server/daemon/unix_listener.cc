#include "server/daemon/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx::daemon {
namespace {

absl::Status ListenError(const std::string& path, const char* what, int err) {
  return PosixError(absl::StrCat("listen: ", what, " ", path), err);
}

// bind() under a umask that leaves the socket 0600, then the final group
// and mode, then listen(): a connect() before listen() is refused.
absl::Status BindAndListen(int fd, const std::string& path,
                           std::optional<gid_t> group) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: socket path ", path, " is too long"));
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  mode_t old_umask = umask(0177);
  int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  umask(old_umask);
  if (rc != 0) return ListenError(path, "bind", err);
  if (group.has_value()) {
    if (chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
      return ListenError(path, "chgrp (access.socket_group)", errno);
    }
    if (chmod(path.c_str(), 0660) != 0) {
      return ListenError(path, "chmod", errno);
    }
  }
  if (listen(fd, 128) != 0) return ListenError(path, "listen on", errno);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<gid_t> LookUpGroup(const std::string& name) {
  struct group gr;
  struct group* found = nullptr;
  std::vector<char> buf(65536);
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 ||
      found == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("access.socket_group: no group is named \"", name,
                     "\" (create it with groupadd, or change the setting)"));
  }
  return gr.gr_gid;
}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Listen(
    const std::string& path, std::optional<gid_t> group) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return ListenError(path, "socket for", errno);
  absl::Status bound = BindAndListen(fd, path, group);
  if (!bound.ok()) {
    close(fd);
    return bound;
  }
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return ListenError(path, "eventfd for", err);
  }
  return std::unique_ptr<UnixListener>(new UnixListener(path, fd, stop_fd));
}

UnixListener::UnixListener(std::string path, int listen_fd, int stop_fd)
    : path_(std::move(path)), listen_fd_(listen_fd), stop_fd_(stop_fd) {}

UnixListener::~UnixListener() { Stop(); }

void UnixListener::Start(OnConnection on_connection) {
  thread_ = std::thread([this, on_connection = std::move(on_connection)] {
    AcceptLoop(on_connection);
  });
}

void UnixListener::Stop() {
  if (listen_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = write(stop_fd_, &one, sizeof(one));
  (void)n;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
  unlink(path_.c_str());
}

void UnixListener::AcceptLoop(const OnConnection& on_connection) {
  struct pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "ocxd: poll on %s: %s\n", path_.c_str(), strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // EMFILE and friends: back off a little instead of spinning.
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        poll(nullptr, 0, 100);
      }
      continue;
    }
    struct ucred peer = {};
    socklen_t len = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
      close(fd);
      continue;
    }
    on_connection(fd, peer);
  }
}

}  // namespace ocx::daemon
