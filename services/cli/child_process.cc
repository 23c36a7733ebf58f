#include "services/cli/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/common/file_io.h"

extern char** environ;

namespace flsailer::cli {
namespace {

int ExitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::InternalError(absl::StrCat(log_path, ": cannot open: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, log, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(log);
  if (error != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", argv[0], ": ", std::strerror(error)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

ChildProcess::~ChildProcess() {
  if (!Poll().has_value()) {
    kill(pid_, SIGKILL);
    Wait();
  }
}

std::optional<int> ChildProcess::Poll() {
  if (status_.has_value()) return status_;
  int wait_status = 0;
  const pid_t done = waitpid(pid_, &wait_status, WNOHANG);
  if (done == pid_) status_ = ExitStatus(wait_status);
  if (done < 0 && errno == ECHILD) status_ = 255;  // reaped elsewhere: nothing left to wait for
  return status_;
}

int ChildProcess::Wait() {
  while (!status_.has_value()) {
    int wait_status = 0;
    const pid_t done = waitpid(pid_, &wait_status, 0);
    if (done == pid_) status_ = ExitStatus(wait_status);
    if (done < 0 && errno != EINTR) status_ = 255;
  }
  return *status_;
}

void ChildProcess::Signal(int signal_number) {
  if (!Poll().has_value()) kill(pid_, signal_number);
}

std::string ChildProcess::LogTail(int max_lines) const {
  absl::StatusOr<std::string> log = ReadBinaryFile(log_path_);
  if (!log.ok()) return std::string(log.status().message());
  std::vector<absl::string_view> lines = absl::StrSplit(*log, '\n', absl::SkipEmpty());
  const size_t first = lines.size() > static_cast<size_t>(max_lines) ? lines.size() - max_lines : 0;
  return absl::StrJoin(lines.begin() + first, lines.end(), "\n");
}

absl::StatusOr<std::string> SelfExecutable() {
  std::string path(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size());
  if (n <= 0 || static_cast<size_t>(n) >= path.size()) {
    return absl::InternalError("cannot find the running executable (/proc/self/exe)");
  }
  path.resize(static_cast<size_t>(n));
  return path;
}

}  // namespace flsailer::cli
