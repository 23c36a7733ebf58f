#include "services/client/client_runner.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "flsailer/v1/coordinator.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "services/aggregator/proto_convert.h"
#include "services/aggregator/secagg_client.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/tensor_stream.h"
#include "libs/telemetry/metrics.h"
#include "libs/telemetry/progress.h"

namespace flsailer::client {
namespace {

using federation::StepKind;

constexpr int64_t kMaxPayloadElements = int64_t{1} << 28;

absl::StatusOr<StepKind> ParseStep(const std::string& name) {
  for (StepKind k : {StepKind::kStatistics, StepKind::kSubspace, StepKind::kTrain,
                     StepKind::kClusters}) {
    if (name == federation::StepKindName(k)) return k;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown step '", name, "' from the coordinator"));
}

class Session {
 public:
  Session(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel,
          std::string institution)
      : options_(options),
        stub_(v1::Federation::NewStub(std::move(channel))),
        institution_(std::move(institution)) {}

  v1::MessageHeader Header(uint64_t step) {
    v1::MessageHeader h;
    h.mutable_job_id()->set_value(options_.job_id);
    h.mutable_sender()->set_value(institution_);
    h.set_sequence(++sequence_);
    h.set_step(step);
    return h;
  }

  absl::StatusOr<v1::Task> GetTask() {
    v1::TaskRequest req;
    *req.mutable_header() = Header(0);
    v1::Task task;
    grpc::ClientContext ctx;
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->GetTask(&ctx, req, &task)));
    return task;
  }

  absl::StatusOr<std::string> ReferencePeaks() {
    v1::TaskRequest req;
    *req.mutable_header() = Header(0);
    grpc::ClientContext ctx;
    auto reader = stub_->GetReferencePeaks(&ctx, req);
    std::string bed;
    v1::FileChunk chunk;
    while (reader->Read(&chunk)) {
      if (chunk.offset() != bed.size()) {
        return absl::DataLossError("reference peaks arrived out of order");
      }
      bed += chunk.data();
    }
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(reader->Finish()));
    return bed;
  }

  // The task's payloads: those whose version this client already holds from the cache, the
  // others fetched (and cached, replacing the older version of the same name).
  absl::StatusOr<federation::Payload> Payloads(const v1::Task& task) {
    if (task.payload_version_size() != 0 && task.payload_version_size() != task.payload_size()) {
      return absl::InvalidArgumentError("the task's payload versions do not match its payloads");
    }
    federation::Payload payload;
    for (int i = 0; i < task.payload_size(); ++i) {
      const std::string& name = task.payload(i);
      // Versions are only meaningful when the coordinator sends them; 0 = always fetch.
      const uint64_t version = task.payload_version_size() > 0 ? task.payload_version(i) : 0;
      auto cached = cache_.find(name);
      if (version != 0 && cached != cache_.end() && cached->second.first == version) {
        payload[name] = cached->second.second;
        continue;
      }
      FLS_ASSIGN_OR_RETURN(payload[name], Fetch(task.step_id(), name));
      cache_[name] = {version, payload[name]};
    }
    return payload;
  }

  // Model updates go as float32 (the model's own precision), sums of statistics as float64.
  absl::Status Submit(uint64_t step_id, const federation::Contribution& c, bool model_update) {
    grpc::ClientContext ctx;
    v1::SubmitResponse response;
    auto writer = stub_->Submit(&ctx, &response);
    int64_t bytes = 0;
    rpc::SendTensor(
        c.values, Header(step_id), "contribution", c.weight,
        [&writer, &bytes](const v1::TensorChunk& chunk) {
          bytes += static_cast<int64_t>(chunk.ByteSizeLong());
          return writer->Write(chunk);
        },
        rpc::kDefaultChunkElements,
        model_update ? v1::TENSOR_ENCODING_FLOAT32_LE : v1::TENSOR_ENCODING_FLOAT64_LE);
    writer->WritesDone();
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(writer->Finish()));
    bytes_sent_ += bytes;
    return absl::OkStatus();
  }

  // Checks what a secure task asks of this client (certificates to sign with, a divisor, an
  // aggregator) and connects to that aggregator. Errors here are this client's or the task's:
  // the run ends.
  absl::Status PrepareSecureSum(const v1::Task& task) {
    if (!secure_identity_.has_value()) {
      if (options_.credentials.insecure_plaintext_for_development) {
        return absl::FailedPreconditionError(
            "the job sums securely, which needs certificates (not --insecure-plaintext-dev)");
      }
      FLS_ASSIGN_OR_RETURN(secure_identity_,
                           rpc::CheckCredentialFiles(options_.credentials, /*server=*/false));
    }
    const v1::SecureSumTask& secure = task.secure_sum();
    if (!(secure.divisor() > 0) || !std::isfinite(secure.divisor())) {
      return absl::InvalidArgumentError(
          absl::StrCat("the coordinator sent an invalid divisor ", secure.divisor()));
    }
    const std::string address =
        options_.aggregator.empty() ? secure.aggregator() : options_.aggregator;
    if (address.empty()) return absl::InvalidArgumentError("the task names no aggregator");
    if (aggregator_address_ != address) {
      FLS_ASSIGN_OR_RETURN(auto credentials, rpc::ChannelCredentials(options_.credentials));
      aggregator_ = options_.make_channel ? options_.make_channel(address, credentials)
                                          : grpc::CreateChannel(address, credentials);
      aggregator_address_ = address;
    }
    return absl::OkStatus();
  }

  // Sends `c` through the aggregator (after PrepareSecureSum), then acknowledges it to the
  // coordinator (no values, the weight). An error means this step's secure sum did not complete
  // with us in it (the round aborted or went on without us, a peer or service went away) or the
  // acknowledgement was lost; either way the step goes on without us.
  absl::Status SecureSubmit(const v1::Task& task, const federation::Contribution& c) {
    const v1::SecureSumTask& secure = task.secure_sum();
    std::vector<double> values = c.values;
    for (double& v : values) v /= secure.divisor();
    const secagg::RoundContext context{options_.job_id, task.step_id()};
    FLS_ASSIGN_OR_RETURN(
        aggregator::SecureSumReport report,
        aggregator::RunSecureSum(aggregator_, aggregator::FromProto(secure.config()), context,
                                 secure_identity_->own, secure_identity_->ca_pem,
                                 std::move(values), c.weight, secure_sum_timeout_));
    bytes_sent_ += report.bytes_sent;
    bytes_received_ += report.bytes_received;
    if (report.clipped_values > 0 && options_.progress) {
      options_.progress(absl::StrCat("warning: ", report.clipped_values,
                                     " values were clipped to the secure sum's range in step ",
                                     task.step_id()));
    }
    return Submit(task.step_id(), federation::Contribution{{}, c.weight}, false);
  }

  void set_secure_sum_timeout(absl::Duration timeout) { secure_sum_timeout_ = timeout; }

  int64_t bytes_sent() const { return bytes_sent_; }
  int64_t bytes_received() const { return bytes_received_; }

 private:
  const ClientOptions& options_;
  std::unique_ptr<v1::Federation::Stub> stub_;
  std::string institution_;
  uint64_t sequence_ = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
  int64_t bytes_sent_ = 0;
  int64_t bytes_received_ = 0;
  std::map<std::string, std::pair<uint64_t, std::shared_ptr<const std::vector<double>>>> cache_;
  std::optional<rpc::CheckedFiles> secure_identity_;  // read at the first secure sum
  std::string aggregator_address_;
  std::shared_ptr<grpc::Channel> aggregator_;
  absl::Duration secure_sum_timeout_ = absl::Minutes(30);

  absl::StatusOr<std::shared_ptr<const std::vector<double>>> Fetch(uint64_t step_id,
                                                                   const std::string& name) {
    v1::PayloadRequest req;
    *req.mutable_header() = Header(step_id);
    req.set_name(name);
    grpc::ClientContext ctx;
    auto reader = stub_->GetPayload(&ctx, req);
    rpc::TensorAssembler assembler(kMaxPayloadElements);
    v1::TensorChunk chunk;
    absl::Status parsed = absl::OkStatus();
    while (reader->Read(&chunk)) {
      bytes_received_ += static_cast<int64_t>(chunk.ByteSizeLong());
      if (parsed.ok()) parsed = assembler.Add(chunk);
    }
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(reader->Finish()));
    FLS_RETURN_IF_ERROR(parsed);
    if (!assembler.complete() || assembler.name() != name) {
      return absl::DataLossError(absl::StrCat("payload '", name, "' arrived incomplete"));
    }
    return std::make_shared<const std::vector<double>>(assembler.Take());
  }
};

absl::StatusOr<federation::Task> ToCoreTask(const v1::Task& t, federation::Payload payload) {
  federation::Task task;
  task.step_id = static_cast<int64_t>(t.step_id());
  FLS_ASSIGN_OR_RETURN(task.step, ParseStep(t.step()));
  task.round = static_cast<int32_t>(t.round());
  task.local_epochs = static_cast<int32_t>(t.local_epochs());
  task.first_epoch = static_cast<int32_t>(t.first_epoch());
  task.selection_version = t.selection_version();
  task.payload = std::move(payload);
  task.kind = t.kind() == v1::Task::KIND_FINISHED ? federation::Task::Kind::kFinished
                                                  : federation::Task::Kind::kWork;
  return task;
}

// The client's Prometheus series; no-ops without a registry.
class ClientMetrics {
 public:
  explicit ClientMetrics(prometheus::Registry* registry) {
    if (registry == nullptr) return;
    steps_ = &telemetry::CounterFamily(*registry, "client_steps_total",
                                       "Schedule steps answered, by phase");
    sent_ = &telemetry::CounterFamily(*registry, "client_sent_bytes_total",
                                      "Contribution bytes sent").Add({});
    round_ = &telemetry::GaugeFamily(*registry, "client_round", "Last training round answered")
                  .Add({});
  }
  void Answered(const v1::Task& task, int64_t bytes) {
    if (steps_ == nullptr) return;
    steps_->Add({{"phase", task.step()}}).Increment();
    sent_->Increment(static_cast<double>(bytes));
    if (task.step() == "train") round_->Set(task.round());
  }

 private:
  prometheus::Family<prometheus::Counter>* steps_ = nullptr;
  prometheus::Counter* sent_ = nullptr;
  prometheus::Gauge* round_ = nullptr;
};

}  // namespace

absl::StatusOr<ClientOutcome> RunClient(const ClientOptions& options) {
  auto say = [&options](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  FLS_ASSIGN_OR_RETURN(std::string cert_pem, ReadFileToString(options.credentials.cert_path));
  FLS_ASSIGN_OR_RETURN(pki::CertificateInfo me, pki::ReadIdentity(cert_pem));
  if (me.identity.kind != pki::IdentityKind::kInstitution) {
    return absl::InvalidArgumentError(absl::StrCat(options.credentials.cert_path,
                                                   " is not an institution certificate"));
  }
  FLS_ASSIGN_OR_RETURN(auto credentials, rpc::ChannelCredentials(options.credentials));
  Session session(options,
                  options.make_channel ? options.make_channel(options.coordinator, credentials)
                                       : grpc::CreateChannel(options.coordinator, credentials),
                  me.identity.id);

  FLS_ASSIGN_OR_RETURN(v1::Task first, session.GetTask());
  ClientOutcome outcome;
  outcome.spec = first.spec();
  FLS_ASSIGN_OR_RETURN(std::string bed, session.ReferencePeaks());
  FLS_RETURN_IF_ERROR(MakeDirectories(options.work_dir));
  const std::string reference = options.work_dir + "/reference_peaks.bed";
  {
    FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(reference));
    FLS_RETURN_IF_ERROR(out->Write(bed));
    FLS_RETURN_IF_ERROR(out->Close());
  }
  data::LoadOptions load = options.load;
  load.reference_bed = reference;
  FLS_ASSIGN_OR_RETURN(outcome.dataset, data::LoadDataset(options.input, load));
  say(absl::StrCat("loaded ", outcome.dataset.matrix.rows, " cells on ",
                   outcome.dataset.matrix.cols, " reference peaks"));
  FLS_ASSIGN_OR_RETURN(auto core, federation::ClientCore::Create(outcome.spec, me.identity.id,
                                                                 outcome.dataset.matrix,
                                                                 options.threads));
  const telemetry::ProgressTimer timer;
  ClientMetrics metrics(options.metrics);
  absl::Time unreachable_since = absl::InfiniteFuture();
  // Transient trouble: the coordinator restarting (UNAVAILABLE) or a step that closed while we
  // worked on it (FAILED_PRECONDITION from a stale step). Anything else ends the run.
  auto transient = [&](const absl::Status& s) -> absl::Status {
    if (absl::IsFailedPrecondition(s)) {
      say(absl::StrCat("step skipped: ", s.message()));
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(s)) return s;
    const absl::Time now = absl::Now();
    unreachable_since = std::min(unreachable_since, now);
    if (now - unreachable_since > absl::Seconds(options.reconnect_seconds)) {
      return absl::UnavailableError(absl::StrCat("the coordinator has been unreachable for ",
                                                 options.reconnect_seconds, " s: ", s.message()));
    }
    say(absl::StrCat("coordinator unreachable, retrying: ", s.message()));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return absl::OkStatus();
  };
  // Each secure-sum stage may wait up to 3/4 of the job's client timeout (secure_aggregator.h).
  const int64_t client_timeout =
      outcome.spec.client_timeout_seconds() > 0 ? outcome.spec.client_timeout_seconds() : 600;
  session.set_secure_sum_timeout(absl::Seconds(4 * client_timeout));
  // A secure sum that did not complete (the round aborted, this client too late or excluded,
  // the aggregator unreachable) loses only this step's contribution: the coordinator carries on
  // without it or retries the step, and a job that cannot go on fails and says why.
  std::set<uint64_t> given_up_steps;
  for (;;) {
    absl::StatusOr<v1::Task> polled = session.GetTask();
    if (!polled.ok()) {
      FLS_RETURN_IF_ERROR(transient(polled.status()));
      continue;
    }
    unreachable_since = absl::InfiniteFuture();
    const v1::Task& task = *polled;
    const bool given_up =  // a secure sum we could not finish: the step goes on without us
        task.kind() == v1::Task::KIND_WORK && given_up_steps.count(task.step_id()) > 0;
    switch (given_up ? v1::Task::KIND_WAIT : task.kind()) {
      case v1::Task::KIND_WAIT:
        std::this_thread::sleep_for(std::chrono::milliseconds(task.retry_after_ms()));
        continue;
      case v1::Task::KIND_FAILED:
        return absl::AbortedError(absl::StrCat("the job ended: ", task.reason()));
      case v1::Task::KIND_FINISHED: {
        FLS_ASSIGN_OR_RETURN(federation::Payload payload, session.Payloads(task));
        FLS_ASSIGN_OR_RETURN(federation::Task done, ToCoreTask(task, std::move(payload)));
        FLS_ASSIGN_OR_RETURN(outcome.results, core->Results(done));
        outcome.bytes_sent = session.bytes_sent();
        outcome.bytes_received = session.bytes_received();
        say(absl::StrCat("job finished; sent ", outcome.bytes_sent, " bytes, received ",
                         outcome.bytes_received));
        return outcome;
      }
      case v1::Task::KIND_WORK: {
        const bool train = task.step() == "train";
        RoundCost cost;
        cost.round = static_cast<int32_t>(task.round());
        const int64_t received_before = session.bytes_received();
        const int64_t sent_before = session.bytes_sent();
        const telemetry::ProgressTimer fetch;
        absl::StatusOr<federation::Payload> payload = session.Payloads(task);
        if (!payload.ok()) {
          FLS_RETURN_IF_ERROR(transient(payload.status()));
          continue;
        }
        cost.transfer_seconds = fetch.ElapsedSeconds();
        FLS_ASSIGN_OR_RETURN(federation::Task work, ToCoreTask(task, std::move(*payload)));
        const telemetry::ProgressTimer compute;
        FLS_ASSIGN_OR_RETURN(federation::Contribution c, core->Work(work));
        cost.train_seconds = compute.ElapsedSeconds();
        const telemetry::ProgressTimer submit;
        if (task.has_secure_sum()) {
          FLS_RETURN_IF_ERROR(session.PrepareSecureSum(task));
          if (absl::Status sent = session.SecureSubmit(task, c); !sent.ok()) {
            say(absl::StrCat("step ", task.step_id(), ": the secure sum did not complete: ",
                             sent.message()));
            given_up_steps.insert(task.step_id());  // the aggregator would not take us again
            continue;
          }
        } else if (absl::Status sent = session.Submit(task.step_id(), c, train); !sent.ok()) {
          FLS_RETURN_IF_ERROR(transient(sent));
          continue;
        }
        cost.transfer_seconds += submit.ElapsedSeconds();
        cost.bytes_received = session.bytes_received() - received_before;
        cost.bytes_sent = session.bytes_sent() - sent_before;
        metrics.Answered(task, cost.bytes_sent);
        if (train) {
          outcome.rounds.push_back(cost);
          say(absl::StrCat(timer.Format("round", task.round(), outcome.spec.rounds()), " sent"));
        } else {
          say(absl::StrCat("step ", task.step_id(), " (", task.step(), ") sent"));
        }
        continue;
      }
      default:
        return absl::InternalError("the coordinator sent a task of unknown kind");
    }
  }
}

}  // namespace flsailer::client
