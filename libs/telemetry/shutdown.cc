#include "libs/telemetry/shutdown.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/telemetry/log.h"

namespace flsailer::telemetry {
namespace {

// State the signal handler reads. Lock-free atomics are async-signal-safe.
std::atomic<bool> g_installed{false};
std::atomic<int> g_write_fd{-1};
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void WakeWaiters(int fd) {
  // The pipe is non-blocking: when it is full, waiters are already woken and the byte is not
  // needed.
  const char byte = 1;
  if (fd >= 0) (void)!write(fd, &byte, 1);
}

extern "C" void HandleShutdownSignal(int signo) {
  const int saved_errno = errno;
  int none = 0;
  if (g_signal.compare_exchange_strong(none, signo)) {
    WakeWaiters(g_write_fd.load());
  } else {
    // A second signal: the shutdown hangs or the operator is impatient. With the default action
    // restored, the re-raised signal (blocked until this handler returns) terminates the process.
    signal(signo, SIG_DFL);
    raise(signo);
  }
  errno = saved_errno;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShutdownSignal>> ShutdownSignal::Install() {
  bool installed = false;
  if (!g_installed.compare_exchange_strong(installed, true)) {
    return absl::FailedPreconditionError("a ShutdownSignal is already installed");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_installed = false;
    return absl::InternalError(absl::StrCat("shutdown signal: pipe2: ", std::strerror(errno)));
  }
  g_signal = 0;
  g_write_fd = fds[1];

  struct sigaction action {};
  action.sa_handler = HandleShutdownSignal;
  // Both signals blocked while either handler runs, so a SIGINT racing a SIGTERM counts as the
  // second signal rather than as a concurrent first one.
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGTERM);
  sigaddset(&action.sa_mask, SIGINT);
  action.sa_flags = SA_RESTART;  // other threads' system calls go on undisturbed
  auto shutdown = std::unique_ptr<ShutdownSignal>(new ShutdownSignal(fds[0], fds[1]));
  // sigaction fails only for an invalid or uncatchable signal number, not for these two.
  sigaction(SIGTERM, &action, &shutdown->old_term_);
  sigaction(SIGINT, &action, &shutdown->old_int_);
  return shutdown;
}

ShutdownSignal::ShutdownSignal(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}

ShutdownSignal::~ShutdownSignal() {
  sigaction(SIGTERM, &old_term_, nullptr);
  sigaction(SIGINT, &old_int_, nullptr);
  g_write_fd = -1;
  close(read_fd_);
  close(write_fd_);
  g_signal = 0;
  g_installed = false;
}

void ShutdownSignal::Wait() const {
  while (!WaitFor(absl::InfiniteDuration())) {
  }
}

bool ShutdownSignal::WaitFor(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
      timeout_ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
                            INT_MAX));
    }
    struct pollfd pfd = {read_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, timeout_ms);
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;  // out of kernel memory: report "not yet"
  }
}

int ShutdownSignal::signal_number() const { return g_signal.load(); }

void ShutdownSignal::Notify() { WakeWaiters(write_fd_); }

void ShutdownSignal::WaitThenShutDown(const std::function<void()>& shut_down) const {
  Wait();
  Log(Level::kInfo, "stopping", {{"signal", signal_number()}});
  shut_down();
  Log(Level::kInfo, "stopped");
}

}  // namespace flsailer::telemetry
