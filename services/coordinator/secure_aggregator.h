// Secure aggregation for the coordinator's jobs: every sum of a job's schedule becomes a round
// of the aggregator service (services/aggregator), so the coordinator never receives one
// institution's vector, only the sum, the total weight and who contributed.
//
// Per step: Begin plans the fixed-point settings (federation::PlanSecureSum) and opens the round
// (job id, step id) at the aggregator for the step's cohort; tasks carry the settings to the
// clients, which run the protocol with the aggregator and then send the coordinator an empty
// acknowledgement (Add). Finish fetches the result and multiplies it back by the divisor.
//
// Deadlines: each protocol stage at the aggregator closes 3/4 of the job's client timeout after
// it opened, so a round with a client that vanished ends (without it) before the coordinator's
// own deadline for the step.
//
// Thread safety: Begin may be called from any thread; an Aggregation is used under its
// JobRunner's lock.
#ifndef FLSAILER_SERVICES_COORDINATOR_SECURE_AGGREGATOR_H_
#define FLSAILER_SERVICES_COORDINATOR_SECURE_AGGREGATOR_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "libs/federation/aggregation.h"

namespace flsailer::coordinator {

struct SecureAggregationOptions {
  // host:port of the aggregator as the clients dial it (its certificate must name the host).
  std::string address;
  // The coordinator's channel to the aggregator's AggregatorControl service (mutual TLS with the
  // coordinator's server identity).
  std::shared_ptr<grpc::Channel> channel;
};

class SecureAggregator final : public federation::Aggregator {
 public:
  // `stage_timeout`: how long each protocol stage waits for the clients (see above).
  SecureAggregator(std::string job_id, SecureAggregationOptions options,
                   absl::Duration stage_timeout);

  // Errors: what PlanSecureSum refuses (a cohort of one, ...), or the aggregator refusing or not
  // answering OpenRound (Unavailable when it cannot be reached).
  absl::StatusOr<std::unique_ptr<federation::Aggregation>> Begin(
      const federation::StepPlan& step) override;

 private:
  const std::string job_id_;
  const SecureAggregationOptions options_;
  const absl::Duration stage_timeout_;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_SECURE_AGGREGATOR_H_
