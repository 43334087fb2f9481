#include "runners/shim/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace ocx::shim {
namespace {

// The parent pid in /proc/<pid>/stat (field 4, after the command name in
// parentheses, which may itself hold spaces or parentheses); -1 if gone.
pid_t ParentOf(const char* pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%s/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* close_paren = strrchr(buf, ')');
  if (close_paren == nullptr) return -1;
  // ") S 1234 ..."
  char state;
  int ppid;
  if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

// SIGKILLs each process whose parent is `self`, found by scanning /proc;
// how many it signalled.
int KillChildrenByScan(pid_t self) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  int killed = 0;
  while (struct dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    if (ParentOf(e->d_name) != self) continue;
    pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (kill(pid, SIGKILL) == 0) ++killed;
  }
  closedir(proc);
  return killed;
}

// SIGKILLs the children listed in /proc/self/task/<self>/children (the
// shim is single-threaded: orphans are reparented to this thread); how
// many it signalled, or -1 when the kernel has no such file
// (CONFIG_PROC_CHILDREN). One read instead of one per process on the host.
// A list longer than the buffer is cut: the next round gets the rest.
int KillListedChildren(pid_t self) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/children",
           static_cast<int>(self));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
    if (len == sizeof(buf) - 1) break;
  }
  close(fd);
  buf[len] = '\0';
  // "pid pid pid ": only numbers followed by a space are whole.
  int killed = 0;
  char* p = buf;
  for (;;) {
    char* next = nullptr;
    long pid = strtol(p, &next, 10);
    if (next == p || *next != ' ') break;
    if (pid > 0 && kill(static_cast<pid_t>(pid), SIGKILL) == 0) ++killed;
    p = next;
  }
  return killed;
}

// Reaps every child that has ended; false when none is left (ECHILD).
bool ReapEnded() {
  int status;
  pid_t r;
  while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
  }
  return !(r < 0 && errno == ECHILD);
}

}  // namespace

void BecomeSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }

// Reaping comes first: with no child left, no descendant is left either
// (the kernel reparents an exiting process's children to the subreaper
// before its parent can reap it, so a live descendant always has a live or
// unreaped ancestor among the shim's children). The usual task leaves
// nothing, and then this costs one waitpid. A round that finds children it
// cannot see in the children file (the kernel warns the list may miss
// processes forking or exiting meanwhile) scans /proc instead.
void KillOrphans(pid_t self, int max_ms) {
  struct timespec pause = {0, 5 * 1000 * 1000};
  for (int waited = 0; waited <= max_ms; waited += 5) {
    if (!ReapEnded()) return;  // none left
    if (KillListedChildren(self) <= 0) KillChildrenByScan(self);
    if (!ReapEnded()) return;
    nanosleep(&pause, nullptr);
  }
}

}  // namespace ocx::shim
