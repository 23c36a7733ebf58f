#include "services/aggregator/server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "libs/common/status_macros.h"

namespace flsailer::aggregator {

absl::StatusOr<std::unique_ptr<AggregatorServer>> AggregatorServer::Start(
    const AggregatorOptions& options) {
  std::unique_ptr<AggregatorServer> s(new AggregatorServer());
  if (!options.metrics_listen.empty()) {
    FLS_ASSIGN_OR_RETURN(s->metrics_server_,
                         telemetry::MetricsServer::Start(options.metrics_listen));
    s->metrics_ = std::make_unique<AggregatorMetrics>(s->metrics_server_->registry());
    s->certificate_expiry_ = std::make_unique<rpc::CertificateExpiry>(
        s->metrics_server_->registry(), options.credentials);
  }
  FLS_ASSIGN_OR_RETURN(rpc::CheckedFiles files,
                       rpc::CheckCredentialFiles(options.credentials, /*server=*/true));
  FLS_ASSIGN_OR_RETURN(auto credentials, rpc::ServerCredentials(options.credentials));
  s->core_ = std::make_unique<AggregatorCore>(files.ca_pem, s->metrics_.get());
  s->secure_aggregation_ = std::make_unique<SecureAggregationService>(s->core_.get());
  s->control_ = std::make_unique<AggregatorControlService>(s->core_.get(), options.coordinator_id);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  builder.RegisterService(s->secure_aggregation_.get());
  builder.RegisterService(s->control_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  AggregatorServer* self = s.get();
  const auto interval = absl::ToChronoMilliseconds(options.tick_interval);
  s->ticker_ = std::thread([self, interval] {
    absl::Time expiry_read = absl::InfinitePast();
    while (!self->stopping_.load()) {
      self->core_->Tick();
      // Certificates may be rotated in place: re-read their expiry every minute. An unreadable
      // file is reported by the TLS layer; the gauge keeps its last value.
      if (self->certificate_expiry_ != nullptr && absl::Now() - expiry_read > absl::Minutes(1)) {
        self->certificate_expiry_->Update().IgnoreError();
        expiry_read = absl::Now();
      }
      std::this_thread::sleep_for(interval);
    }
  });
  return s;
}

void AggregatorServer::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  if (ticker_.joinable()) ticker_.join();
}

AggregatorServer::~AggregatorServer() { Shutdown(); }

}  // namespace flsailer::aggregator
