// A child process of the command-line tool: `flsailer demo` runs its coordinator and clients as
// separate processes, the way they run in a real federation. Output goes to a log file.
//
// Thread safety: none; one owner.
#ifndef FLSAILER_SERVICES_CLI_CHILD_PROCESS_H_
#define FLSAILER_SERVICES_CLI_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flsailer::cli {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with `argv`, its stdout and stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  // A child still running is killed (SIGKILL) and reaped: nothing outlives its owner.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The exit status once the child has ended - its exit code, or 128 + the signal that ended
  // it - without blocking; nullopt while it runs.
  std::optional<int> Poll();
  // Blocks until the child ends; its exit status as Poll gives it.
  int Wait();
  void Signal(int signal_number);

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // The last `max_lines` lines of the log, for error messages.
  std::string LogTail(int max_lines = 10) const;

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string log_path_;
  std::optional<int> status_;
};

// The running executable (/proc/self/exe), for starting more of the same tool.
absl::StatusOr<std::string> SelfExecutable();

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_CHILD_PROCESS_H_
