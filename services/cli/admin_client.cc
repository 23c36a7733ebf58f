#include "services/cli/admin_client.h"

#include <chrono>
#include <thread>

#include "grpcpp/create_channel.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/tensor_stream.h"

namespace flsailer::cli {

absl::StatusOr<AdminClient> AdminClient::Connect(const std::string& target,
                                                 const rpc::CredentialsOptions& credentials) {
  FLS_ASSIGN_OR_RETURN(auto channel_credentials, rpc::ChannelCredentials(credentials));
  return AdminClient(
      v1::CoordinatorAdmin::NewStub(grpc::CreateChannel(target, channel_credentials)));
}

absl::StatusOr<v1::Job> AdminClient::Get(const std::string& id) {
  grpc::ClientContext ctx;
  v1::GetJobRequest req;
  req.mutable_id()->set_value(id);
  v1::Job job;
  FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->GetJob(&ctx, req, &job)));
  return job;
}

absl::StatusOr<v1::Job> AdminClient::Wait(
    const std::string& id, const std::function<absl::Status(const v1::Job&)>& on_poll,
    int poll_ms) {
  for (;;) {
    FLS_ASSIGN_OR_RETURN(v1::Job job, Get(id));
    FLS_RETURN_IF_ERROR(on_poll(job));
    if (job.state() == v1::JOB_STATE_FINISHED) return job;
    if (job.state() == v1::JOB_STATE_FAILED) return absl::AbortedError(job.error());
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

absl::Status AdminClient::Download(const std::string& id, const std::string& artifact,
                                   const std::function<absl::Status(absl::string_view)>& sink) {
  grpc::ClientContext ctx;
  v1::DownloadRequest req;
  req.mutable_id()->set_value(id);
  req.set_artifact(artifact);
  auto reader = stub_->Download(&ctx, req);
  v1::FileChunk chunk;
  absl::Status written = absl::OkStatus();
  while (reader->Read(&chunk)) {
    if (written.ok()) written = sink(chunk.data());
  }
  if (!written.ok()) {
    ctx.TryCancel();
    reader->Finish();
    return written;
  }
  return rpc::FromGrpcStatus(reader->Finish());
}

}  // namespace flsailer::cli
