// libs/secagg messages <-> their protobuf forms (proto/flsailer/v1/aggregator.proto). The
// FromProto functions check only what the protobuf form could get wrong (a missing message, an
// unknown stage, an envelope whose job, round or stage differ from its message's header); the
// sessions check everything else.
#ifndef FLSAILER_SERVICES_AGGREGATOR_PROTO_CONVERT_H_
#define FLSAILER_SERVICES_AGGREGATOR_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "flsailer/v1/aggregator.pb.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"

namespace flsailer::aggregator {

v1::SecAggStage ToProto(secagg::Stage stage);
absl::StatusOr<secagg::Stage> FromProto(v1::SecAggStage stage);

v1::SecAggConfig ToProto(const secagg::SecAggConfig& config);
secagg::SecAggConfig FromProto(const v1::SecAggConfig& config);

v1::ClientEnvelope ToProto(const secagg::ClientMessage& message);
absl::StatusOr<secagg::ClientMessage> FromProto(const v1::ClientEnvelope& envelope);

v1::ServerEnvelope ToProto(const secagg::ServerMessage& message);
absl::StatusOr<secagg::ServerMessage> FromProto(const v1::ServerEnvelope& envelope);

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_PROTO_CONVERT_H_
