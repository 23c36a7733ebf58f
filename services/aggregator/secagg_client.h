// The aggregator's clients. RunSecureSum is what an institution's process runs for one secure
// sum: it opens an Exchange stream and drives a secagg::ClientSession to the end. OpenRound and
// GetRoundResult are the coordinator's side of AggregatorControl.
//
// Thread safety: the functions are thread-safe; each call uses its own stream.
#ifndef FLSAILER_SERVICES_AGGREGATOR_SECAGG_CLIENT_H_
#define FLSAILER_SERVICES_AGGREGATOR_SECAGG_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "libs/pki/pki.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"

namespace flsailer::aggregator {

struct SecureSumReport {
  // kCompleted: this client's input is in the sum unless the server later aborts the round,
  // which the stream would have reported (the call then fails).
  secagg::Stage stage = secagg::Stage::kCompleted;
  int64_t clipped_values = 0;  // values (and weight) clipped to the configured range
  // Serialized envelopes as gRPC carries them (before HTTP/2 framing and TLS).
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
};

// Contributes `values` with `weight` to the round `context` of the aggregator behind `channel`
// (mTLS with this institution's certificate). Returns once the aggregator has ended the stream.
// Errors: what ClientSession::Create refuses; the client's or server's abort reason
// (secagg status codes); the stream's gRPC error when it breaks off before the client completed;
// DeadlineExceeded after `timeout`.
absl::StatusOr<SecureSumReport> RunSecureSum(const std::shared_ptr<grpc::Channel>& channel,
                                             const secagg::SecAggConfig& config,
                                             const secagg::RoundContext& context,
                                             const pki::KeyAndCertificate& key_and_certificate,
                                             const std::string& ca_pem, std::vector<double> values,
                                             double weight,
                                             absl::Duration timeout = absl::Hours(1));

// AggregatorControl.OpenRound (the caller must be the coordinator's server identity).
absl::Status OpenRound(const std::shared_ptr<grpc::Channel>& channel,
                       const secagg::RoundContext& context,
                       const std::vector<std::string>& institutions,
                       const secagg::SecAggConfig& config, absl::Duration stage_timeout);

struct RoundResult {
  // The sum, or the round's abort reason (Aborted).
  absl::StatusOr<std::vector<double>> sum = std::vector<double>();
  double total_weight = 0;
  std::vector<std::string> contributors;
  std::vector<std::string> dropped;
};

// AggregatorControl.GetResult: waits up to `wait` for the round to end (DeadlineExceeded if it
// has not; the round stays), then has `transfer_timeout` more to receive the result. The
// aggregator forgets a round once it has sent its result.
absl::StatusOr<RoundResult> GetRoundResult(const std::shared_ptr<grpc::Channel>& channel,
                                           const secagg::RoundContext& context,
                                           int64_t max_elements, absl::Duration wait,
                                           absl::Duration transfer_timeout = absl::Minutes(10));

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_SECAGG_CLIENT_H_
