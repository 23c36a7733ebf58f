// The coordinator's admin API as the command-line tool uses it (`flsailer job`, `flsailer demo`):
// the stub, plus the two calls that are loops - waiting for a job and downloading an artifact.
//
// Thread safety: as the gRPC stub (calls may be made from several threads).
#ifndef FLSAILER_SERVICES_CLI_ADMIN_CLIENT_H_
#define FLSAILER_SERVICES_CLI_ADMIN_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "flsailer/v1/coordinator.grpc.pb.h"
#include "libs/rpc/credentials.h"

namespace flsailer::cli {

class AdminClient {
 public:
  // A channel to `target` (host:port) with the admin's mutual-TLS files.
  static absl::StatusOr<AdminClient> Connect(const std::string& target,
                                             const rpc::CredentialsOptions& credentials);

  v1::CoordinatorAdmin::Stub& stub() { return *stub_; }

  absl::StatusOr<v1::Job> Get(const std::string& id);

  // Polls job `id` every `poll_ms` until it ends, calling `on_poll` with each answer (it may end
  // the wait early by returning an error, which is returned). The finished job, or Aborted with
  // the job's error when it failed.
  absl::StatusOr<v1::Job> Wait(const std::string& id,
                               const std::function<absl::Status(const v1::Job&)>& on_poll,
                               int poll_ms = 500);

  // Streams artifact `artifact` ("model" or "selected_peaks.bed") of job `id` into `sink`.
  absl::Status Download(const std::string& id, const std::string& artifact,
                        const std::function<absl::Status(absl::string_view)>& sink);

 private:
  explicit AdminClient(std::unique_ptr<v1::CoordinatorAdmin::Stub> stub)
      : stub_(std::move(stub)) {}

  std::shared_ptr<v1::CoordinatorAdmin::Stub> stub_;
};

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_ADMIN_CLIENT_H_
