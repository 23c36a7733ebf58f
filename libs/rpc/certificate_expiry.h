// flsailer_certificate_expiry_timestamp_seconds{certificate="own"|"ca"}: when a service's own
// certificate and the federation CA expire (Unix seconds), for the "certificate expires soon"
// alert (deploy/prometheus/alerts.yml). Certificates are rotated in place (libs/rpc reloads
// them), so Update() re-reads the files; the services call it periodically.
//
// Thread safety: Update() may be called from any one thread at a time; scrapes are safe meanwhile.
#ifndef FLSAILER_LIBS_RPC_CERTIFICATE_EXPIRY_H_
#define FLSAILER_LIBS_RPC_CERTIFICATE_EXPIRY_H_

#include "absl/status/status.h"
#include "libs/rpc/credentials.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace flsailer::rpc {

class CertificateExpiry {
 public:
  CertificateExpiry(prometheus::Registry& registry, CredentialsOptions files);

  // Reads both certificates and sets the gauges. An unreadable or invalid file leaves its gauge
  // as it was and is returned as the error (the TLS layer reports it too).
  absl::Status Update();

 private:
  CredentialsOptions files_;
  prometheus::Gauge& own_;
  prometheus::Gauge& ca_;
};

}  // namespace flsailer::rpc

#endif  // FLSAILER_LIBS_RPC_CERTIFICATE_EXPIRY_H_
