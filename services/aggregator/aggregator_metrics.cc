#include "services/aggregator/aggregator_metrics.h"

#include "libs/telemetry/metrics.h"

namespace flsailer::aggregator {

AggregatorMetrics::AggregatorMetrics(prometheus::Registry& registry)
    : opened_(telemetry::CounterFamily(registry, "secagg_rounds_total",
                                       "Secure-aggregation rounds by event")
                  .Add({{"event", "opened"}})),
      completed_(telemetry::CounterFamily(registry, "secagg_rounds_total",
                                          "Secure-aggregation rounds by event")
                     .Add({{"event", "completed"}})),
      aborted_(telemetry::CounterFamily(registry, "secagg_rounds_total",
                                        "Secure-aggregation rounds by event")
                   .Add({{"event", "aborted"}})),
      open_(telemetry::GaugeFamily(registry, "secagg_rounds_open",
                                   "Secure-aggregation rounds running or awaiting their fetch")
                .Add({})),
      dropped_(telemetry::CounterFamily(registry, "secagg_clients_dropped_total",
                                        "Institutions dropped from secure-aggregation rounds")
                   .Add({})),
      seconds_(telemetry::HistogramFamily(registry, "secagg_round_seconds",
                                          "Duration of secure-aggregation rounds, open to end")
                   .Add({}, telemetry::DurationBuckets())) {}

}  // namespace flsailer::aggregator
