// Minimal command-line parsing for `flsailer <command> [--flag value] [positional...]`.
#ifndef FLSAILER_SERVICES_CLI_ARGS_H_
#define FLSAILER_SERVICES_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flsailer::cli {

// Flags are "--name value" or "--name=value"; a boolean flag listed in `switches` takes no value.
// Unknown flags are an error, so typos never pass silently. A repeated flag keeps its last value
// for Get and all of them, in order, for GetAll.
class Args {
 public:
  static absl::StatusOr<Args> Parse(int argc, char** argv, const std::set<std::string>& flags,
                                    const std::set<std::string>& switches = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  absl::StatusOr<std::string> Required(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  // Every value given to a repeatable flag such as `--dns a --dns b`; empty when absent.
  std::vector<std::string> GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_;
};

// Prints "flsailer <command>: <message>" to stderr and returns the exit code for a failed run (1).
int PrintError(const std::string& command, const absl::Status& status);

// Prints "flsailer <command>: <message>" then `usage` to stderr; returns 2 (bad usage), or 0 when
// the status is OK (--help).
int PrintUsage(const std::string& command, const absl::Status& status, const std::string& usage);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_ARGS_H_
