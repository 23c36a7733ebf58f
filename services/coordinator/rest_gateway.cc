#include "services/coordinator/rest_gateway.h"

// Before httplib.h, which includes <resolv.h>: its `_res` macro breaks Eigen (which
// job_registry.h includes).
#include "services/coordinator/job_registry.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/telemetry/log.h"

namespace flsailer::coordinator {
namespace {

struct OpenSslFree {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, OpenSslFree>;

Owned<BIO> ReadOnlyBio(absl::string_view pem) {
  return Owned<BIO>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// What a handshake needs, parsed once per (re)load.
struct TlsMaterial {
  Owned<X509> cert;
  Owned<EVP_PKEY> key;
  Owned<X509_STORE> trust;  // every certificate of the CA file
};

// Reads and checks the files as the gRPC port does (rpc::CheckCredentialFiles), then parses them
// for OpenSSL.
absl::StatusOr<std::shared_ptr<const TlsMaterial>> LoadTlsMaterial(
    const rpc::CredentialsOptions& options) {
  FLS_ASSIGN_OR_RETURN(rpc::CheckedFiles files, rpc::CheckCredentialFiles(options, true));
  const pki::KeyAndCertificate& own = files.own;
  const std::string& ca_pem = files.ca_pem;
  auto material = std::make_shared<TlsMaterial>();
  material->cert.reset(PEM_read_bio_X509(ReadOnlyBio(own.cert_pem).get(), nullptr, nullptr,
                                         nullptr));
  material->key.reset(PEM_read_bio_PrivateKey(ReadOnlyBio(own.key_pem).get(), nullptr, nullptr,
                                              nullptr));
  material->trust.reset(X509_STORE_new());
  if (material->cert == nullptr || material->key == nullptr || material->trust == nullptr) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("OpenSSL cannot load ", options.cert_path));
  }
  Owned<BIO> ca_bio = ReadOnlyBio(ca_pem);
  while (Owned<X509> ca{PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)}) {
    X509_STORE_add_cert(material->trust.get(), ca.get());
  }
  ERR_clear_error();  // the end of the file is reported as an error
  return material;
}

// The identity in the client certificate of the connection, which the handshake verified.
absl::StatusOr<pki::Identity> Caller(const httplib::Request& request) {
  X509* cert = request.ssl == nullptr ? nullptr : SSL_get0_peer_certificate(request.ssl);
  if (cert == nullptr) return absl::UnauthenticatedError("the peer presented no certificate");
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot encode the peer's certificate");
  }
  char* pem = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &pem);
  absl::StatusOr<pki::CertificateInfo> info =
      pki::ReadIdentity(absl::string_view(pem, static_cast<size_t>(size)));
  if (!info.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the peer's certificate names no identity: ", info.status().message()));
  }
  return info->identity;
}

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

// {"code": "NOT_FOUND", "message": "..."}, built as a Struct so that the message is escaped.
void ReplyError(absl::StatusCode code, absl::string_view message, int http_status,
                httplib::Response& response) {
  google::protobuf::Struct body;
  auto& fields = *body.mutable_fields();
  fields["code"].set_string_value(absl::StatusCodeToString(code));
  fields["message"].set_string_value(std::string(message));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(body, &json);  // a Struct always prints
  response.status = http_status;
  response.set_content(json, "application/json");
}

void ReplyError(const absl::Status& status, httplib::Response& response) {
  ReplyError(status.code(), status.message(), HttpStatus(status.code()), response);
}

// Errors httplib produces itself (no route, body too large, malformed HTTP), in our form.
httplib::Server::HandlerResponse DescribeHttpError(const httplib::Request& request,
                                                   httplib::Response& response) {
  if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours
  switch (response.status) {
    case 404:
      ReplyError(absl::StatusCode::kNotFound,
                 absl::StrCat("no route for ", request.method, " ", request.path), 404, response);
      break;
    case 413:
      ReplyError(absl::StatusCode::kResourceExhausted,
                 absl::StrCat("the request body is over ", RestGateway::kMaxBodyBytes, " bytes"),
                 413, response);
      break;
    default:
      ReplyError(response.status < 500 ? absl::StatusCode::kInvalidArgument
                                       : absl::StatusCode::kInternal,
                 absl::StrCat("malformed HTTP request (HTTP ", response.status, ")"),
                 response.status, response);
  }
  return httplib::Server::HandlerResponse::Handled;
}

absl::Status ReplyJson(const google::protobuf::Message& message, httplib::Response& response) {
  // As `flsailer job` prints them.
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::InternalError(status.message().ToString());
  response.status = 200;
  response.set_content(json, "application/json");
  return absl::OkStatus();
}

// POST routes read their body themselves: httplib would refuse a form-encoded one over 8 KiB
// (curl -d's default content type), and without Content-Length it would wait for the connection
// to end, where HTTP/1.1 means no body at all (RFC 9112 section 6.3). False when the body cannot
// be read, with the HTTP status set (413 over kMaxBodyBytes) for DescribeHttpError.
bool ReadBody(const httplib::Request& request, const httplib::ContentReader& content,
              httplib::Response& response, std::string* body) {
  if (!request.has_header("Content-Length") && !request.has_header("Transfer-Encoding")) {
    return true;
  }
  const bool read = content([body](const char* data, size_t size) {
    body->append(data, size);
    return true;
  });
  if (!read && response.status < 400) response.status = 400;
  return read;
}

// The body as `message` (strict: unknown fields are errors); an empty body is the empty message.
absl::Status ParseJson(const httplib::Request&, const std::string& body,
                       google::protobuf::Message* message) {
  if (body.empty()) return absl::OkStatus();
  const auto status = google::protobuf::util::JsonStringToMessage(body, message);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed ", message->GetTypeName(),
                                                   " JSON: ", status.message().ToString()));
  }
  return absl::OkStatus();
}

// The job named in the path (the routes' first group).
template <typename Request>
Request WithPathId(const httplib::Request& http) {
  Request request;
  request.mutable_id()->set_value(http.matches[1].str());
  return request;
}

// ParseJson, then the job id from the path; a body naming another job is refused.
template <typename Request>
absl::Status ParseJsonWithPathId(const httplib::Request& http, const std::string& body,
                                 Request* request) {
  FLS_RETURN_IF_ERROR(ParseJson(http, body, request));
  const std::string id = http.matches[1].str();
  if (request->has_id() && request->id().value() != id) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body names job '", request->id().value(), "' but the path '", id, "'"));
  }
  request->mutable_id()->set_value(id);
  return absl::OkStatus();
}

// Runs `body(caller)` for the authenticated caller; an error becomes the response.
template <typename Body>
void WithCaller(const httplib::Request& request, httplib::Response& response, Body&& body) {
  absl::Status status = [&]() -> absl::Status {
    FLS_ASSIGN_OR_RETURN(pki::Identity caller, Caller(request));
    return body(caller);
  }();
  if (!status.ok()) ReplyError(status, response);
}

template <typename Request, typename Response>
using AdminMethod = absl::StatusOr<Response> (JobRegistry::*)(const pki::Identity&,
                                                              const Request&);

template <typename Request, typename Response>
absl::Status AnswerJson(JobRegistry* registry, AdminMethod<Request, Response> method,
                        const pki::Identity& caller, const Request& request,
                        httplib::Response& reply) {
  FLS_ASSIGN_OR_RETURN(Response response, (registry->*method)(caller, request));
  return ReplyJson(response, reply);
}

// A GET route answering `method` as JSON for the request `make(http)`.
template <typename Request, typename Response, typename Make>
httplib::Server::Handler GetRoute(JobRegistry* registry, AdminMethod<Request, Response> method,
                                  Make make) {
  return [registry, method, make](const httplib::Request& http, httplib::Response& reply) {
    WithCaller(http, reply, [&](const pki::Identity& caller) {
      return AnswerJson(registry, method, caller, make(http), reply);
    });
  };
}

// A POST route answering `method` as JSON for the request `parse(http, body, &request)` fills.
template <typename Request, typename Response, typename Parse>
httplib::Server::HandlerWithContentReader PostRoute(JobRegistry* registry,
                                                    AdminMethod<Request, Response> method,
                                                    Parse parse) {
  return [registry, method, parse](const httplib::Request& http, httplib::Response& reply,
                                   const httplib::ContentReader& content) {
    std::string body;
    if (!ReadBody(http, content, reply, &body)) return;
    WithCaller(http, reply, [&](const pki::Identity& caller) -> absl::Status {
      Request request;
      FLS_RETURN_IF_ERROR(parse(http, body, &request));
      return AnswerJson(registry, method, caller, request, reply);
    });
  };
}

httplib::Server::Handler ArtifactRoute(JobRegistry* registry, const std::string& artifact,
                                       const std::string& content_type) {
  return [registry, artifact, content_type](const httplib::Request& http,
                                            httplib::Response& reply) {
    WithCaller(http, reply, [&](const pki::Identity& caller) -> absl::Status {
      auto request = WithPathId<v1::DownloadRequest>(http);
      request.set_artifact(artifact);
      FLS_ASSIGN_OR_RETURN(std::string bytes, registry->Artifact(caller, request));
      // Moved, not copied: a model may be hundreds of megabytes.
      reply.status = 200;
      reply.body = std::move(bytes);
      reply.set_header("Content-Type", content_type);
      return absl::OkStatus();
    });
  };
}

}  // namespace

// The key, certificate and CA of the server, re-read from their files at most every reload
// interval, at the first handshake after it elapses.
class RestGateway::TlsFiles {
 public:
  TlsFiles(rpc::CredentialsOptions options, std::shared_ptr<const TlsMaterial> material)
      : options_(std::move(options)), current_(std::move(material)),
        next_check_(absl::Now() + Interval()) {}

  // OpenSSL's certificate callback (SSL_CTX_set_cert_cb), run for each connection before the
  // server sends anything: puts the current certificate, key and CA on the connection. 1: go on.
  static int Install(SSL* ssl, void* self) {
    const std::shared_ptr<const TlsMaterial> m = static_cast<TlsFiles*>(self)->Current();
    const bool ok = SSL_use_certificate(ssl, m->cert.get()) == 1 &&
                    SSL_use_PrivateKey(ssl, m->key.get()) == 1 &&
                    SSL_set1_verify_cert_store(ssl, m->trust.get()) == 1;
    return ok ? 1 : 0;
  }

 private:
  absl::Duration Interval() const {
    return absl::Seconds(std::max(1u, options_.reload_interval_seconds));
  }

  std::shared_ptr<const TlsMaterial> Current() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now >= next_check_) {
      next_check_ = now + Interval();
      absl::StatusOr<std::shared_ptr<const TlsMaterial>> fresh = LoadTlsMaterial(options_);
      if (fresh.ok()) {
        current_ = *std::move(fresh);
      } else {
        telemetry::Log(telemetry::Level::kWarning, "rest_tls_reload_failed",
                       {{"error", fresh.status().message()}});
      }
    }
    return current_;
  }

  const rpc::CredentialsOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<const TlsMaterial> current_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
};

RestGateway::RestGateway() = default;

absl::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Start(
    const std::string& host, int port, const rpc::CredentialsOptions& tls,
    JobRegistry* registry) {
  if (tls.insecure_plaintext_for_development) {
    return absl::InvalidArgumentError(
        "the REST API needs mutual TLS: without a client certificate no caller can be "
        "authorised");
  }
  FLS_ASSIGN_OR_RETURN(std::shared_ptr<const TlsMaterial> material, LoadTlsMaterial(tls));
  std::unique_ptr<RestGateway> g(new RestGateway());
  g->tls_ = std::make_unique<TlsFiles>(tls, std::move(material));
  TlsFiles* files = g->tls_.get();
  g->server_ = std::make_unique<httplib::SSLServer>([files](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_purpose(&ctx, X509_PURPOSE_SSL_CLIENT);
    // No resumed sessions (stateful or ticket): each connection verifies its client certificate.
    SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(&ctx, 0);
    SSL_CTX_set_cert_cb(&ctx, &TlsFiles::Install, files);
    return true;
  });
  httplib::SSLServer& server = *g->server_;
  server.set_payload_max_length(kMaxBodyBytes);
  server.set_keep_alive_timeout(1);
  // httplib's default adds SO_REUSEPORT, with which a second process could bind the same port and
  // silently take a share of the connections; a port in use must be an error instead.
  server.set_socket_options([](int fd) {
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse(DescribeHttpError));
  server.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    telemetry::Log(response.status < 400 ? telemetry::Level::kInfo : telemetry::Level::kWarning,
                   "rest_request",
                   {{"method", request.method},
                    {"path", request.path},
                    {"status", response.status},
                    {"peer", request.remote_addr}});
  });

  const std::string job = "/v1/jobs/([^/:]+)";
  server.Post("/v1/jobs", PostRoute(registry, &JobRegistry::SubmitJob, ParseJson));
  server.Get("/v1/jobs", GetRoute(registry, &JobRegistry::ListJobs,
                                  [](const httplib::Request&) { return v1::ListJobsRequest(); }));
  server.Get(job, GetRoute(registry, &JobRegistry::GetJob, WithPathId<v1::GetJobRequest>));
  server.Post(job + ":cancel", PostRoute(registry, &JobRegistry::CancelJob,
                                         ParseJsonWithPathId<v1::CancelJobRequest>));
  server.Get(job + "/rounds",
             GetRoute(registry, &JobRegistry::ListRounds, WithPathId<v1::ListRoundsRequest>));
  server.Get(job + "/model", ArtifactRoute(registry, "model", "application/octet-stream"));
  server.Get(job + "/selected_peaks\\.bed",
             ArtifactRoute(registry, "selected_peaks.bed", "text/plain"));

  if (port == 0) {
    g->port_ = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    g->port_ = port;
  }
  if (g->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("REST cannot listen on ", host, ":", port));
  }
  RestGateway* self = g.get();
  absl::MutexLock lock(&g->stop_mu_);
  g->listener_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->listener_done_.store(true);
  });
  return g;
}

void RestGateway::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (!listener_.joinable()) return;
  // httplib's stop() does nothing until the listener thread has entered its accept loop.
  while (!server_->is_running() && !listener_done_.load()) absl::SleepFor(absl::Milliseconds(1));
  server_->stop();
  listener_.join();
}

RestGateway::~RestGateway() { Stop(); }

}  // namespace flsailer::coordinator
