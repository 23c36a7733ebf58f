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
                   .Add({}, telemetry::DurationBuckets())),
      stage_seconds_(telemetry::HistogramFamily(registry, "secagg_stage_seconds",
                                                "Time secure-aggregation rounds spent per stage")) {}

prometheus::Histogram& AggregatorMetrics::StageSeconds(secagg::Stage stage) {
  const char* name = "other";
  switch (stage) {
    case secagg::Stage::kAdvertiseKeys: name = "advertise_keys"; break;
    case secagg::Stage::kShareKeys: name = "share_keys"; break;
    case secagg::Stage::kMaskedInput: name = "masked_input"; break;
    case secagg::Stage::kUnmasking: name = "unmasking"; break;
    default: break;
  }
  return stage_seconds_.Add({{"stage", name}}, telemetry::DurationBuckets());
}

}  // namespace flsailer::aggregator
