// The coordinator process: the gRPC server (CoordinatorAdmin, Federation, gRPC health) over mutual
// TLS, optionally the same admin API as HTTPS/JSON (rest_gateway.h), the job registry, and a ticker
// that applies step deadlines.
#ifndef FLSAILER_SERVICES_COORDINATOR_SERVER_H_
#define FLSAILER_SERVICES_COORDINATOR_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "libs/rpc/certificate_expiry.h"
#include "libs/rpc/credentials.h"
#include "libs/telemetry/metrics.h"
#include "services/coordinator/coordinator_metrics.h"
#include "services/coordinator/grpc_services.h"
#include "services/coordinator/job_registry.h"
#include "services/coordinator/rest_gateway.h"

namespace flsailer::coordinator {

struct CoordinatorOptions {
  std::string listen = "0.0.0.0:7443";  // port 0: any free port (see port())
  rpc::CredentialsOptions credentials;
  RegistryOptions registry;
  // host:port of the secure-aggregation service (the coordinator dials it with its own
  // certificate; clients are told the same address). Empty: none, so only jobs asking for
  // insecure plain aggregation can run (and registry.allow_insecure_plain_aggregation must say so).
  std::string aggregator;
  int64_t max_contribution_elements = int64_t{1} << 28;  // 2 GiB of float64
  std::string metrics_listen;  // Prometheus /metrics address; empty: none
  // HTTPS/JSON admin API address ("host:port", port 0: any free port), with the same credentials
  // as gRPC; empty: none.
  std::string rest_listen;
};

// Thread safety: Shutdown() may be called from any thread, once.
class CoordinatorServer {
 public:
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const CoordinatorOptions& options);
  ~CoordinatorServer();

  int port() const { return port_; }
  // The /metrics port, or 0 when metrics are off.
  int metrics_port() const { return metrics_server_ == nullptr ? 0 : metrics_server_->port(); }
  // The REST port, or 0 when REST is off.
  int rest_port() const { return rest_ == nullptr ? 0 : rest_->port(); }
  JobRegistry* registry() { return registry_.get(); }
  // Stops accepting calls, lets running calls finish (up to 5 s), stops the ticker.
  void Shutdown();

 private:
  CoordinatorServer() = default;

  std::unique_ptr<telemetry::MetricsServer> metrics_server_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<rpc::CertificateExpiry> certificate_expiry_;  // with metrics only
  std::unique_ptr<JobRegistry> registry_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<FederationService> federation_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RestGateway> rest_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread ticker_;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_SERVER_H_
