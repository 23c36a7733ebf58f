#include "libs/telemetry/metrics.h"

#include <prometheus/exposer.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace flsailer::telemetry {
namespace {

template <typename Metric>
prometheus::Family<Metric>& AddFamily(prometheus::detail::Builder<Metric> builder,
                                      prometheus::Registry& registry, absl::string_view name,
                                      absl::string_view help) {
  return builder.Name(absl::StrCat("flsailer_", name)).Help(std::string(help)).Register(registry);
}

}  // namespace

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
  return *buckets;
}

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       absl::string_view name,
                                                       absl::string_view help) {
  return AddFamily(prometheus::BuildCounter(), registry, name, help);
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   absl::string_view name, absl::string_view help) {
  return AddFamily(prometheus::BuildGauge(), registry, name, help);
}

prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           absl::string_view name,
                                                           absl::string_view help) {
  return AddFamily(prometheus::BuildHistogram(), registry, name, help);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address) {
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  // civetweb reports a failed bind by throwing from the Exposer's constructor.
  try {
    exposer = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics server cannot listen on ", address, ": ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics server on ", address, " bound no port"));
  }
  exposer->RegisterCollectable(registry);
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(registry), std::move(exposer), ports.front()));
}

MetricsServer::MetricsServer(std::shared_ptr<prometheus::Registry> registry,
                             std::unique_ptr<prometheus::Exposer> exposer, int port)
    : registry_(std::move(registry)), exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

}  // namespace flsailer::telemetry
