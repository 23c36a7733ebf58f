// The client process's work: one institution taking part in one federated job. Outbound
// connections only (it works behind a hospital firewall): it asks the coordinator for tasks,
// downloads their payloads, computes its contributions with federation::ClientCore on its own
// cells and streams them back. Nothing cell-level leaves this process.
#ifndef FLSAILER_SERVICES_CLIENT_CLIENT_RUNNER_H_
#define FLSAILER_SERVICES_CLIENT_CLIENT_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "libs/federation/client.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "libs/rpc/credentials.h"
#include "prometheus/registry.h"

namespace flsailer::client {

struct ClientOptions {
  std::string coordinator;            // host:port
  // host:port of the secure aggregator, when this site reaches it under another address than
  // the one the coordinator's tasks name; empty: the task's.
  std::string aggregator;
  rpc::CredentialsOptions credentials;
  std::string job_id;
  std::string input;                  // any supported format
  data::LoadOptions load;             // reference_bed is set to the job's reference
  std::string work_dir;               // the job's reference BED is written here
  int threads = 1;
  // How long to keep retrying while the coordinator is unreachable (it may be restarting).
  int32_t reconnect_seconds = 600;
  // Called with one line per event worth telling (step started, round i/n with ETA, ...).
  std::function<void(const std::string&)> progress;
  // Where to publish flsailer_client_* series (not owned; may be null).
  prometheus::Registry* metrics = nullptr;
  // Makes the channel to the coordinator (default grpc::CreateChannel); tests add interceptors
  // here to record what the client sends.
  std::function<std::shared_ptr<grpc::Channel>(const std::string&,
                                               std::shared_ptr<grpc::ChannelCredentials>)>
      make_channel;
};

// What one answered training round cost this client. Bytes are the serialized messages of the
// model's streams as gRPC carries them (before HTTP/2 framing and TLS).
struct RoundCost {
  int32_t round = 0;
  double train_seconds = 0;     // local training
  double transfer_seconds = 0;  // fetching the task's payloads and sending the update
  int64_t bytes_received = 0;
  int64_t bytes_sent = 0;
};

struct ClientOutcome {
  data::Dataset dataset;              // the local cells on the job's reference peaks
  federation::LocalResults results;   // embedding and federated clusters of those cells
  v1::JobSpec spec;
  int64_t bytes_sent = 0;             // contribution streams sent to the coordinator
  int64_t bytes_received = 0;         // payload streams received from it
  std::vector<RoundCost> rounds;      // one per training round answered
};

// Runs the job to its end. Payloads whose version is unchanged since the last task (the
// statistics, an unchanged selection) are reused rather than fetched again. A coordinator that goes away and comes back (restarted, resuming the
// job) is waited for; a step that ended while this client worked on it is skipped.
// Errors: the coordinator unreachable for longer than reconnect_seconds or refusing us (with
// its message),
// the job failing or dropping us (its reason), local data that cannot be loaded or mapped.
absl::StatusOr<ClientOutcome> RunClient(const ClientOptions& options);

}  // namespace flsailer::client

#endif  // FLSAILER_SERVICES_CLIENT_CLIENT_RUNNER_H_
