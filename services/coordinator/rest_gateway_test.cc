// The REST gateway over real HTTPS on 127.0.0.1 with an ephemeral port: cpp-httplib's client with
// certificates made by libs/pki in a temporary directory, in front of a real JobRegistry.
#include "services/coordinator/rest_gateway.h"

// Before httplib.h, which includes <resolv.h>: its `_res` macro breaks Eigen (which
// job_registry.h includes).
#include "services/coordinator/job_registry.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "flsailer/v1/coordinator.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/pki/pki.h"
#include "services/client/client_runner.h"
#include "services/coordinator/server.h"

namespace flsailer::coordinator {
namespace {

using pki::IdentityKind;
using ::testing::HasSubstr;

constexpr char kDemo[] = "examples/data/granja2019_bmmc";

struct HttpReply {
  int status = 0;  // 0: no HTTP response at all (the connection or the handshake failed)
  std::string body;  // or, without a response, httplib's error
  std::string content_type;
};

// A protobuf message from a JSON body, or a test failure.
template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return message;
}

// The "code" of an error body.
std::string ErrorCode(const HttpReply& reply) {
  const auto body = FromJson<google::protobuf::Struct>(reply.body);
  auto it = body.fields().find("code");
  return it == body.fields().end() ? "" : it->second.string_value();
}

class RestGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A new directory even when --gtest_repeat runs the test again in this process.
    static int runs = 0;
    dir_ = absl::StrCat(::testing::TempDir(), "/rest_gateway_test_", getpid(), "_", ++runs, "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(MakeDirectories(dir_).ok());
    // Valid since three days so that an expired certificate can lie within its validity.
    const absl::Time now = absl::Now();
    auto ca = pki::CreateCa("test federation", {now - absl::Hours(72), now + absl::Hours(24)});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    ASSERT_TRUE(Write("ca.pem", ca_.cert_pem));
    Issue(ca_, IdentityKind::kServer, "coordinator");
    Issue(ca_, IdentityKind::kAdmin, "operator");
    Issue(ca_, IdentityKind::kInstitution, "hospital-a");
    RegistryOptions options;
    options.state_dir = Path("state");
    options.allow_insecure_plain_aggregation = true;
    auto registry = JobRegistry::Open(options);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(*registry);
    auto gateway = RestGateway::Start("127.0.0.1", 0, Tls("coordinator"), registry_.get());
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
    port_ = gateway_->port();
  }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  bool Write(const std::string& name, const std::string& text) const {
    auto out = AtomicOutputFile::Create(Path(name));
    return out.ok() && (*out)->Write(text).ok() && (*out)->Close().ok();
  }

  // Writes NAME.pem and NAME.key for a certificate of `id` issued by `ca`.
  void Issue(const pki::KeyAndCertificate& ca, IdentityKind kind, const std::string& id,
             const std::string& name = "",
             pki::Validity validity = pki::ValidFor(absl::Hours(1))) {
    pki::CertificateRequest request;
    request.identity = {kind, id};
    if (kind == IdentityKind::kServer) request.ip_addresses = {"127.0.0.1"};
    request.validity = validity;
    auto pair = pki::IssueCertificate(ca, request);
    ASSERT_TRUE(pair.ok()) << pair.status();
    const std::string file = name.empty() ? id : name;
    ASSERT_TRUE(pki::WriteKeyAndCertificate(*pair, Path(file + ".key"), Path(file + ".pem")).ok());
  }

  rpc::CredentialsOptions Tls(const std::string& name) const {
    rpc::CredentialsOptions tls;
    tls.ca_cert_path = Path("ca.pem");
    tls.cert_path = Path(name + ".pem");
    tls.key_path = Path(name + ".key");
    return tls;
  }

  // One request on a new connection presenting NAME.pem (none when `who` is empty) and trusting
  // ca.pem for the server.
  HttpReply Call(const std::string& who, const std::string& method, const std::string& path,
                 const std::string& body = "",
                 const std::string& content_type = "application/json") const {
    auto client = who.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", port_)
                              : std::make_unique<httplib::SSLClient>(
                                    "127.0.0.1", port_, Path(who + ".pem"), Path(who + ".key"));
    client->set_ca_cert_path(Path("ca.pem"));
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(10);
    client->set_read_timeout(60);
    client->set_write_timeout(60);
    httplib::Result result = method == "GET" ? client->Get(path)
                                             : client->Post(path, body, content_type);
    if (!result) return {0, httplib::to_string(result.error()), ""};
    return {result->status, result->body, result->get_header_value("Content-Type")};
  }

  // Sends `request` as it is on a new connection presenting WHO.pem, for requests httplib's client
  // would not send so; returns the HTTP status of the answer (0: none).
  int RawStatus(const std::string& who, const std::string& request) const {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    EXPECT_EQ(SSL_CTX_use_certificate_file(ctx.get(), Path(who + ".pem").c_str(),
                                           SSL_FILETYPE_PEM), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), Path(who + ".key").c_str(),
                                          SSL_FILETYPE_PEM), 1);
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx.get(), Path("ca.pem").c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()),
                                                      BIO_free_all);
    const std::string address = absl::StrCat("127.0.0.1:", port_);
    BIO_set_conn_hostname(bio.get(), address.c_str());
    std::string response;
    if (BIO_do_connect(bio.get()) == 1 &&
        BIO_write(bio.get(), request.data(), static_cast<int>(request.size())) ==
            static_cast<int>(request.size())) {
      char buffer[4096];
      int n;
      while ((n = BIO_read(bio.get(), buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
    int status = 0;  // from "HTTP/1.1 200 OK"
    return response.size() > 12 && absl::SimpleAtoi(response.substr(9, 3), &status) ? status : 0;
  }

  // Submits a job for hospital-a as `who`.
  HttpReply Submit(const std::string& who,
                   const std::string& content_type = "application/json") const {
    auto bed = ReadFileToString(absl::StrCat(kDemo, "/peaks.bed"));
    EXPECT_TRUE(bed.ok()) << bed.status();
    v1::SubmitJobRequest request;
    request.mutable_spec()->set_name("rest test");
    request.mutable_spec()->add_institutions()->set_value("hospital-a");
    request.mutable_spec()->set_rounds(2);
    request.mutable_spec()->set_local_epochs(1);
    request.mutable_spec()->set_num_clusters(6);
    request.mutable_spec()->set_insecure_plain_aggregation(true);
    request.set_reference_bed(*bed);
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
    return Call(who, "POST", "/v1/jobs", json, content_type);
  }

  std::string dir_;
  pki::KeyAndCertificate ca_;
  std::unique_ptr<JobRegistry> registry_;
  std::unique_ptr<RestGateway> gateway_;
  int port_ = 0;  // where Call and RawStatus connect
};

TEST_F(RestGatewayTest, ServesTheAdminApi) {
  const HttpReply submitted = Submit("operator");
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  EXPECT_EQ(submitted.content_type, "application/json");
  EXPECT_THAT(submitted.body, HasSubstr("\"submitted_by\""));  // the .proto's field names
  const auto job = FromJson<v1::Job>(submitted.body);
  const std::string id = job.id().value();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(job.submitted_by(), "operator");
  EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(job.spec().reference_peaks().num_peaks(), 5000u);
  EXPECT_EQ(job.spec().institutions(0).value(), "hospital-a");

  const HttpReply list = Call("operator", "GET", "/v1/jobs");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto jobs = FromJson<v1::ListJobsResponse>(list.body);
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).id().value(), id);

  const HttpReply get = Call("operator", "GET", "/v1/jobs/" + id);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(FromJson<v1::Job>(get.body).spec().name(), "rest test");

  const HttpReply rounds = Call("operator", "GET", absl::StrCat("/v1/jobs/", id, "/rounds"));
  ASSERT_EQ(rounds.status, 200) << rounds.body;
  EXPECT_EQ(FromJson<v1::ListRoundsResponse>(rounds.body).rounds_size(), 0);

  // Nothing trained yet.
  for (const char* artifact : {"model", "selected_peaks.bed"}) {
    const HttpReply download = Call("operator", "GET", absl::StrCat("/v1/jobs/", id, "/", artifact));
    EXPECT_EQ(download.status, 404) << artifact;
    EXPECT_EQ(ErrorCode(download), "NOT_FOUND") << download.body;
    EXPECT_THAT(download.body, HasSubstr("has no"));
  }

  const std::string cancel = absl::StrCat("/v1/jobs/", id, ":cancel");
  const HttpReply other = Call("operator", "POST", cancel, R"({"id": {"value": "job-99"}})");
  EXPECT_EQ(other.status, 400);
  EXPECT_THAT(other.body, HasSubstr("job-99"));
  const HttpReply cancelled = Call("operator", "POST", cancel, R"({"reason": "maintenance"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const auto after = FromJson<v1::Job>(cancelled.body);
  EXPECT_EQ(after.state(), v1::JOB_STATE_FAILED);
  EXPECT_THAT(after.error(), HasSubstr("maintenance (by operator)"));
  // The body is optional: empty, or none at all (curl -X POST sends no Content-Length).
  EXPECT_EQ(Call("operator", "POST", cancel).status, 200);
  EXPECT_EQ(RawStatus("operator", absl::StrCat("POST ", cancel,
                                               " HTTP/1.1\r\nHost: localhost\r\n"
                                               "Connection: close\r\n\r\n")),
            200);
}

// The coordinator process with REST on: a job trained to its end by a real client (the whole
// demo dataset as one institution), then its results fetched over HTTPS.
TEST_F(RestGatewayTest, CoordinatorServesTheResultsOfAFinishedJob) {
  CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.rest_listen = "127.0.0.1:0";
  options.credentials = Tls("coordinator");
  options.registry.state_dir = Path("server_state");
  options.registry.allow_insecure_plain_aggregation = true;
  options.registry.retry_after_ms = 20;
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  port_ = (*server)->rest_port();
  ASSERT_GT(port_, 0);

  const HttpReply submitted = Submit("operator");
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  const std::string id = FromJson<v1::Job>(submitted.body).id().value();
  client::ClientOptions hospital;
  hospital.coordinator = absl::StrCat("127.0.0.1:", (*server)->port());
  hospital.credentials = Tls("hospital-a");
  hospital.job_id = id;
  hospital.input = kDemo;
  hospital.work_dir = Path("hospital-a_work");
  const auto outcome = client::RunClient(hospital);
  ASSERT_TRUE(outcome.ok()) << outcome.status();

  const HttpReply job = Call("operator", "GET", "/v1/jobs/" + id);
  ASSERT_EQ(job.status, 200) << job.body;
  EXPECT_EQ(FromJson<v1::Job>(job.body).state(), v1::JOB_STATE_FINISHED) << job.body;
  const HttpReply rounds = Call("operator", "GET", absl::StrCat("/v1/jobs/", id, "/rounds"));
  ASSERT_EQ(rounds.status, 200) << rounds.body;
  const auto history = FromJson<v1::ListRoundsResponse>(rounds.body);
  ASSERT_EQ(history.rounds_size(), 2);
  EXPECT_GT(history.rounds(1).loss(), 0);
  EXPECT_EQ(history.rounds(1).contributors(0), "hospital-a");

  // The bytes the registry holds, as served.
  const pki::Identity admin{IdentityKind::kAdmin, "operator"};
  for (const auto& [artifact, content_type] :
       {std::pair<std::string, std::string>{"model", "application/octet-stream"},
        {"selected_peaks.bed", "text/plain"}}) {
    v1::DownloadRequest request;
    request.mutable_id()->set_value(id);
    request.set_artifact(artifact);
    const auto expected = (*server)->registry()->Artifact(admin, request);
    ASSERT_TRUE(expected.ok()) << expected.status();
    const HttpReply download = Call("operator", "GET", absl::StrCat("/v1/jobs/", id, "/", artifact));
    ASSERT_EQ(download.status, 200) << artifact << ": " << download.body;
    EXPECT_EQ(download.content_type, content_type);
    EXPECT_FALSE(download.body.empty()) << artifact;
    EXPECT_TRUE(download.body == *expected) << artifact;
  }

  (*server)->Shutdown();
  EXPECT_EQ(Call("operator", "GET", "/v1/jobs").status, 0);
}

TEST_F(RestGatewayTest, TakesJsonBodiesOfAnyContentType) {
  // curl -d labels its body as a form, which httplib itself limits to 8 KiB.
  const HttpReply submitted = Submit("operator", "application/x-www-form-urlencoded");
  EXPECT_EQ(submitted.status, 200) << submitted.body;
}

TEST_F(RestGatewayTest, RefusesConnectionsWithoutAValidClientCertificate) {
  // No certificate, one from another federation's CA, an expired one: no handshake, no response.
  EXPECT_EQ(Call("", "GET", "/v1/jobs").status, 0);
  auto rogue_ca = pki::CreateCa("another federation", pki::ValidFor(absl::Hours(24)));
  ASSERT_TRUE(rogue_ca.ok()) << rogue_ca.status();
  Issue(*rogue_ca, IdentityKind::kAdmin, "operator", "rogue-operator");
  EXPECT_EQ(Call("rogue-operator", "GET", "/v1/jobs").status, 0);
  const absl::Time now = absl::Now();
  Issue(ca_, IdentityKind::kAdmin, "operator", "expired-operator",
        {now - absl::Hours(48), now - absl::Hours(24)});
  EXPECT_EQ(Call("expired-operator", "GET", "/v1/jobs").status, 0);
  // The same request with a valid admin certificate goes through.
  EXPECT_EQ(Call("operator", "GET", "/v1/jobs").status, 200);
}

TEST_F(RestGatewayTest, OnlyAdminsMayCall) {
  for (const auto& [method, path] : {std::pair<const char*, const char*>{"GET", "/v1/jobs"},
                                     {"GET", "/v1/jobs/job-1"},
                                     {"POST", "/v1/jobs/job-1:cancel"}}) {
    const HttpReply reply = Call("hospital-a", method, path);
    EXPECT_EQ(reply.status, 403) << method << " " << path;
    EXPECT_EQ(ErrorCode(reply), "PERMISSION_DENIED");
    EXPECT_THAT(reply.body, HasSubstr("not an admin identity"));
  }
  const HttpReply submit = Submit("hospital-a");
  EXPECT_EQ(submit.status, 403) << submit.body;
  const HttpReply list = Call("operator", "GET", "/v1/jobs");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(FromJson<v1::ListJobsResponse>(list.body).jobs_size(), 0);
}

TEST_F(RestGatewayTest, AnswersBadRequestsWithJsonErrors) {
  const HttpReply malformed = Call("operator", "POST", "/v1/jobs", R"({"spec": {"rounds": )");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(ErrorCode(malformed), "INVALID_ARGUMENT");
  EXPECT_THAT(malformed.body, HasSubstr("malformed flsailer.v1.SubmitJobRequest JSON"));

  const HttpReply unknown_field = Call("operator", "POST", "/v1/jobs", R"({"spek": {}})");
  EXPECT_EQ(unknown_field.status, 400);
  EXPECT_THAT(unknown_field.body, HasSubstr("spek"));

  const HttpReply no_job = Call("operator", "GET", "/v1/jobs/job-404");
  EXPECT_EQ(no_job.status, 404);
  EXPECT_EQ(ErrorCode(no_job), "NOT_FOUND");
  EXPECT_THAT(no_job.body, HasSubstr("no job 'job-404'"));
  EXPECT_EQ(Call("operator", "GET", "/v1/jobs/job-404/rounds").status, 404);

  for (const auto& [method, path] : {std::pair<const char*, const char*>{"GET", "/v2/jobs"},
                                     {"GET", "/v1/jobs/job-1/weights"},
                                     {"POST", "/v1/jobs/job-1:pause"}}) {
    const HttpReply reply = Call("operator", method, path);
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_EQ(ErrorCode(reply), "NOT_FOUND");
    EXPECT_THAT(reply.body, HasSubstr(absl::StrCat("no route for ", method, " ", path)));
  }

  const HttpReply huge =
      Call("operator", "POST", "/v1/jobs", std::string(RestGateway::kMaxBodyBytes + 1, ' '));
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(ErrorCode(huge), "RESOURCE_EXHAUSTED");
  // The gateway still serves afterwards.
  EXPECT_EQ(Call("operator", "GET", "/v1/jobs").status, 200);
}

TEST_F(RestGatewayTest, ServesRotatedCertificatesWithoutRestart) {
  rpc::CredentialsOptions tls = Tls("coordinator");
  tls.reload_interval_seconds = 1;
  auto gateway = RestGateway::Start("127.0.0.1", 0, tls, registry_.get());
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  gateway_ = std::move(*gateway);
  port_ = gateway_->port();
  ASSERT_EQ(Call("operator", "GET", "/v1/jobs").status, 200);

  // A new federation CA, with new server and admin certificates, over the old files.
  auto new_ca = pki::CreateCa("renewed federation", pki::ValidFor(absl::Hours(24)));
  ASSERT_TRUE(new_ca.ok()) << new_ca.status();
  Issue(*new_ca, IdentityKind::kServer, "coordinator");
  Issue(*new_ca, IdentityKind::kAdmin, "operator", "new-operator");
  Issue(ca_, IdentityKind::kAdmin, "operator", "old-operator");
  ASSERT_TRUE(Write("ca.pem", new_ca->cert_pem));
  absl::SleepFor(absl::Milliseconds(1500));
  // Clients now trust only the new CA: the server must present its new certificate, and verify
  // client certificates against the new CA.
  EXPECT_EQ(Call("new-operator", "GET", "/v1/jobs").status, 200);
  EXPECT_EQ(Call("old-operator", "GET", "/v1/jobs").status, 0);
}

TEST_F(RestGatewayTest, StartRefusesWhatCannotServe) {
  auto institution = RestGateway::Start("127.0.0.1", 0, Tls("hospital-a"), registry_.get());
  EXPECT_EQ(institution.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(institution.status().message(), HasSubstr("--kind server"));

  rpc::CredentialsOptions missing = Tls("coordinator");
  missing.key_path = Path("nowhere.key");
  EXPECT_THAT(RestGateway::Start("127.0.0.1", 0, missing, registry_.get()).status().message(),
              HasSubstr("nowhere.key"));

  rpc::CredentialsOptions plaintext = Tls("coordinator");
  plaintext.insecure_plaintext_for_development = true;
  EXPECT_EQ(RestGateway::Start("127.0.0.1", 0, plaintext, registry_.get()).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto taken =
      RestGateway::Start("127.0.0.1", gateway_->port(), Tls("coordinator"), registry_.get());
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RestGatewayTest, StopsRightAfterStartAndMoreThanOnce) {
  auto gateway = RestGateway::Start("127.0.0.1", 0, Tls("coordinator"), registry_.get());
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  (*gateway)->Stop();
  gateway_->Stop();
  gateway_->Stop();
  EXPECT_EQ(Call("operator", "GET", "/v1/jobs").status, 0);
}


}  // namespace
}  // namespace flsailer::coordinator
