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

// SIGKILLs each process whose parent is `self`; how many it signalled.
int KillChildren(pid_t self) {
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

}  // namespace

void BecomeSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }

void KillOrphans(pid_t self, int max_ms) {
  struct timespec pause = {0, 5 * 1000 * 1000};
  for (int waited = 0; waited <= max_ms; waited += 5) {
    KillChildren(self);
    int status;
    pid_t r;
    while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
    }
    if (r < 0 && errno == ECHILD) return;  // none left
    nanosleep(&pause, nullptr);
  }
}

}  // namespace ocx::shim
