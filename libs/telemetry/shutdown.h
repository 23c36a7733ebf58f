// Graceful shutdown on SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C).
//
// A service installs one ShutdownSignal at startup, runs, and lets a thread block in Wait(); when
// Wait() returns it stops its gRPC server (letting calls in flight finish), writes its last
// checkpoint and exits. Long loops can poll requested() instead. Notify() requests the same
// shutdown from inside the process (an admin call, a test, a fatal error elsewhere).
//
// The handlers only write one byte to a pipe (async-signal-safe); waiting is a poll() on the
// pipe, which is never drained, so every waiter, present or future, sees the request. A second
// signal while the first is pending terminates the process at once with the default action, so
// an operator can always stop a shutdown that hangs.
//
// Signal dispositions are process-wide, so at most one ShutdownSignal exists at a time;
// destroying it restores the handlers that were there before.
//
// Thread safety: all methods are thread-safe; any number of threads may wait at once.
#ifndef FLSAILER_LIBS_TELEMETRY_SHUTDOWN_H_
#define FLSAILER_LIBS_TELEMETRY_SHUTDOWN_H_

#include <signal.h>

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace flsailer::telemetry {

class ShutdownSignal {
 public:
  // Installs the SIGTERM and SIGINT handlers. FailedPrecondition if another ShutdownSignal
  // exists; Internal if the pipe cannot be created (out of file descriptors).
  static absl::StatusOr<std::unique_ptr<ShutdownSignal>> Install();

  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;
  // Restores the previous handlers. No thread may still be waiting.
  ~ShutdownSignal();

  // Blocks until shutdown is requested (a signal or Notify()).
  void Wait() const;
  // Like Wait, but gives up after `timeout`; true if shutdown was requested.
  bool WaitFor(absl::Duration timeout) const;
  // Whether shutdown has been requested; never blocks.
  bool requested() const { return WaitFor(absl::ZeroDuration()); }
  // The signal that requested shutdown (SIGTERM or SIGINT), or 0 if none arrived (not yet, or
  // shutdown came from Notify()).
  int signal_number() const;

  // Requests shutdown without a signal. Idempotent.
  void Notify();

  // The end of a service's main: blocks until shutdown is requested, logs "stopping" (with the
  // signal), runs `shut_down` (stop the server, write the last checkpoint) and logs "stopped".
  void WaitThenShutDown(const std::function<void()>& shut_down) const;

 private:
  ShutdownSignal(int read_fd, int write_fd);

  int read_fd_;   // readable once shutdown is requested; never drained
  int write_fd_;  // non-blocking
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

}  // namespace flsailer::telemetry

#endif  // FLSAILER_LIBS_TELEMETRY_SHUTDOWN_H_
