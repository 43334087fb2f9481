#include "common/waker.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

namespace ocx {

Waker::Waker() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) abort();  // Only fails without file descriptors left.
}

Waker::~Waker() { close(fd_); }

void Waker::Notify() {
  uint64_t one = 1;
  ssize_t n = write(fd_, &one, sizeof(one));
  (void)n;  // EAGAIN means the counter is already non-zero: still woken.
}

bool Waker::Wait(int64_t timeout_ms) {
  struct pollfd pfd = {fd_, POLLIN, 0};
  int timeout = timeout_ms < 0         ? -1
                : timeout_ms > 3600000 ? 3600000
                                       : static_cast<int>(timeout_ms);
  poll(&pfd, 1, timeout);
  // Read even when poll() failed: a signal handler that notifies (SIGCHLD)
  // interrupts poll with EINTR after writing, and an unread counter would
  // make the next Wait() return at once for nothing.
  uint64_t value;
  return read(fd_, &value, sizeof(value)) == sizeof(value);
}

}  // namespace ocx
