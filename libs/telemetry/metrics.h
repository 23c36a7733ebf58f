// Prometheus metrics for the FL-Sailer services (prometheus-cpp).
//
// Each service starts one MetricsServer, which serves its registry in the Prometheus text format
// at GET /metrics, and registers its metric families on registry() with the helpers below. The
// helpers give every metric the project's `flsailer_` prefix, so callers name only the rest
// ("rounds_completed_total" becomes flsailer_rounds_completed_total) and follow Prometheus naming:
// snake_case, base units (`_seconds`, `_bytes`), counters ending in `_total`. Network-free cores
// take a prometheus::Registry& and so can be tested without a server.
//
// Registering a name again with the same type and help returns the existing family. An invalid
// name, or the same name with another type or help, is a programming error: prometheus-cpp throws
// std::invalid_argument.
//
// Thread safety: the registry, the families and the metrics in them may be used from any thread;
// scrapes run on the server's own threads.
#ifndef FLSAILER_LIBS_TELEMETRY_METRICS_H_
#define FLSAILER_LIBS_TELEMETRY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace flsailer::telemetry {

// Bucket upper bounds, in seconds, for round and phase durations: 0.1 s to one hour, in steps a
// person reads at a glance (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 s, 1, 2, 5, 10, 20, 30, 60 min).
const prometheus::Histogram::BucketBoundaries& DurationBuckets();

// Families named "flsailer_<name>", created in `registry` or returned if already there.
prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       absl::string_view name,
                                                       absl::string_view help);
prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   absl::string_view name, absl::string_view help);
// Buckets are given per series: family.Add({{"phase", "train"}}, DurationBuckets()).
prometheus::Family<prometheus::Histogram>& HistogramFamily(prometheus::Registry& registry,
                                                           absl::string_view name,
                                                           absl::string_view help);

// An HTTP server exposing a registry at /metrics (Prometheus text format 0.0.4), with the
// standard process_* series (process_metrics.h) added to every scrape, running until destroyed. Served by cpp-httplib: prometheus-cpp's own civetweb exposer fails to start inside
// processes that also link gRPC, OpenSSL and cpp-httplib (mg_start returns no context).
class MetricsServer {
 public:
  // Listens on `address`: "host:port" ("0.0.0.0:9464" for every interface, "127.0.0.1:0" for an
  // ephemeral loopback port, see port()) or just a port (every interface). Unavailable when the
  // address cannot be bound (in use, not local); InvalidArgument when it is malformed.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address);

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // Stops serving; a scrape in progress finishes first.
  ~MetricsServer();

  prometheus::Registry& registry() { return *registry_; }
  // The port actually bound (the ephemeral one when started on port 0).
  int port() const { return port_; }

 private:
  struct Http;
  MetricsServer();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Http> http_;
  int port_ = 0;
};

}  // namespace flsailer::telemetry

#endif  // FLSAILER_LIBS_TELEMETRY_METRICS_H_
