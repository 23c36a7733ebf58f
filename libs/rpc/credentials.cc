#include "libs/rpc/credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::rpc {
namespace {

// Re-reads the key, certificate and CA files every interval (at least a second: 0 would spin).
std::shared_ptr<grpc::experimental::CertificateProviderInterface> FileWatcher(
    const CredentialsOptions& options) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_path, options.cert_path, options.ca_cert_path,
      std::max(1u, options.reload_interval_seconds));
}

}  // namespace

absl::StatusOr<CheckedFiles> CheckCredentialFiles(const CredentialsOptions& options,
                                                  bool server) {
  CheckedFiles files;
  FLS_ASSIGN_OR_RETURN(files.ca_pem, ReadFileToString(options.ca_cert_path));
  FLS_ASSIGN_OR_RETURN(files.own, pki::ReadKeyAndCertificate(options.key_path, options.cert_path));
  absl::StatusOr<pki::CertificateInfo> info = pki::VerifyAgainstCa(files.own.cert_pem,
                                                                   files.ca_pem);
  if (!info.ok()) {
    return absl::Status(info.status().code(),
                        absl::StrCat(options.cert_path, ": ", info.status().message(),
                                     " (CA ", options.ca_cert_path, ")"));
  }
  files.info = *info;
  if (server && files.info.identity.kind != pki::IdentityKind::kServer) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.cert_path, ": ", pki::KindName(files.info.identity.kind),
                     " certificates cannot serve; issue one with --kind server"));
  }
  return files;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const CredentialsOptions& options) {
  if (options.insecure_plaintext_for_development) return grpc::InsecureServerCredentials();
  FLS_RETURN_IF_ERROR(CheckCredentialFiles(options, /*server=*/true).status());
  grpc::experimental::TlsServerCredentialsOptions tls(FileWatcher(options));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const CredentialsOptions& options) {
  if (options.insecure_plaintext_for_development) return grpc::InsecureChannelCredentials();
  FLS_RETURN_IF_ERROR(CheckCredentialFiles(options, /*server=*/false).status());
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(FileWatcher(options));
  tls.watch_root_certs();
  tls.watch_identity_key_cert_pairs();
  // Chain, validity, purpose (serverAuth) and the dialled host name against the server's SANs.
  tls.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(tls);
}

absl::StatusOr<pki::Identity> PeerIdentity(const grpc::AuthContext& auth_context) {
  const std::vector<grpc::string_ref> pems =
      auth_context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return absl::UnauthenticatedError("the peer presented no certificate");
  absl::StatusOr<pki::CertificateInfo> info =
      pki::ReadIdentity(absl::string_view(pems.front().data(), pems.front().size()));
  if (!info.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the peer's certificate names no identity: ", info.status().message()));
  }
  return info->identity;
}

absl::StatusOr<pki::Identity> PeerIdentity(const grpc::ServerContextBase& context) {
  return PeerIdentity(*context.auth_context());
}

}  // namespace flsailer::rpc
