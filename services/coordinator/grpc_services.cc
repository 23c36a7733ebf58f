#include "services/coordinator/grpc_services.h"

#include <algorithm>
#include <string>

#include "libs/rpc/credentials.h"
#include "libs/rpc/tensor_stream.h"

namespace flsailer::coordinator {
namespace {

constexpr size_t kFileChunkBytes = 1 << 20;

// Runs `body(identity)` for an authenticated caller; the result's status is the call's, and a
// failure is counted under `method`.
template <typename Body>
grpc::Status WithCaller(grpc::ServerContext* context, CoordinatorMetrics* metrics,
                        absl::string_view method, Body&& body) {
  absl::StatusOr<pki::Identity> caller = rpc::PeerIdentity(*context);
  const absl::Status status = caller.ok() ? absl::Status(body(*caller)) : caller.status();
  if (!status.ok() && metrics != nullptr) {
    metrics->Errors(method, absl::StatusCodeToString(status.code())).Increment();
  }
  return rpc::ToGrpcStatus(status);
}

// Copies a StatusOr's value into *out; returns its status.
template <typename T>
absl::Status Into(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return result.status();
  *out = std::move(*result);
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& bytes, grpc::ServerWriter<v1::FileChunk>* writer,
                       CoordinatorMetrics* metrics) {
  if (metrics != nullptr) metrics->BytesSent().Increment(static_cast<double>(bytes.size()));
  size_t offset = 0;
  do {
    v1::FileChunk chunk;
    const size_t n = std::min(kFileChunkBytes, bytes.size() - offset);
    chunk.set_offset(offset);
    chunk.set_data(bytes.substr(offset, n));
    offset += n;
    chunk.set_last(offset == bytes.size());
    if (!writer->Write(chunk)) return absl::CancelledError("the peer went away");
  } while (offset < bytes.size());
  return absl::OkStatus();
}

}  // namespace

grpc::Status AdminService::SubmitJob(grpc::ServerContext* context,
                                     const v1::SubmitJobRequest* request, v1::Job* response) {
  return WithCaller(context, metrics_, "SubmitJob", [&](const pki::Identity& caller) {
    return Into(registry_->SubmitJob(caller, *request), response);
  });
}

grpc::Status AdminService::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                  v1::Job* response) {
  return WithCaller(context, metrics_, "GetJob", [&](const pki::Identity& caller) {
    return Into(registry_->GetJob(caller, *request), response);
  });
}

grpc::Status AdminService::ListJobs(grpc::ServerContext* context,
                                    const v1::ListJobsRequest* request,
                                    v1::ListJobsResponse* response) {
  return WithCaller(context, metrics_, "ListJobs", [&](const pki::Identity& caller) {
    return Into(registry_->ListJobs(caller, *request), response);
  });
}

grpc::Status AdminService::CancelJob(grpc::ServerContext* context,
                                     const v1::CancelJobRequest* request, v1::Job* response) {
  return WithCaller(context, metrics_, "CancelJob", [&](const pki::Identity& caller) {
    return Into(registry_->CancelJob(caller, *request), response);
  });
}

grpc::Status AdminService::ListRounds(grpc::ServerContext* context,
                                      const v1::ListRoundsRequest* request,
                                      v1::ListRoundsResponse* response) {
  return WithCaller(context, metrics_, "ListRounds", [&](const pki::Identity& caller) {
    return Into(registry_->ListRounds(caller, *request), response);
  });
}

grpc::Status AdminService::Download(grpc::ServerContext* context,
                                    const v1::DownloadRequest* request,
                                    grpc::ServerWriter<v1::FileChunk>* writer) {
  return WithCaller(context, metrics_, "Download", [&](const pki::Identity& caller) -> absl::Status {
    absl::StatusOr<std::string> bytes = registry_->Artifact(caller, *request);
    if (!bytes.ok()) return bytes.status();
    return WriteFile(*bytes, writer, metrics_);
  });
}

grpc::Status FederationService::GetTask(grpc::ServerContext* context,
                                        const v1::TaskRequest* request, v1::Task* response) {
  return WithCaller(context, metrics_, "GetTask", [&](const pki::Identity& caller) {
    return Into(registry_->GetTask(caller, *request), response);
  });
}

grpc::Status FederationService::GetPayload(grpc::ServerContext* context,
                                           const v1::PayloadRequest* request,
                                           grpc::ServerWriter<v1::TensorChunk>* writer) {
  return WithCaller(context, metrics_, "GetPayload", [&](const pki::Identity& caller) -> absl::Status {
    auto payload = registry_->GetPayload(caller, *request);
    if (!payload.ok()) return payload.status();
    // The model's weights are float32 in the model: sending them wider would double the bytes.
    const bool single = request->name() == "model";
    if (metrics_ != nullptr) {
      metrics_->BytesSent().Increment(static_cast<double>(
          (*payload)->size() * (single ? sizeof(float) : sizeof(double))));
    }
    const bool sent = rpc::SendTensor(
        **payload, request->header(), request->name(), 0,
        [writer](const v1::TensorChunk& c) { return writer->Write(c); },
        rpc::kDefaultChunkElements,
        single ? v1::TENSOR_ENCODING_FLOAT32_LE : v1::TENSOR_ENCODING_FLOAT64_LE);
    return sent ? absl::OkStatus() : absl::CancelledError("the peer went away");
  });
}

grpc::Status FederationService::Submit(grpc::ServerContext* context,
                                       grpc::ServerReader<v1::TensorChunk>* reader,
                                       v1::SubmitResponse* response) {
  return WithCaller(context, metrics_, "Submit", [&](const pki::Identity& caller) -> absl::Status {
    rpc::TensorAssembler assembler(max_elements_);
    v1::TensorChunk chunk;
    while (!assembler.complete() && reader->Read(&chunk)) {
      if (absl::Status s = assembler.Add(chunk); !s.ok()) return s;
    }
    if (!assembler.complete()) {
      return absl::InvalidArgumentError("the contribution stream ended before its last chunk");
    }
    const v1::MessageHeader header = assembler.header();
    std::vector<double> values = assembler.Take();
    if (metrics_ != nullptr) metrics_->BytesReceived().Increment(assembler.bytes());
    response->set_step_id(header.step());
    response->set_elements(values.size());
    return registry_->Submit(caller, header, std::move(values), assembler.weight());
  });
}

grpc::Status FederationService::GetReferencePeaks(grpc::ServerContext* context,
                                                  const v1::TaskRequest* request,
                                                  grpc::ServerWriter<v1::FileChunk>* writer) {
  return WithCaller(context, metrics_, "GetReferencePeaks", [&](const pki::Identity& caller) -> absl::Status {
    absl::StatusOr<std::string> bed = registry_->ReferencePeaks(caller, *request);
    if (!bed.ok()) return bed.status();
    return WriteFile(*bed, writer, metrics_);
  });
}

}  // namespace flsailer::coordinator
