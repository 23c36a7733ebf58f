#include "services/coordinator/coordinator_metrics.h"

#include "libs/telemetry/metrics.h"

namespace flsailer::coordinator {

using telemetry::CounterFamily;
using telemetry::DurationBuckets;
using telemetry::GaugeFamily;
using telemetry::HistogramFamily;

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry)
    : rounds_(CounterFamily(registry, "rounds_total", "Training rounds completed")),
      round_seconds_(HistogramFamily(registry, "round_duration_seconds",
                                     "Wall time of a training round, open to aggregated")),
      phase_seconds_(HistogramFamily(registry, "phase_duration_seconds",
                                     "Wall time of a schedule step, by phase")),
      clients_connected_(GaugeFamily(registry, "clients_connected",
                                     "Institutions that contacted the job in the last 30 s")),
      clients_dropped_(CounterFamily(registry, "clients_dropped_total",
                                     "Institutions that missed a step deadline")),
      loss_(GaugeFamily(registry, "training_loss", "Cell-weighted mean loss of the last round")),
      selected_features_(GaugeFamily(registry, "selected_features", "Peaks in the selection")),
      jobs_(GaugeFamily(registry, "jobs", "Jobs by state")),
      errors_(CounterFamily(registry, "errors_total", "Refused or failed calls")),
      bytes_received_(CounterFamily(registry, "received_bytes_total",
                                    "Tensor bytes received from clients").Add({})),
      bytes_sent_(CounterFamily(registry, "sent_bytes_total", "Tensor and file bytes sent")
                      .Add({})) {
  // Every state from the start, so that "no failed jobs" reads 0 rather than no data.
  for (const char* state : {"running", "finished", "failed"}) JobsByState(state);
}

prometheus::Counter& CoordinatorMetrics::Rounds(const std::string& job) {
  return rounds_.Add({{"job_id", job}});
}
prometheus::Histogram& CoordinatorMetrics::RoundSeconds(const std::string& job) {
  return round_seconds_.Add({{"job_id", job}}, DurationBuckets());
}
prometheus::Histogram& CoordinatorMetrics::PhaseSeconds(const std::string& job,
                                                        absl::string_view phase) {
  return phase_seconds_.Add({{"job_id", job}, {"phase", std::string(phase)}},
                            DurationBuckets());
}
prometheus::Gauge& CoordinatorMetrics::ClientsConnected(const std::string& job) {
  return clients_connected_.Add({{"job_id", job}});
}
prometheus::Counter& CoordinatorMetrics::ClientsDropped(const std::string& job) {
  return clients_dropped_.Add({{"job_id", job}});
}
prometheus::Gauge& CoordinatorMetrics::Loss(const std::string& job) {
  return loss_.Add({{"job_id", job}});
}
prometheus::Gauge& CoordinatorMetrics::SelectedFeatures(const std::string& job) {
  return selected_features_.Add({{"job_id", job}});
}
prometheus::Gauge& CoordinatorMetrics::JobsByState(absl::string_view state) {
  return jobs_.Add({{"state", std::string(state)}});
}
prometheus::Counter& CoordinatorMetrics::Errors(absl::string_view method,
                                                absl::string_view code) {
  return errors_.Add({{"method", std::string(method)}, {"code", std::string(code)}});
}

}  // namespace flsailer::coordinator
