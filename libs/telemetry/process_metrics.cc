#include "libs/telemetry/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace flsailer::telemetry {
namespace {

void Add(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
         prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  out.push_back(std::move(family));
}

// Seconds since the epoch at which the machine booted (/proc/stat "btime"), or -1.
double BootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime" && stat >> value) return value;
    stat.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                         std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const size_t after_name = stat.rfind(')');
  if (after_name != std::string::npos) {
    std::istringstream fields(stat.substr(after_name + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(fields)),
                               std::istream_iterator<std::string>());
    // f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24 (proc(5)).
    if (f.size() >= 22) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      Add(out, "process_cpu_seconds_total", "User and system CPU time spent in seconds",
          MetricType::Counter, (std::stod(f[11]) + std::stod(f[12])) / ticks);
      Add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge,
          std::stod(f[20]));
      Add(out, "process_resident_memory_bytes", "Resident memory size in bytes",
          MetricType::Gauge, std::stod(f[21]) * page);
      if (const double boot = BootTime(); boot >= 0) {
        Add(out, "process_start_time_seconds", "Start time of the process since the epoch",
            MetricType::Gauge, boot + std::stod(f[19]) / ticks);
      }
    }
  }
  if (DIR* fds = opendir("/proc/self/fd"); fds != nullptr) {
    int open = 0;
    while (const dirent* entry = readdir(fds)) open += entry->d_name[0] != '.';
    closedir(fds);
    Add(out, "process_open_fds", "Number of open file descriptors", MetricType::Gauge,
        open - 1);  // not the one reading the directory
  }
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    Add(out, "process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge,
        static_cast<double>(limit.rlim_cur));
  }
  return out;
}

}  // namespace flsailer::telemetry
