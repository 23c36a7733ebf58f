// The coordinator's Prometheus series (flsailer_ prefix), fed by JobRegistry as jobs advance and
// by the gRPC layer for traffic. Label `job_id` on per-job series (not `job`: Prometheus's own
// target label, which a scraped `job` would clash with).
//
// Thread safety: prometheus-cpp metrics are thread-safe; the families' Add() is too.
#ifndef FLSAILER_SERVICES_COORDINATOR_COORDINATOR_METRICS_H_
#define FLSAILER_SERVICES_COORDINATOR_COORDINATOR_METRICS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace flsailer::coordinator {

class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry& registry);

  prometheus::Counter& Rounds(const std::string& job);
  prometheus::Histogram& RoundSeconds(const std::string& job);
  prometheus::Histogram& PhaseSeconds(const std::string& job, absl::string_view phase);
  prometheus::Gauge& ClientsConnected(const std::string& job);
  prometheus::Counter& ClientsDropped(const std::string& job);
  prometheus::Gauge& Loss(const std::string& job);
  prometheus::Gauge& SelectedFeatures(const std::string& job);
  prometheus::Gauge& JobsByState(absl::string_view state);
  prometheus::Counter& BytesReceived() { return bytes_received_; }
  prometheus::Counter& BytesSent() { return bytes_sent_; }
  // A refused or failed call, by gRPC method and status code name.
  prometheus::Counter& Errors(absl::string_view method, absl::string_view code);

 private:
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Histogram>& round_seconds_;
  prometheus::Family<prometheus::Histogram>& phase_seconds_;
  prometheus::Family<prometheus::Gauge>& clients_connected_;
  prometheus::Family<prometheus::Counter>& clients_dropped_;
  prometheus::Family<prometheus::Gauge>& loss_;
  prometheus::Family<prometheus::Gauge>& selected_features_;
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Counter& bytes_received_;
  prometheus::Counter& bytes_sent_;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_COORDINATOR_METRICS_H_
