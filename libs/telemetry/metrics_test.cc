#include "libs/telemetry/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::telemetry {
namespace {

using ::testing::HasSubstr;

// The response to "GET <path>" on 127.0.0.1:port (HTTP/1.0, so the server closes when done), or
// an empty string when the connection fails.
std::string HttpGet(int port, absl::string_view path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

// The value of the sample `series` (name and labels exactly as exposed) in exposition text, or
// NaN when there is no such sample.
double SampleValue(absl::string_view exposition, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    absl::string_view value = line;
    double parsed;
    if (absl::ConsumePrefix(&value, series) && absl::ConsumePrefix(&value, " ") &&
        absl::SimpleAtod(value, &parsed)) {
      return parsed;
    }
  }
  return std::nan("");
}

TEST(MetricsServerTest, ServesCountersGaugesAndHistogramsOnAnEphemeralPort) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  prometheus::Registry& registry = (*server)->registry();
  auto& rounds = CounterFamily(registry, "test_rounds_total", "Rounds completed.");
  rounds.Add({{"job", "job-1"}}).Increment(3);
  GaugeFamily(registry, "test_clients_connected", "Clients connected.").Add({}).Set(7);
  auto& durations = HistogramFamily(registry, "test_phase_seconds", "Phase durations.");
  prometheus::Histogram& train = durations.Add({{"phase", "train"}}, DurationBuckets());
  train.Observe(4.2);
  train.Observe(0.05);

  const std::string response = HttpGet(port, "/metrics");
  ASSERT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("# TYPE flsailer_test_rounds_total counter"));
  EXPECT_THAT(response, HasSubstr("# HELP flsailer_test_phase_seconds Phase durations."));
  // Every service's resource use (process_metrics.h).
  EXPECT_THAT(response, HasSubstr("# TYPE process_resident_memory_bytes gauge"));
  EXPECT_THAT(response, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_EQ(SampleValue(response, "flsailer_test_rounds_total{job=\"job-1\"}"), 3);
  EXPECT_EQ(SampleValue(response, "flsailer_test_clients_connected"), 7);
  EXPECT_EQ(SampleValue(response, "flsailer_test_phase_seconds_count{phase=\"train\"}"), 2);
  EXPECT_DOUBLE_EQ(SampleValue(response, "flsailer_test_phase_seconds_sum{phase=\"train\"}"), 4.25);
  // Buckets are cumulative: 0.05 falls in every bucket, 4.2 from le=5 on.
  EXPECT_EQ(SampleValue(response, "flsailer_test_phase_seconds_bucket{phase=\"train\",le=\"0.1\"}"),
            1);
  EXPECT_EQ(SampleValue(response, "flsailer_test_phase_seconds_bucket{phase=\"train\",le=\"2.5\"}"),
            1);
  EXPECT_EQ(SampleValue(response, "flsailer_test_phase_seconds_bucket{phase=\"train\",le=\"5\"}"),
            2);
  EXPECT_EQ(
      SampleValue(response, "flsailer_test_phase_seconds_bucket{phase=\"train\",le=\"3600\"}"), 2);
  EXPECT_EQ(
      SampleValue(response, "flsailer_test_phase_seconds_bucket{phase=\"train\",le=\"+Inf\"}"), 2);

  // Later changes show in the next scrape.
  rounds.Add({{"job", "job-1"}}).Increment();
  EXPECT_EQ(SampleValue(HttpGet(port, "/metrics"), "flsailer_test_rounds_total{job=\"job-1\"}"), 4);
}

TEST(MetricsServerTest, StopsServingWhenDestroyed) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_THAT(HttpGet(port, "/metrics"), HasSubstr("200"));
  server->reset();
  EXPECT_EQ(HttpGet(port, "/metrics"), "");
}

TEST(MetricsServerTest, PortInUseIsUnavailable) {
  auto first = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", (*first)->port())));
}

TEST(MetricsServerTest, MalformedAddressIsRefused) {
  EXPECT_EQ(MetricsServer::Start("not an address").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:http").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("203.0.113.1:0").status().code(),  // not a local address
            absl::StatusCode::kUnavailable);
}

TEST(MetricFamiliesTest, SameNameReturnsTheSameFamily) {
  prometheus::Registry registry;
  auto& first = CounterFamily(registry, "bytes_sent_total", "Bytes sent.");
  auto& again = CounterFamily(registry, "bytes_sent_total", "Bytes sent.");
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(first.GetName(), "flsailer_bytes_sent_total");
  EXPECT_THROW(GaugeFamily(registry, "bytes_sent_total", "Bytes sent."), std::invalid_argument);
  EXPECT_THROW(CounterFamily(registry, "bad name", "Invalid."), std::invalid_argument);
}

TEST(MetricFamiliesTest, DurationBucketsSpanATenthOfASecondToAnHour) {
  const auto& buckets = DurationBuckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets.front(), 0.1);
  EXPECT_EQ(buckets.back(), 3600);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
  EXPECT_EQ(std::adjacent_find(buckets.begin(), buckets.end()), buckets.end());
}

}  // namespace
}  // namespace flsailer::telemetry
