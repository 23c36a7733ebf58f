#include "services/aggregator/secagg_client.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "flsailer/v1/aggregator.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/tensor_stream.h"
#include "libs/secagg/client.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer::aggregator {
namespace {

// The session's outgoing messages wait here until the driving thread writes them.
class QueueToServer : public secagg::SendToServer {
 public:
  absl::Status Send(secagg::ClientMessage message) override {
    queue.push_back(std::move(message));
    return absl::OkStatus();
  }
  std::deque<secagg::ClientMessage> queue;
};

bool Ended(secagg::Stage stage) {
  return stage == secagg::Stage::kCompleted || stage == secagg::Stage::kAborted;
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

}  // namespace

absl::StatusOr<SecureSumReport> RunSecureSum(const std::shared_ptr<grpc::Channel>& channel,
                                             const secagg::SecAggConfig& config,
                                             const secagg::RoundContext& context,
                                             const pki::KeyAndCertificate& key_and_certificate,
                                             const std::string& ca_pem, std::vector<double> values,
                                             double weight, absl::Duration timeout) {
  QueueToServer outbox;
  FLS_ASSIGN_OR_RETURN(std::unique_ptr<secagg::ClientSession> session,
                       secagg::ClientSession::Create(config, context, key_and_certificate, ca_pem,
                                                     std::move(values), weight, &outbox));
  FLS_RETURN_IF_ERROR(session->Start());
  auto stub = v1::SecureAggregation::NewStub(channel);
  grpc::ClientContext rpc_context;
  SetDeadline(&rpc_context, timeout);
  auto stream = stub->Exchange(&rpc_context);

  // One thread: write what the session queued, then read the server's next message. The server
  // reads on its own thread, so blocking writes cannot deadlock with its writes.
  bool writes_open = true;
  uint64_t sent = 0;
  SecureSumReport report;
  auto flush = [&]() {
    while (writes_open && !outbox.queue.empty()) {
      v1::ClientEnvelope envelope = ToProto(outbox.queue.front());
      envelope.set_sequence(++sent);
      outbox.queue.pop_front();
      report.bytes_sent += static_cast<int64_t>(envelope.ByteSizeLong());
      if (!stream->Write(envelope)) writes_open = false;
    }
    if (writes_open && Ended(session->stage())) {
      stream->WritesDone();
      writes_open = false;
    }
  };
  flush();
  v1::ServerEnvelope envelope;
  absl::Status protocol_error;
  uint64_t received = 0;
  while (stream->Read(&envelope)) {
    report.bytes_received += static_cast<int64_t>(envelope.ByteSizeLong());
    if (envelope.sequence() != ++received) {
      protocol_error = absl::DataLossError(absl::StrCat(
          "the aggregator's envelope ", envelope.sequence(), " arrived as number ", received));
      break;
    }
    absl::StatusOr<secagg::ServerMessage> message = FromProto(envelope);
    if (!message.ok()) {
      protocol_error = message.status();
      break;
    }
    absl::Status handled = session->OnMessage(*message);
    (void)handled;  // an error aborts the session, which stage() and status() report
    flush();
  }
  if (!protocol_error.ok()) rpc_context.TryCancel();
  if (writes_open) stream->WritesDone();
  grpc::Status finished = stream->Finish();

  if (!protocol_error.ok()) return protocol_error;
  if (session->stage() == secagg::Stage::kAborted) return session->status();
  if (session->stage() != secagg::Stage::kCompleted) {
    absl::Status status = rpc::FromGrpcStatus(finished);
    if (status.ok()) {
      status = absl::UnavailableError(absl::StrCat("the aggregator ended ",
                                                   secagg::DescribeContext(context),
                                                   " before this client completed"));
    }
    return status;
  }
  report.stage = session->stage();
  report.clipped_values = session->clipped_values();
  return report;
}

absl::Status OpenRound(const std::shared_ptr<grpc::Channel>& channel,
                       const secagg::RoundContext& context,
                       const std::vector<std::string>& institutions,
                       const secagg::SecAggConfig& config, absl::Duration stage_timeout) {
  auto stub = v1::AggregatorControl::NewStub(channel);
  v1::OpenRoundRequest request;
  request.set_job_id(context.job_id);
  request.set_round(context.round);
  for (const std::string& id : institutions) request.add_institutions(id);
  *request.mutable_config() = ToProto(config);
  request.set_stage_timeout_seconds(
      static_cast<uint32_t>(std::max<int64_t>(1, absl::ToInt64Seconds(stage_timeout))));
  v1::OpenRoundResponse response;
  grpc::ClientContext rpc_context;
  SetDeadline(&rpc_context, absl::Seconds(60));
  return rpc::FromGrpcStatus(stub->OpenRound(&rpc_context, request, &response));
}

absl::StatusOr<RoundResult> GetRoundResult(const std::shared_ptr<grpc::Channel>& channel,
                                           const secagg::RoundContext& context,
                                           int64_t max_elements, absl::Duration wait,
                                           absl::Duration transfer_timeout) {
  auto stub = v1::AggregatorControl::NewStub(channel);
  v1::RoundRef ref;
  ref.set_job_id(context.job_id);
  ref.set_round(context.round);
  // At least 1 ms: 0 would mean "until the call's deadline".
  ref.set_wait_ms(static_cast<uint32_t>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(wait), 1, int64_t{1} << 31)));
  grpc::ClientContext rpc_context;
  SetDeadline(&rpc_context, wait + transfer_timeout);
  auto reader = stub->GetResult(&rpc_context, ref);
  rpc::TensorAssembler assembler(max_elements);
  RoundResult result;
  bool have_summary = false;
  absl::Status error;
  v1::RoundResultChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.has_sum()) {
      error = assembler.Add(chunk.sum());
      if (!error.ok()) break;
    } else if (chunk.has_summary()) {
      const v1::RoundSummary& s = chunk.summary();
      have_summary = true;
      result.total_weight = s.total_weight();
      result.contributors.assign(s.contributors().begin(), s.contributors().end());
      result.dropped.assign(s.dropped().begin(), s.dropped().end());
      if (s.aborted()) result.sum = absl::AbortedError(s.error());
    }
  }
  if (!error.ok()) rpc_context.TryCancel();
  grpc::Status finished = reader->Finish();
  FLS_RETURN_IF_ERROR(error);
  FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(finished));
  if (!have_summary) return absl::DataLossError("the result stream ended without a summary");
  if (result.sum.ok()) {
    if (!assembler.complete()) return absl::DataLossError("the result stream ended mid-sum");
    result.sum = assembler.Take();
  }
  return result;
}

}  // namespace flsailer::aggregator
