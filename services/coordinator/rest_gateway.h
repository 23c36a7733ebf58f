// The coordinator's admin API as HTTPS/JSON: the messages of the CoordinatorAdmin gRPC service in
// protobuf's JSON mapping (field names as in the .proto), served over mutual TLS.
//
//   POST /v1/jobs                         SubmitJobRequest      -> Job
//   GET  /v1/jobs                                               -> ListJobsResponse
//   GET  /v1/jobs/{id}                                          -> Job
//   POST /v1/jobs/{id}:cancel             CancelJobRequest      -> Job   (body optional)
//   GET  /v1/jobs/{id}/rounds                                   -> ListRoundsResponse
//   GET  /v1/jobs/{id}/model              the flat float32 parameters (application/octet-stream)
//   GET  /v1/jobs/{id}/selected_peaks.bed the selected peaks (text/plain)
//
// The job id in the path fills the request's `id`; a body naming another job is refused. POST
// bodies may have any content type (curl -d sends its form type); none, or an empty one, is the
// empty message. GET routes ignore bodies. Bodies over kMaxBodyBytes are refused (413) unread.
//
// Errors carry the absl status as the HTTP status (InvalidArgument 400, Unauthenticated 401,
// PermissionDenied 403, NotFound 404, AlreadyExists and FailedPrecondition 409, Unavailable 503,
// anything else 500) and the body {"code": "NOT_FOUND", "message": "..."}; unknown routes are 404
// and malformed JSON is 400 with the parser's message, in the same form.
//
// Security: TLS 1.2 or later; a connection is accepted only with a client certificate that chains
// to the federation CA, is currently valid and is meant for TLS clients, as on the gRPC port
// (libs/rpc/credentials.h). The caller's identity is read from that certificate and JobRegistry
// authorises it (admin identities only). Every connection makes a full handshake (no session
// resumption), so every request was verified against the CA as currently loaded. The key,
// certificate and CA files are re-read every `reload_interval_seconds`; a rotated set that does
// not check out (key not matching, certificate not a valid server identity of the CA) is ignored
// until it does, and the previous one keeps serving.
//
// Thread safety: requests run concurrently on the gateway's own threads (JobRegistry is
// thread-safe); port() and Stop() may be called from any thread, Stop() more than once.
#ifndef FLSAILER_SERVICES_COORDINATOR_REST_GATEWAY_H_
#define FLSAILER_SERVICES_COORDINATOR_REST_GATEWAY_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "libs/rpc/credentials.h"

namespace httplib {
class SSLServer;
}  // namespace httplib

namespace flsailer::coordinator {

class JobRegistry;


class RestGateway {
 public:
  static constexpr size_t kMaxBodyBytes = size_t{64} << 20;

  // Serves `registry` (borrowed: it must outlive the gateway) on `host`:`port` (0: any free port,
  // see port()). The TLS files are those of `tls` (ca_cert_path, cert_path, key_path,
  // reload_interval_seconds); fails, naming the file, unless they are readable, the key belongs
  // to the certificate and the certificate is a currently valid server identity issued by the CA.
  // Plaintext is refused: an HTTP caller has no identity to authorise.
  static absl::StatusOr<std::unique_ptr<RestGateway>> Start(const std::string& host, int port,
                                                            const rpc::CredentialsOptions& tls,
                                                            JobRegistry* registry);
  RestGateway(const RestGateway&) = delete;
  RestGateway& operator=(const RestGateway&) = delete;
  ~RestGateway();

  int port() const { return port_; }
  // Stops accepting connections and waits for the requests in progress (an idle keep-alive
  // connection is closed within a second).
  void Stop();

 private:
  class TlsFiles;
  RestGateway();

  // Declared first so that it outlives the server, whose handshakes read it.
  std::unique_ptr<TlsFiles> tls_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  absl::Mutex stop_mu_;
  std::thread listener_ ABSL_GUARDED_BY(stop_mu_);
  std::atomic<bool> listener_done_{false};
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_REST_GATEWAY_H_
