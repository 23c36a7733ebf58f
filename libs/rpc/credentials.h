// gRPC transport security for every hop of the federation: mutual TLS against the federation CA
// (libs/pki), with certificates reloaded when their files change.
//
// A server built with ServerCredentials completes a TLS handshake only with a client that presents
// a certificate chaining to the federation CA, currently valid, and meant for TLS clients; the
// handler then learns who called with PeerIdentity. A channel built with ChannelCredentials
// presents this process's certificate and accepts only a server whose certificate chains to the
// same CA, is meant for TLS servers (so an institution's certificate cannot pose as the
// coordinator) and names the host or IP address dialled.
//
// Key, certificate and CA files are re-read every `reload_interval_seconds`; a rotated
// certificate (`flsailer pki issue` over the old files) serves new connections from then on,
// without a restart. Established connections keep the certificates of their handshake.
//
// Thread safety: the functions are thread-safe; the credentials they return may be shared by any
// number of servers and channels.
#ifndef FLSAILER_LIBS_RPC_CREDENTIALS_H_
#define FLSAILER_LIBS_RPC_CREDENTIALS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/pki/pki.h"

namespace flsailer::rpc {

struct CredentialsOptions {
  std::string ca_cert_path;  // the federation CA certificate (PEM)
  std::string cert_path;     // this process's certificate (PEM)
  std::string key_path;      // its private key (PEM)
  // How often the three files are checked for changes.
  unsigned int reload_interval_seconds = 60;
  // Plaintext with no authentication at all, for local development only: anyone who can reach
  // the port can call, and PeerIdentity fails for every call. The paths are ignored.
  bool insecure_plaintext_for_development = false;
};

// What CheckCredentialFiles read.
struct CheckedFiles {
  pki::KeyAndCertificate own;  // this process's key and certificate (PEM)
  std::string ca_pem;
  pki::CertificateInfo info;   // of `own`
};

// Reads the three files and checks them before any TLS stack sees them (gRPC's reloader only
// logs unreadable files and then fails every handshake; a misconfigured service should not
// start): readable, the key belongs to the certificate, the certificate is currently valid, was
// issued by the CA and, for a `server`, is a server identity. Errors name the file.
absl::StatusOr<CheckedFiles> CheckCredentialFiles(const CredentialsOptions& options, bool server);

// Credentials for a server that requires, and verifies, client certificates. Fails, naming the
// file, unless the files are readable, the key belongs to the certificate, and the certificate is a
// currently valid server identity issued by the CA.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const CredentialsOptions& options);

// Credentials for a channel that presents this process's certificate (any identity kind) and
// verifies the server's. Fails, naming the file, unless the files are readable, the key belongs to
// the certificate, and the certificate is currently valid and issued by the CA.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const CredentialsOptions& options);

// The identity in the certificate the peer presented in the handshake, read from the
// authentication context of a call (server side: ServerContext::auth_context(); client side, after
// a call: ClientContext::auth_context()). UNAUTHENTICATED when the peer presented no certificate
// (plaintext) or its certificate names no valid flsailer:// identity. This only reads the
// certificate: trust comes from the handshake, which verified it against the CA on a server built
// with ServerCredentials (or a channel built with ChannelCredentials).
absl::StatusOr<pki::Identity> PeerIdentity(const grpc::AuthContext& auth_context);
// The same, for the caller of a server method (synchronous or callback API).
absl::StatusOr<pki::Identity> PeerIdentity(const grpc::ServerContextBase& context);

}  // namespace flsailer::rpc

#endif  // FLSAILER_LIBS_RPC_CREDENTIALS_H_
