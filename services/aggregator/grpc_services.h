// The aggregator's gRPC front end over AggregatorCore: SecureAggregation (institutions, one
// bidirectional Exchange stream per institution per round) and AggregatorControl (the
// coordinator only). Thin layers: they read the caller's identity from its mTLS certificate,
// convert messages (proto_convert.h) and call the core.
#ifndef FLSAILER_SERVICES_AGGREGATOR_GRPC_SERVICES_H_
#define FLSAILER_SERVICES_AGGREGATOR_GRPC_SERVICES_H_

#include <string>

#include "flsailer/v1/aggregator.grpc.pb.h"
#include "services/aggregator/aggregator_core.h"

namespace flsailer::aggregator {

// Exchange: the first envelope names the round; the caller must be an institution of it. One
// thread reads the client's envelopes and hands them to the core; the handler's own thread is
// the only writer (gRPC allows one outstanding write per stream), writing what the core queued
// for the client. The stream ends when the client's part in the round ends (round completed or
// aborted, or the client dropped out) and the client has half-closed (or 10 s later).
class SecureAggregationService final : public v1::SecureAggregation::Service {
 public:
  explicit SecureAggregationService(AggregatorCore* core) : core_(core) {}
  grpc::Status Exchange(grpc::ServerContext* context,
                        grpc::ServerReaderWriter<v1::ServerEnvelope, v1::ClientEnvelope>* stream)
      override;

 private:
  AggregatorCore* core_;
};

// Only a server identity may call, and only `coordinator_id` when it is not empty.
class AggregatorControlService final : public v1::AggregatorControl::Service {
 public:
  AggregatorControlService(AggregatorCore* core, std::string coordinator_id)
      : core_(core), coordinator_id_(std::move(coordinator_id)) {}
  grpc::Status OpenRound(grpc::ServerContext* context, const v1::OpenRoundRequest* request,
                         v1::OpenRoundResponse* response) override;
  grpc::Status GetResult(grpc::ServerContext* context, const v1::RoundRef* request,
                         grpc::ServerWriter<v1::RoundResultChunk>* writer) override;

 private:
  grpc::Status Authorize(grpc::ServerContext* context) const;

  AggregatorCore* core_;
  std::string coordinator_id_;
};

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_GRPC_SERVICES_H_
