#include "services/cli/args.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "libs/common/text.h"

namespace flsailer::cli {

absl::StatusOr<Args> Args::Parse(int argc, char** argv, const std::set<std::string>& flags,
                                 const std::set<std::string>& switches) {
  Args args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (switches.count(name)) {
      if (inline_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      args.values_[name] = "true";
      continue;
    }
    if (!flags.count(name)) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!inline_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    args.values_[name] = value;
    args.all_values_[name].push_back(value);
  }
  return args;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<std::string> Args::Required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  }
  return it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int64_t v;
  if (!ParseInt64(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", it->second,
                                                   "' is not an integer"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  double v;
  if (!ParseDouble(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", it->second,
                                                   "' is not a number"));
  }
  return v;
}

int PrintError(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "flsailer %s: %s\n", command.c_str(), std::string(status.message()).c_str());
  return 1;
}

int PrintUsage(const std::string& command, const absl::Status& status, const std::string& usage) {
  if (!status.ok()) {
    std::fprintf(stderr, "flsailer %s: %s\n", command.c_str(),
                 std::string(status.message()).c_str());
  }
  std::fprintf(stderr, "%s", usage.c_str());
  return status.ok() ? 0 : 2;
}

}  // namespace flsailer::cli
