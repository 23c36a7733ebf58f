// Real gRPC servers on 127.0.0.1 with an ephemeral port, real TLS handshakes, certificates made by
// libs/pki in a temporary directory. Refused clients are built with gRPC's own API, as an
// attacker or a misconfigured peer would, since ChannelCredentials refuses to load bad files.
#include "libs/rpc/credentials.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "testdata/who_am_i.grpc.pb.h"

namespace flsailer::rpc {
namespace {

using pki::CertificateRequest;
using pki::Identity;
using pki::IdentityKind;
using pki::KeyAndCertificate;
using ::testing::HasSubstr;

class WhoAmIService final : public testing::WhoAmI::Service {
  grpc::Status Ask(grpc::ServerContext* context, const testing::AskRequest*,
                   testing::AskReply* reply) override {
    absl::StatusOr<Identity> peer = PeerIdentity(*context);
    if (!peer.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(peer.status().message()));
    }
    reply->set_kind(std::string(pki::KindName(peer->kind)));
    reply->set_id(peer->id);
    return grpc::Status::OK;
  }
};

class RunningServer {
 public:
  explicit RunningServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~RunningServer() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int port_ = 0;
  WhoAmIService service_;
  std::unique_ptr<grpc::Server> server_;
};

struct CallResult {
  grpc::Status status;
  testing::AskReply reply;
  // The server as the client authenticated it (OK calls over TLS only).
  absl::StatusOr<Identity> server = absl::UnknownError("no call");
};

// One call on a fresh connection: a local subchannel pool keeps gRPC from reusing a connection
// (and its handshake) from an earlier channel to the same address.
CallResult Call(const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(address, std::move(credentials), args);
  auto stub = testing::WhoAmI::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  CallResult result;
  result.status = stub->Ask(&context, testing::AskRequest(), &result.reply);
  if (result.status.ok()) result.server = PeerIdentity(*context.auth_context());
  return result;
}

// TLS channel credentials from PEM text, bypassing ChannelCredentials' checks of the files.
std::shared_ptr<grpc::ChannelCredentials> RawTlsCredentials(
    const std::string& root_pem, const KeyAndCertificate* identity) {
  std::vector<grpc::experimental::IdentityKeyCertPair> pairs;
  if (identity != nullptr) pairs.push_back({identity->key_pem, identity->cert_pem});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(root_pem, pairs));
  options.watch_root_certs();
  if (identity != nullptr) options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/credentials_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(MakeDirectories(dir_).ok());
    auto ca = pki::CreateCa("test federation", pki::ValidFor(absl::Hours(24)));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    ASSERT_TRUE(WriteFile("ca.pem", ca_.cert_pem).ok());
    server_ = Issue(ca_, IdentityKind::kServer, "coordinator");
    ASSERT_TRUE(Save(server_, "coordinator").ok());
  }

  absl::Status WriteFile(const std::string& name, const std::string& content) {
    FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(Path(name)));
    FLS_RETURN_IF_ERROR(out->Write(content));
    return out->Close();
  }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  static KeyAndCertificate Issue(const KeyAndCertificate& ca, IdentityKind kind,
                                 const std::string& id,
                                 pki::Validity validity = pki::ValidFor(absl::Hours(1)),
                                 std::vector<std::string> ips = {"127.0.0.1"}) {
    CertificateRequest request;
    request.identity = {kind, id};
    if (kind == IdentityKind::kServer) {
      request.dns_names = {"localhost"};
      request.ip_addresses = std::move(ips);
    }
    request.validity = validity;
    auto issued = pki::IssueCertificate(ca, request);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *issued : KeyAndCertificate{};
  }

  absl::Status Save(const KeyAndCertificate& pair, const std::string& name) {
    return pki::WriteKeyAndCertificate(pair, Path(name + ".key"), Path(name + ".pem"));
  }

  CredentialsOptions Options(const std::string& name, const std::string& ca = "ca.pem") const {
    CredentialsOptions options;
    options.ca_cert_path = Path(ca);
    options.cert_path = Path(name + ".pem");
    options.key_path = Path(name + ".key");
    options.reload_interval_seconds = 1;
    return options;
  }

  std::unique_ptr<RunningServer> StartServer(const CredentialsOptions& options) {
    auto credentials = ServerCredentials(options);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return nullptr;
    auto server = std::make_unique<RunningServer>(*credentials);
    EXPECT_TRUE(server->started());
    return server;
  }

  // A client presenting `identity` (nothing when null) fails the handshake with `server`.
  void ExpectRefused(const RunningServer& server, const KeyAndCertificate* identity) {
    CallResult result = Call(server.address(), RawTlsCredentials(ca_.cert_pem, identity));
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << result.status.error_message();
  }

  // ChannelCredentials refuses to load `pair` as files, saying `why`.
  void ExpectUnloadable(const KeyAndCertificate& pair, const std::string& name,
                        const std::string& why) {
    ASSERT_TRUE(Save(pair, name).ok());
    EXPECT_THAT(ChannelCredentials(Options(name)).status().message(), HasSubstr(why));
  }

  std::string dir_;
  KeyAndCertificate ca_;
  KeyAndCertificate server_;
};

TEST_F(CredentialsTest, ValidCertificateIsAcceptedAndItsIdentitySeen) {
  auto server = StartServer(Options("coordinator"));
  ASSERT_NE(server, nullptr);
  for (auto [kind, id] : {std::pair{IdentityKind::kInstitution, "hospital-a"},
                          std::pair{IdentityKind::kAdmin, "ops"},
                          std::pair{IdentityKind::kServer, "aggregator"}}) {
    ASSERT_TRUE(Save(Issue(ca_, kind, id), id).ok());
    auto credentials = ChannelCredentials(Options(id));
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    CallResult result = Call(server->address(), *credentials);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.reply.kind(), pki::KindName(kind));
    EXPECT_EQ(result.reply.id(), id);
    ASSERT_TRUE(result.server.ok()) << result.server.status();
    EXPECT_EQ(*result.server, (Identity{IdentityKind::kServer, "coordinator"}));
  }
}

TEST_F(CredentialsTest, ClientWithoutCertificateIsRefused) {
  auto server = StartServer(Options("coordinator"));
  ASSERT_NE(server, nullptr);
  // The refusals below are about the certificates: the same raw client with a valid one passes.
  const KeyAndCertificate valid = Issue(ca_, IdentityKind::kInstitution, "hospital-a");
  CallResult control = Call(server->address(), RawTlsCredentials(ca_.cert_pem, &valid));
  ASSERT_TRUE(control.status.ok()) << control.status.error_message();
  EXPECT_EQ(control.reply.id(), "hospital-a");

  ExpectRefused(*server, nullptr);
}

TEST_F(CredentialsTest, CertificateFromAnotherCaIsRefused) {
  auto server = StartServer(Options("coordinator"));
  ASSERT_NE(server, nullptr);
  auto other_ca = pki::CreateCa("other federation", pki::ValidFor(absl::Hours(24)));
  ASSERT_TRUE(other_ca.ok());
  const KeyAndCertificate intruder = Issue(*other_ca, IdentityKind::kInstitution, "hospital-a");
  ExpectRefused(*server, &intruder);
  ExpectUnloadable(intruder, "intruder", "unable to get local issuer certificate");
}

TEST_F(CredentialsTest, ExpiredCertificateIsRefused) {
  auto server = StartServer(Options("coordinator"));
  ASSERT_NE(server, nullptr);
  const absl::Time now = absl::Now();
  const KeyAndCertificate expired = Issue(ca_, IdentityKind::kInstitution, "hospital-a",
                                          {now - absl::Hours(2), now - absl::Minutes(1)});
  ExpectRefused(*server, &expired);
  ExpectUnloadable(expired, "expired", "certificate has expired");
}

TEST_F(CredentialsTest, ClientRefusesServersItCannotTrust) {
  const KeyAndCertificate hospital = Issue(ca_, IdentityKind::kInstitution, "hospital-a");
  ASSERT_TRUE(Save(hospital, "hospital-a").ok());
  auto credentials = ChannelCredentials(Options("hospital-a"));
  ASSERT_TRUE(credentials.ok()) << credentials.status();

  // A server of another federation.
  auto other_ca = pki::CreateCa("other federation", pki::ValidFor(absl::Hours(24)));
  ASSERT_TRUE(other_ca.ok());
  ASSERT_TRUE(WriteFile("other-ca.pem", other_ca->cert_pem).ok());
  ASSERT_TRUE(Save(Issue(*other_ca, IdentityKind::kServer, "impostor"), "impostor").ok());
  auto impostor = StartServer(Options("impostor", "other-ca.pem"));
  ASSERT_NE(impostor, nullptr);
  EXPECT_EQ(Call(impostor->address(), *credentials).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // A server of this federation whose certificate does not name the address dialled.
  ASSERT_TRUE(
      Save(Issue(ca_, IdentityKind::kServer, "elsewhere", pki::ValidFor(absl::Hours(1)), {}),
           "elsewhere")
          .ok());
  auto elsewhere = StartServer(Options("elsewhere"));
  ASSERT_NE(elsewhere, nullptr);
  EXPECT_EQ(Call(elsewhere->address(), *credentials).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // An institution's certificate cannot serve at all.
  EXPECT_THAT(ServerCredentials(Options("hospital-a")).status().message(),
              HasSubstr("institution certificates cannot serve"));
}

TEST_F(CredentialsTest, MisconfiguredFilesAreReportedByName) {
  CredentialsOptions options = Options("coordinator");
  options.key_path = Path("missing.key");
  EXPECT_THAT(ServerCredentials(options).status().message(), HasSubstr(options.key_path));
  options = Options("coordinator", "missing-ca.pem");
  EXPECT_THAT(ChannelCredentials(options).status().message(), HasSubstr(Path("missing-ca.pem")));
  ASSERT_TRUE(WriteFile("corrupt.pem", "-----BEGIN CERTIFICATE-----\nnope\n").ok());
  options = Options("coordinator");
  options.cert_path = Path("corrupt.pem");
  EXPECT_THAT(ServerCredentials(options).status().message(),
              HasSubstr(Path("corrupt.pem") + ": not a PEM certificate"));
}

TEST_F(CredentialsTest, InsecureModeIsPlaintextWithoutIdentity) {
  CredentialsOptions options;
  options.insecure_plaintext_for_development = true;
  auto server_credentials = ServerCredentials(options);
  ASSERT_TRUE(server_credentials.ok());
  RunningServer server(*server_credentials);
  ASSERT_TRUE(server.started());
  auto channel_credentials = ChannelCredentials(options);
  ASSERT_TRUE(channel_credentials.ok());
  CallResult result = Call(server.address(), *channel_credentials);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("presented no certificate"));
  // A TLS client cannot talk to a plaintext server.
  const KeyAndCertificate hospital = Issue(ca_, IdentityKind::kInstitution, "hospital-a");
  ExpectRefused(server, &hospital);
}

TEST_F(CredentialsTest, ReplacedServerCertificateIsPickedUp) {
  auto server = StartServer(Options("coordinator"));
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(Save(Issue(ca_, IdentityKind::kInstitution, "hospital-a"), "hospital-a").ok());
  auto credentials = ChannelCredentials(Options("hospital-a"));
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  CallResult before = Call(server->address(), *credentials);
  ASSERT_TRUE(before.server.ok()) << before.status.error_message();
  EXPECT_EQ(before.server->id, "coordinator");

  // Rotate the server's files in place, as `flsailer pki issue` over them would.
  ASSERT_TRUE(pki::WriteKeyAndCertificate(Issue(ca_, IdentityKind::kServer, "coordinator-2"),
                                          Path("coordinator.key"), Path("coordinator.pem"))
                  .ok());
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (seen != "coordinator-2" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CallResult after = Call(server->address(), *credentials);
    if (after.server.ok()) seen = after.server->id;
  }
  EXPECT_EQ(seen, "coordinator-2");
}

}  // namespace
}  // namespace flsailer::rpc
