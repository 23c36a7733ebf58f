// The standard process series every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds), read from /proc/self at scrape time.
// prometheus-cpp has no process collector; MetricsServer adds these to every scrape, so each
// service's resource use can be graphed (the Grafana "services" dashboard).
//
// Thread safety: ProcessMetrics may be called from any thread.
#ifndef FLSAILER_LIBS_TELEMETRY_PROCESS_METRICS_H_
#define FLSAILER_LIBS_TELEMETRY_PROCESS_METRICS_H_

#include <prometheus/metric_family.h>

#include <vector>

namespace flsailer::telemetry {

// The families above for the calling process. A value /proc does not give (not Linux, a field
// missing) is left out rather than reported as 0.
std::vector<prometheus::MetricFamily> ProcessMetrics();

}  // namespace flsailer::telemetry

#endif  // FLSAILER_LIBS_TELEMETRY_PROCESS_METRICS_H_
