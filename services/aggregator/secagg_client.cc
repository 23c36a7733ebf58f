#include "services/aggregator/secagg_client.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "flsailer/v1/aggregator.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/tensor_stream.h"
#include "libs/secagg/client.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer::aggregator {
namespace {

using ExchangeStream = grpc::ClientReaderWriterInterface<v1::ClientEnvelope, v1::ServerEnvelope>;

// Writes the session's messages to the Exchange stream as the session sends them. The session
// sends its whole masked input from one OnMessage call, chunk by chunk; writing each chunk
// before the next is made keeps one masked chunk in this process, where a queue would hold the
// whole masked vector next to the values. Messages sent before Open (those of Start, which runs
// before the call so that a bad key fails without reaching the aggregator) wait for it.
class StreamToServer final : public secagg::SendToServer {
 public:
  explicit StreamToServer(SecureSumReport* report) : report_(report) {}

  absl::Status Send(secagg::ClientMessage message) override {
    if (stream_ == nullptr) {
      waiting_.push_back(std::move(message));
    } else {
      Write(message);
    }
    return absl::OkStatus();
  }

  // Writes what waited, and from now on each message as it is sent.
  void Open(ExchangeStream* stream) {
    stream_ = stream;
    for (const secagg::ClientMessage& message : waiting_) Write(message);
    waiting_.clear();
  }

  // Half-closes the stream (once): the session has nothing more to send.
  void Close() {
    if (writes_open_) stream_->WritesDone();
    writes_open_ = false;
  }

 private:
  // A write fails only once the call has ended. Why it ended reaches the session through what
  // the aggregator sent before (RunSecureSum reads on) or the call's status, so this message and
  // any after it are dropped, as a broken connection drops them, and Send still succeeds.
  void Write(const secagg::ClientMessage& message) {
    if (!writes_open_) return;
    v1::ClientEnvelope envelope = ToProto(message);
    envelope.set_sequence(++sent_);
    report_->bytes_sent += static_cast<int64_t>(envelope.ByteSizeLong());
    if (!stream_->Write(envelope)) writes_open_ = false;
  }

  SecureSumReport* report_;
  ExchangeStream* stream_ = nullptr;
  std::vector<secagg::ClientMessage> waiting_;
  bool writes_open_ = true;
  uint64_t sent_ = 0;
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
  SecureSumReport report;
  StreamToServer to_server(&report);
  FLS_ASSIGN_OR_RETURN(std::unique_ptr<secagg::ClientSession> session,
                       secagg::ClientSession::Create(config, context, key_and_certificate, ca_pem,
                                                     std::move(values), weight, &to_server));
  FLS_RETURN_IF_ERROR(session->Start());
  auto stub = v1::SecureAggregation::NewStub(channel);
  grpc::ClientContext rpc_context;
  SetDeadline(&rpc_context, timeout);
  auto stream = stub->Exchange(&rpc_context);

  // One thread: the session's replies are written while it handles a message (to_server), then
  // the server's next message is read. The server reads on its own thread, so blocking writes
  // cannot deadlock with its writes.
  auto close_when_ended = [&]() {
    if (Ended(session->stage())) to_server.Close();
  };
  to_server.Open(stream.get());
  close_when_ended();
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
    close_when_ended();
  }
  if (!protocol_error.ok()) rpc_context.TryCancel();
  to_server.Close();
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
