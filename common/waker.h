// Wakes a thread that sleeps in Wait(): an eventfd. Notify() is
// async-signal-safe, so a SIGCHLD handler may call it.
// Thread-safe.
#ifndef OCX_COMMON_WAKER_H_
#define OCX_COMMON_WAKER_H_

#include <cstdint>

namespace ocx {

class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Makes the current or next Wait() return at once.
  void Notify();

  // Sleeps until Notify() or `timeout_ms` passed; clears pending notifies.
  // Returns true when notified.
  bool Wait(int64_t timeout_ms);

 private:
  int fd_;
};

}  // namespace ocx

#endif  // OCX_COMMON_WAKER_H_
