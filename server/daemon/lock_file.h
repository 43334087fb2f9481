// A single-instance lock: an flock(2)ed file holding the owner's pid.
//
// ocxd takes one on its database (<database>.lock) and one on its unix socket
// (<socket>.lock), so a second daemon on the same database or the same socket
// refuses to start instead of silently taking the socket over (gRPC unlinks
// an existing socket file before binding). It also flocks the database file
// itself (LockInode): a path-named lock file does not see a second daemon
// that reaches the same database through a symbolic or hard link, the
// file's inode does.
//
// The descriptor is opened with O_CLOEXEC: task processes (ocx-shim and what
// it runs) outlive the daemon and must never inherit the lock, or a restarted
// ocxd would find its own lock held by an orphaned task.
//
// Thread-compatible. The lock is held for the object's lifetime.
#ifndef OCX_SERVER_DAEMON_LOCK_FILE_H_
#define OCX_SERVER_DAEMON_LOCK_FILE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace ocx::daemon {

class LockFile {
 public:
  // LockFile::Acquire()
  //
  // Creates `path` (mode 0644) if needed, takes an exclusive non-blocking
  // flock on it and writes our pid into it. The parent directory must exist.
  //
  // Errors: FAILED_PRECONDITION when another open file description holds the
  // lock — another process, or another Acquire of the same path in this
  // process — with a message naming the pid found in the file; the errno
  // mapping of ocx::PosixError (NOT_FOUND, PERMISSION_DENIED, ...) when the
  // file cannot be opened or written.
  //
  // Example:
  //   OCX_ASSIGN_OR_RETURN(std::unique_ptr<LockFile> lock,
  //                        LockFile::Acquire(database + ".lock"));
  static absl::StatusOr<std::unique_ptr<LockFile>> Acquire(
      const std::string& path);

  // LockFile::LockInode()
  //
  // An exclusive non-blocking flock on `path` itself (created empty, mode
  // 0600, if missing), which is never written: for a file another library
  // owns, like the SQLite database. flock and SQLite's fcntl locks do not
  // interact on Linux; but closing any descriptor of the file drops the
  // process's fcntl locks, so the LockFile must outlive the database
  // connections (declare it first). Errors as Acquire, the message saying
  // that another process uses the file, possibly through another path.
  static absl::StatusOr<std::unique_ptr<LockFile>> LockInode(
      const std::string& path);

  // Empties the file (so a stale pid is never reported) and releases the
  // lock. The file itself is left in place: unlinking a lock file races with
  // a concurrent Acquire that has it open.
  ~LockFile();

  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  const std::string& path() const { return path_; }

  // The locked descriptor (close-on-exec). For tests.
  int fd_for_testing() const { return fd_; }

 private:
  LockFile(std::string path, int fd, bool owns_content)
      : path_(std::move(path)), fd_(fd), owns_content_(owns_content) {}

  const std::string path_;
  const int fd_;
  // Whether the file is ours to write (a lock file, not LockInode's target).
  const bool owns_content_;
};

}  // namespace ocx::daemon

#endif  // OCX_SERVER_DAEMON_LOCK_FILE_H_
