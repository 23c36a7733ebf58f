#include "libs/rpc/certificate_expiry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/telemetry/metrics.h"

namespace flsailer::rpc {
namespace {

absl::Status SetExpiry(const std::string& path, prometheus::Gauge& gauge) {
  FLS_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  absl::StatusOr<pki::Validity> validity = pki::ReadValidity(pem);
  if (!validity.ok()) {
    return absl::Status(validity.status().code(),
                        absl::StrCat(path, ": ", validity.status().message()));
  }
  gauge.Set(absl::ToDoubleSeconds(validity->not_after - absl::UnixEpoch()));
  return absl::OkStatus();
}

}  // namespace

CertificateExpiry::CertificateExpiry(prometheus::Registry& registry, CredentialsOptions files)
    : files_(std::move(files)),
      own_(telemetry::GaugeFamily(registry, "certificate_expiry_timestamp_seconds",
                                  "When a certificate stops being valid (Unix time)")
               .Add({{"certificate", "own"}})),
      ca_(telemetry::GaugeFamily(registry, "certificate_expiry_timestamp_seconds",
                                 "When a certificate stops being valid (Unix time)")
              .Add({{"certificate", "ca"}})) {}

absl::Status CertificateExpiry::Update() {
  if (files_.insecure_plaintext_for_development) return absl::OkStatus();
  absl::Status own = SetExpiry(files_.cert_path, own_);
  absl::Status ca = SetExpiry(files_.ca_cert_path, ca_);
  return own.ok() ? ca : own;
}

}  // namespace flsailer::rpc
