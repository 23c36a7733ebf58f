#include "libs/telemetry/process_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace flsailer::telemetry {
namespace {

std::map<std::string, double> Values() {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& f : ProcessMetrics()) {
    EXPECT_EQ(f.metric.size(), 1u) << f.name;
    values[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                                : f.metric[0].gauge.value;
  }
  return values;
}

TEST(ProcessMetricsTest, ReportsThisProcess) {
  std::map<std::string, double> before = Values();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    ASSERT_EQ(before.count(name), 1u) << name;
  }
  EXPECT_GT(before["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(before["process_virtual_memory_bytes"], before["process_resident_memory_bytes"]);
  EXPECT_LE(before["process_start_time_seconds"], static_cast<double>(std::time(nullptr)) + 1);
  EXPECT_GT(before["process_start_time_seconds"], static_cast<double>(std::time(nullptr)) - 3600);

  // Open files and CPU time show up.
  std::vector<int> files;
  for (int i = 0; i < 5; ++i) files.push_back(open("/proc/self/stat", O_RDONLY));
  volatile double spin = 0;
  for (int i = 0; i < 50'000'000; ++i) spin = spin + i * 1e-9;
  std::map<std::string, double> after = Values();
  for (int fd : files) close(fd);
  EXPECT_EQ(after["process_open_fds"], before["process_open_fds"] + 5);
  EXPECT_GT(after["process_cpu_seconds_total"], before["process_cpu_seconds_total"]);
}

}  // namespace
}  // namespace flsailer::telemetry
