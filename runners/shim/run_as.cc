#include "runners/shim/run_as.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ocx::shim {

namespace {

// One id of --run-as: digits; advances *s past them.
bool ParseId(const char** s, unsigned* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long v = strtoul(*s, &end, 10);
  if (end == *s || errno != 0 || v > 0xfffffffeUL) return false;
  *out = static_cast<unsigned>(v);
  *s = end;
  return true;
}

}  // namespace

bool ParseRunAs(const char* s, RunAs* r) {
  unsigned uid = 0, gid = 0;
  if (!ParseId(&s, &uid) || *s++ != ':' || !ParseId(&s, &gid)) return false;
  r->uid = uid;
  r->gid = gid;
  r->num_groups = 0;
  if (*s == ':') {
    ++s;
    while (*s != '\0') {
      unsigned g = 0;
      if (r->num_groups >= kMaxGroups || !ParseId(&s, &g)) return false;
      r->groups[r->num_groups++] = g;
      if (*s == ',')
        ++s;
      else if (*s != '\0')
        return false;
    }
  }
  if (*s != '\0') return false;
  if (r->num_groups == 0) r->groups[r->num_groups++] = gid;
  r->set = true;
  return true;
}

int OpenDirs(const char* path, const RunAs* owner) {
  char p[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(p) || path[0] != '/') {
    errno = n >= sizeof(p) ? ENAMETOOLONG : EINVAL;
    return -1;
  }
  memcpy(p, path, n + 1);
  const int nofollow = owner != nullptr ? O_NOFOLLOW : 0;
  const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow;
  int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char* name = p + 1;
  while (dir >= 0 && *name != '\0') {
    char* slash = strchr(name, '/');
    if (slash != nullptr) *slash = '\0';
    if (*name != '\0') {
      int next = openat(dir, name, flags);
      if (next < 0 && errno == ENOENT) {
        if (mkdirat(dir, name, 0750) == 0 || errno == EEXIST) {
          next = openat(dir, name, flags);
        }
        if (next >= 0) {
          fchmod(next, 0750);
          if (owner != nullptr) fchown(next, owner->uid, owner->gid);
        }
      }
      int err = errno;
      close(dir);
      errno = err;
      dir = next;
    }
    if (slash == nullptr) break;
    name = slash + 1;
  }
  return dir;
}

int OpenLog(const char* path, const RunAs* owner) {
  if (owner == nullptr) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                0640);
  }
  const char* slash = strrchr(path, '/');
  if (slash == nullptr || slash == path) {
    errno = EINVAL;
    return -1;
  }
  char dir_path[4096];
  size_t n = static_cast<size_t>(slash - path);
  if (n >= sizeof(dir_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(dir_path, path, n);
  dir_path[n] = '\0';
  int dir = OpenDirs(dir_path, owner);
  if (dir < 0) return -1;
  int fd = openat(
      dir, slash + 1,
      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
  int err = errno;
  close(dir);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
      st.st_size == 0) {
    fchmod(fd, 0640);
    fchown(fd, owner->uid, owner->gid);
  }
  errno = err;
  return fd;
}

bool DropPrivileges(const RunAs& r) {
  if (syscall(SYS_setgroups, r.num_groups, r.groups) != 0) return false;
  if (syscall(SYS_setresgid, r.gid, r.gid, r.gid) != 0) return false;
  if (syscall(SYS_setresuid, r.uid, r.uid, r.uid) != 0) return false;
  if (r.uid != 0 && syscall(SYS_setresuid, 0, 0, 0) == 0) {
    errno = EPERM;  // could become root again: never run like this
    return false;
  }
  return true;
}

}  // namespace ocx::shim
