// The aggregator process: the gRPC server (SecureAggregation, AggregatorControl, gRPC health)
// over mutual TLS, the round registry (aggregator_core.h), a ticker that applies stage
// deadlines, and optionally a Prometheus /metrics endpoint.
#ifndef FLSAILER_SERVICES_AGGREGATOR_SERVER_H_
#define FLSAILER_SERVICES_AGGREGATOR_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "libs/rpc/certificate_expiry.h"
#include "libs/rpc/credentials.h"
#include "libs/telemetry/metrics.h"
#include "services/aggregator/aggregator_core.h"
#include "services/aggregator/grpc_services.h"

namespace flsailer::aggregator {

struct AggregatorOptions {
  std::string listen = "0.0.0.0:7445";  // port 0: any free port (see port())
  // A server identity (also the CA every client's round keys must chain to).
  rpc::CredentialsOptions credentials;
  // The server identity allowed to call AggregatorControl; empty: any server identity.
  std::string coordinator_id = "coordinator";
  std::string metrics_listen;  // Prometheus /metrics address; empty: none
  // How often stage deadlines are checked.
  absl::Duration tick_interval = absl::Milliseconds(200);
};

// Thread safety: Shutdown() may be called from any thread, once.
class AggregatorServer {
 public:
  static absl::StatusOr<std::unique_ptr<AggregatorServer>> Start(const AggregatorOptions& options);
  ~AggregatorServer();

  int port() const { return port_; }
  int metrics_port() const { return metrics_server_ == nullptr ? 0 : metrics_server_->port(); }
  AggregatorCore* core() { return core_.get(); }
  // Stops accepting calls, lets running calls finish (up to 5 s), stops the ticker.
  void Shutdown();

 private:
  AggregatorServer() = default;

  std::unique_ptr<telemetry::MetricsServer> metrics_server_;
  std::unique_ptr<AggregatorMetrics> metrics_;
  std::unique_ptr<rpc::CertificateExpiry> certificate_expiry_;  // with metrics only
  std::unique_ptr<AggregatorCore> core_;
  std::unique_ptr<SecureAggregationService> secure_aggregation_;
  std::unique_ptr<AggregatorControlService> control_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread ticker_;
};

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_SERVER_H_
