#include "common/owned_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace ocx {
namespace {

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

absl::Status LinkRefused(const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(
      path,
      " is a symbolic link or not a directory; ocx does not follow links "
      "inside a work dir it writes for another user"));
}

// Gives a file or directory ocx just made its mode (not the umask's) and
// owner.
absl::Status Settle(int fd, const std::string& path, mode_t mode,
                    const FileOwner& owner) {
  if (fchmod(fd, mode) != 0) {
    return PosixError(absl::StrCat("chmod ", path), errno);
  }
  if (!owner.keep() && fchown(fd, static_cast<uid_t>(owner.uid),
                              static_cast<gid_t>(owner.gid)) != 0) {
    return PosixError(absl::StrCat("chown ", path), errno);
  }
  return absl::OkStatus();
}

// Opens the directory `path` (absolute) component by component without
// following links, creating missing ones when `create`.
absl::StatusOr<int> OpenDir(const std::string& path, bool create,
                            const FileOwner& owner, mode_t mode) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\" is not an absolute path"));
  }
  Fd dir{open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0) return PosixError("open /", errno);
  std::string walked;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    walked = absl::StrCat(walked, "/", part);
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": \".\" and \"..\" are not allowed"));
    }
    const std::string name(part);
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int next = openat(dir.fd, name.c_str(), flags);
    bool made = false;
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(dir.fd, name.c_str(), mode) != 0 && errno != EEXIST) {
        return PosixError(absl::StrCat("mkdir ", walked), errno);
      }
      made = true;
      next = openat(dir.fd, name.c_str(), flags);
    }
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) return LinkRefused(walked);
      return PosixError(absl::StrCat("open ", walked), errno);
    }
    close(dir.fd);
    dir.fd = next;
    if (made) {
      absl::Status settled = Settle(dir.fd, walked, mode, owner);
      if (!settled.ok()) return settled;
    }
  }
  return dir.release();
}

}  // namespace

absl::Status MakeDirsFor(const std::string& path, const FileOwner& owner,
                         mode_t mode) {
  if (owner.keep()) {
    // Links are followed, as MakeDirs does; only the modes are explicit.
    std::vector<std::string> missing;
    for (std::string p = path; p.size() > 1 && !PathExists(p); p = Dirname(p)) {
      missing.push_back(p);
    }
    absl::Status made = MakeDirs(path);
    if (!made.ok()) return made;
    for (const std::string& p : missing) chmod(p.c_str(), mode);
    return absl::OkStatus();
  }
  absl::StatusOr<int> fd = OpenDir(path, /*create=*/true, owner, mode);
  if (!fd.ok()) return fd.status();
  close(*fd);
  return absl::OkStatus();
}

absl::StatusOr<int> OpenFor(const std::string& path, int flags, mode_t mode,
                            const FileOwner& owner) {
  flags |= O_CLOEXEC | O_NOFOLLOW;
  int fd = -1;
  if (owner.keep()) {
    fd = open(path.c_str(), flags, mode);
  } else {
    absl::StatusOr<int> dir =
        OpenDir(Dirname(path), /*create=*/false, owner, kDirMode);
    if (!dir.ok()) return dir.status();
    const std::string name = path.substr(path.rfind('/') + 1);
    fd = openat(*dir, name.c_str(), flags, mode);
    int err = errno;
    close(*dir);
    errno = err;
  }
  if (fd < 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is a symbolic link; ocx does not follow it"));
    }
    return PosixError(absl::StrCat("open ", path), errno);
  }
  struct stat st;
  // A file this call created is empty and ours: give it its mode and owner.
  if ((flags & O_CREAT) != 0 && fstat(fd, &st) == 0 && st.st_size == 0 &&
      st.st_uid == geteuid()) {
    absl::Status settled = Settle(fd, path, mode, owner);
    if (!settled.ok()) {
      close(fd);
      return settled;
    }
  }
  return fd;
}

absl::Status WriteFileAtomicFor(const std::string& path, absl::string_view data,
                                mode_t mode, const FileOwner& owner) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  absl::StatusOr<int> fd =
      OpenFor(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode, owner);
  if (!fd.ok()) return fd.status();
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(*fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(*fd);
      unlink(tmp.c_str());
      return PosixError(absl::StrCat("write ", tmp), err);
    }
    off += static_cast<size_t>(n);
  }
  close(*fd);
  // rename replaces a link at `path` itself; it never writes through one.
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return PosixError(absl::StrCat("rename to ", path), err);
  }
  return absl::OkStatus();
}

}  // namespace ocx
