#include "services/coordinator/server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"

namespace flsailer::coordinator {

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options) {
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer());
  RegistryOptions registry = options.registry;
  if (!options.metrics_listen.empty()) {
    FLS_ASSIGN_OR_RETURN(s->metrics_server_,
                         telemetry::MetricsServer::Start(options.metrics_listen));
    s->metrics_ = std::make_unique<CoordinatorMetrics>(s->metrics_server_->registry());
    registry.metrics = s->metrics_.get();
    s->certificate_expiry_ = std::make_unique<rpc::CertificateExpiry>(
        s->metrics_server_->registry(), options.credentials);
  }
  if (!options.aggregator.empty()) {
    FLS_ASSIGN_OR_RETURN(auto channel_credentials, rpc::ChannelCredentials(options.credentials));
    registry.secure_aggregation = SecureAggregationOptions{
        options.aggregator, grpc::CreateChannel(options.aggregator, channel_credentials)};
  }
  FLS_ASSIGN_OR_RETURN(s->registry_, JobRegistry::Open(registry));
  FLS_ASSIGN_OR_RETURN(auto credentials, rpc::ServerCredentials(options.credentials));
  s->admin_ = std::make_unique<AdminService>(s->registry_.get(), s->metrics_.get());
  s->federation_ = std::make_unique<FederationService>(s->registry_.get(), s->metrics_.get(),
                                                       options.max_contribution_elements);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  builder.RegisterService(s->admin_.get());
  builder.RegisterService(s->federation_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (!options.rest_listen.empty()) {
    FLS_ASSIGN_OR_RETURN(HostPort rest, ParseHostPort(options.rest_listen));
    FLS_ASSIGN_OR_RETURN(s->rest_, RestGateway::Start(rest.host, rest.port, options.credentials,
                                                      s->registry_.get()));
  }
  CoordinatorServer* self = s.get();
  s->ticker_ = std::thread([self] {
    for (int64_t tick = 0; !self->stopping_.load(); ++tick) {
      self->registry_->Tick();
      // Certificates may be rotated in place: re-read their expiry every minute. An unreadable
      // file is reported by the TLS layer; the gauge keeps its last value.
      if (self->certificate_expiry_ != nullptr && tick % 120 == 0) {
        self->certificate_expiry_->Update().IgnoreError();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  return s;
}

void CoordinatorServer::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (rest_ != nullptr) rest_->Stop();
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (ticker_.joinable()) ticker_.join();
}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

}  // namespace flsailer::coordinator
