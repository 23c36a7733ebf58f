// The aggregator's Prometheus series (flsailer_ prefix), fed by AggregatorCore. No per-job
// labels: the aggregator serves many short rounds.
//
// Thread safety: prometheus-cpp metrics are thread-safe.
#ifndef FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_METRICS_H_
#define FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "libs/secagg/messages.h"

namespace flsailer::aggregator {

class AggregatorMetrics {
 public:
  explicit AggregatorMetrics(prometheus::Registry& registry);

  prometheus::Counter& RoundsOpened() { return opened_; }
  prometheus::Counter& RoundsCompleted() { return completed_; }
  prometheus::Counter& RoundsAborted() { return aborted_; }
  prometheus::Gauge& RoundsOpen() { return open_; }
  prometheus::Counter& ClientsDropped() { return dropped_; }
  prometheus::Histogram& RoundSeconds() { return seconds_; }
  // How long a round spent in `stage` (advertise keys to unmasking), until the next stage began
  // or the round ended.
  prometheus::Histogram& StageSeconds(secagg::Stage stage);

 private:
  prometheus::Counter& opened_;
  prometheus::Counter& completed_;
  prometheus::Counter& aborted_;
  prometheus::Gauge& open_;
  prometheus::Counter& dropped_;
  prometheus::Histogram& seconds_;
  prometheus::Family<prometheus::Histogram>& stage_seconds_;
};

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_METRICS_H_
