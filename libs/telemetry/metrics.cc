#include "libs/telemetry/metrics.h"

#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"
#include "libs/telemetry/process_metrics.h"
// Last: httplib.h pulls in <resolv.h>, whose _res macro breaks headers included after it.
#include "httplib.h"

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

struct MetricsServer::Http {
  httplib::Server server;
  std::thread listener;
  std::atomic<bool> listener_done{false};
};

MetricsServer::MetricsServer()
    : registry_(std::make_shared<prometheus::Registry>()), http_(std::make_unique<Http>()) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address) {
  HostPort where;
  if (address.find(':') == std::string::npos) {
    where.host = "0.0.0.0";
    if (!absl::SimpleAtoi(address, &where.port) || where.port < 0 || where.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not a port"));
    }
  } else {
    FLS_ASSIGN_OR_RETURN(where, ParseHostPort(address));
  }
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  httplib::Server& server = m->http_->server;
  // httplib's default SO_REUSEPORT would let two servers share a port silently.
  server.set_socket_options([](int fd) {
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  prometheus::Registry* registry = m->registry_.get();
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    std::vector<prometheus::MetricFamily> families = registry->Collect();
    for (prometheus::MetricFamily& f : ProcessMetrics()) families.push_back(std::move(f));
    response.set_content(prometheus::TextSerializer().Serialize(families),
                         "text/plain; version=0.0.4; charset=utf-8");
  });
  if (where.port == 0) {
    m->port_ = server.bind_to_any_port(where.host);
  } else if (server.bind_to_port(where.host, where.port)) {
    m->port_ = where.port;
  }
  if (m->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("metrics server cannot listen on ", address));
  }
  Http* http = m->http_.get();
  http->listener = std::thread([http] {
    http->server.listen_after_bind();
    http->listener_done.store(true);
  });
  return m;
}

MetricsServer::~MetricsServer() {
  if (!http_->listener.joinable()) return;  // never bound
  // stop() is lost if the listener has not started yet: wait for it first.
  while (!http_->server.is_running() && !http_->listener_done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->server.stop();
  http_->listener.join();
}

}  // namespace flsailer::telemetry
