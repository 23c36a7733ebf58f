#include "services/aggregator/grpc_services.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "libs/pki/pki.h"
#include "libs/rpc/credentials.h"
#include "libs/rpc/tensor_stream.h"
#include "libs/telemetry/log.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer::aggregator {
namespace {

using telemetry::Level;
using telemetry::Log;

constexpr absl::Duration kPoll = absl::Milliseconds(200);
constexpr absl::Duration kHalfCloseGrace = absl::Seconds(10);
constexpr uint32_t kDefaultStageTimeoutSeconds = 600;

}  // namespace

grpc::Status SecureAggregationService::Exchange(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ServerEnvelope, v1::ClientEnvelope>* stream) {
  absl::StatusOr<pki::Identity> caller = rpc::PeerIdentity(*context);
  if (!caller.ok()) return rpc::ToGrpcStatus(caller.status());
  if (caller->kind != pki::IdentityKind::kInstitution) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(pki::IdentityUri(*caller), " is not an institution"));
  }
  v1::ClientEnvelope first;
  if (!stream->Read(&first)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the stream ended before a message");
  }
  secagg::RoundContext round{first.job_id(), first.round()};
  absl::StatusOr<std::unique_ptr<ClientConnection>> connected = core_->Connect(round, caller->id);
  if (!connected.ok()) return rpc::ToGrpcStatus(connected.status());
  ClientConnection* connection = connected->get();

  // Hands one envelope to the core; false (the client broke the stream's rules: the stream
  // ends, and the client drops out) when the stream must stop reading.
  std::atomic<bool> violated{false};
  uint64_t expected_sequence = 1;
  auto deliver = [&](const v1::ClientEnvelope& envelope) {
    if (envelope.sequence() != expected_sequence++) {
      Log(Level::kWarning, "secagg_out_of_sequence",
          {{"institution", caller->id}, {"job", round.job_id}, {"round", round.round},
           {"sequence", envelope.sequence()}});
      return false;
    }
    if (envelope.job_id() != round.job_id || envelope.round() != round.round) {
      Log(Level::kWarning, "secagg_foreign_envelope",
          {{"institution", caller->id}, {"job", round.job_id}, {"round", round.round}});
      return false;
    }
    absl::StatusOr<secagg::ClientMessage> message = FromProto(envelope);
    if (!message.ok()) {
      Log(Level::kWarning, "secagg_bad_envelope",
          {{"institution", caller->id}, {"error", message.status().message()}});
      return false;
    }
    absl::Status status = connection->Deliver(*message);
    if (!status.ok()) {
      Log(Level::kWarning, "secagg_message_refused",
          {{"institution", caller->id}, {"job", round.job_id}, {"round", round.round},
           {"error", status.message()}});
    }
    return true;
  };

  absl::Notification reader_done;
  std::thread reader([&] {
    bool ok = deliver(first);
    v1::ClientEnvelope envelope;
    while (ok && stream->Read(&envelope)) ok = deliver(envelope);
    if (!ok) violated.store(true);
    reader_done.Notify();
  });

  bool write_failed = false;
  uint64_t sequence = 0;
  while (!context->IsCancelled() && !violated.load()) {
    std::optional<secagg::ServerMessage> next = connection->Next(kPoll);
    if (next.has_value()) {
      v1::ServerEnvelope envelope = ToProto(*next);
      envelope.set_sequence(++sequence);
      if (!stream->Write(envelope)) {
        write_failed = true;
        break;
      }
      continue;
    }
    if (connection->ended()) break;
  }
  if (!reader_done.WaitForNotificationWithTimeout(write_failed ? absl::ZeroDuration()
                                                               : kHalfCloseGrace)) {
    context->TryCancel();
  }
  reader.join();
  if (violated.load()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "an envelope out of sequence, of another round, or malformed");
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  if (write_failed) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke off");
  return rpc::ToGrpcStatus(connection->end_status());
}

grpc::Status AggregatorControlService::Authorize(grpc::ServerContext* context) const {
  absl::StatusOr<pki::Identity> caller = rpc::PeerIdentity(*context);
  if (!caller.ok()) return rpc::ToGrpcStatus(caller.status());
  if (caller->kind != pki::IdentityKind::kServer ||
      (!coordinator_id_.empty() && caller->id != coordinator_id_)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(pki::IdentityUri(*caller),
                                     " may not control secure-aggregation rounds"));
  }
  return grpc::Status::OK;
}

grpc::Status AggregatorControlService::OpenRound(grpc::ServerContext* context,
                                                 const v1::OpenRoundRequest* request,
                                                 v1::OpenRoundResponse* response) {
  grpc::Status authorized = Authorize(context);
  if (!authorized.ok()) return authorized;
  std::vector<std::string> institutions(request->institutions().begin(),
                                        request->institutions().end());
  uint32_t timeout = request->stage_timeout_seconds() == 0 ? kDefaultStageTimeoutSeconds
                                                           : request->stage_timeout_seconds();
  secagg::RoundContext round{request->job_id(), request->round()};
  absl::Status status = core_->OpenRound(round, std::move(institutions),
                                         FromProto(request->config()), absl::Seconds(timeout));
  Log(status.ok() ? Level::kInfo : Level::kWarning, "secagg_round_opened",
      {{"job", round.job_id}, {"round", round.round},
       {"institutions", static_cast<int64_t>(request->institutions_size())},
       {"error", status.message()}});
  return rpc::ToGrpcStatus(status);
}

grpc::Status AggregatorControlService::GetResult(grpc::ServerContext* context,
                                                 const v1::RoundRef* request,
                                                 grpc::ServerWriter<v1::RoundResultChunk>* writer) {
  grpc::Status authorized = Authorize(context);
  if (!authorized.ok()) return authorized;
  secagg::RoundContext round{request->job_id(), request->round()};
  const auto raw_deadline = context->deadline();
  const absl::Time call_deadline =
      raw_deadline >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)
          ? absl::InfiniteFuture()
          : absl::FromChrono(raw_deadline);
  const absl::Time wait_deadline =
      request->wait_ms() > 0
          ? std::min(call_deadline, absl::Now() + absl::Milliseconds(request->wait_ms()))
          : call_deadline;
  absl::StatusOr<std::shared_ptr<const RoundOutcome>> outcome;
  while (true) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    absl::Time until = std::min(wait_deadline, absl::Now() + absl::Seconds(1));
    outcome = core_->AwaitResult(round, until);
    if (outcome.ok() || !absl::IsDeadlineExceeded(outcome.status())) break;
    if (absl::Now() >= wait_deadline) break;
  }
  if (!outcome.ok()) return rpc::ToGrpcStatus(outcome.status());
  // The round is forgotten only once its result went out whole: a stream that breaks off can be
  // asked for again.
  const RoundOutcome& finished = **outcome;
  v1::RoundResultChunk summary_message;
  v1::RoundSummary* summary = summary_message.mutable_summary();
  for (const secagg::DroppedClient& d : finished.dropped) summary->add_dropped(d.client_id);
  if (!finished.result.ok()) {
    summary->set_aborted(true);
    summary->set_error(std::string(finished.result.status().message()));
    Log(Level::kWarning, "secagg_round_aborted",
        {{"job", round.job_id}, {"round", round.round},
         {"error", finished.result.status().message()}});
    if (writer->Write(summary_message)) core_->Forget(round);
    return grpc::Status::OK;
  }
  const secagg::SecAggResult& result = *finished.result;
  summary->set_total_weight(result.total_weight);
  for (const std::string& id : result.contributors) summary->add_contributors(id);
  v1::MessageHeader header;
  header.mutable_job_id()->set_value(round.job_id);
  header.set_round(static_cast<uint32_t>(round.round));
  bool sent = rpc::SendTensor(result.sum, header, "sum", result.total_weight,
                              [writer](const v1::TensorChunk& chunk) {
                                v1::RoundResultChunk m;
                                *m.mutable_sum() = chunk;
                                return writer->Write(m);
                              });
  if (!sent || !writer->Write(summary_message)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the result stream broke off");
  }
  core_->Forget(round);
  Log(Level::kInfo, "secagg_round_completed",
      {{"job", round.job_id}, {"round", round.round},
       {"contributors", static_cast<int64_t>(result.contributors.size())},
       {"total_weight", result.total_weight}});
  return grpc::Status::OK;
}

}  // namespace flsailer::aggregator
