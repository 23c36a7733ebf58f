// The aggregator over real gRPC and mutual TLS on loopback: a federation CA made for the test,
// the aggregator on port 0, the coordinator's identity opening rounds and fetching sums, and
// institution threads running RunSecureSum.
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "flsailer/v1/aggregator.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "libs/pki/pki.h"
#include "libs/rpc/test_federation.h"
#include "libs/secagg/client.h"
#include "services/aggregator/proto_convert.h"
#include "services/aggregator/secagg_client.h"
#include "services/aggregator/server.h"

namespace flsailer::aggregator {
namespace {

using ::testing::ElementsAre;

class AggregatorGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto federation = rpc::TestFederation::Create("aggregator_grpc_test");
    ASSERT_TRUE(federation.ok()) << federation.status();
    federation_.emplace(std::move(*federation));
    ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kServer, "aggregator").ok());
    ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kServer, "coordinator").ok());
    for (const char* id : {"hospital-a", "hospital-b", "hospital-c"}) {
      ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kInstitution, id).ok());
    }
    AggregatorOptions options;
    options.listen = "127.0.0.1:0";
    options.credentials = federation_->Credentials("aggregator");
    options.coordinator_id = "coordinator";
    options.tick_interval = absl::Milliseconds(50);
    options.metrics_listen = "127.0.0.1:0";
    auto server = AggregatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& id) const {
    return federation_->Channel(address_, id);
  }
  const pki::KeyAndCertificate& Keys(const std::string& id) const {
    return federation_->key_and_certificate(id);
  }

  static secagg::SecAggConfig Config(int threshold = 0) {
    secagg::SecAggConfig config;
    config.threshold = threshold;
    config.vector_length = 1000;
    config.modulus_bits = 64;
    config.clip_range = 1.0;
    config.scale_bits = 24;
    config.chunk_words = 128;  // several MaskedInputChunks per client
    return config;
  }
  static std::vector<double> Values(int client, int64_t n) {
    std::vector<double> v(n);
    for (int64_t j = 0; j < n; ++j) v[j] = 0.9 * std::sin(0.37 * client + 0.01 * j);
    return v;
  }

  // Runs RunSecureSum for each of `clients` (index into the hospitals) on its own thread.
  void RunClients(const secagg::RoundContext& round, const std::vector<int>& clients,
                  std::map<std::string, absl::Status>* outcomes, int threshold = 0) {
    const char* names[] = {"hospital-a", "hospital-b", "hospital-c"};
    std::vector<std::thread> threads;
    std::vector<absl::Status> statuses(clients.size());
    for (size_t k = 0; k < clients.size(); ++k) {
      threads.emplace_back([&, k] {
        int c = clients[k];
        auto report = RunSecureSum(Channel(names[c]), Config(threshold), round, Keys(names[c]),
                                   federation_->ca().cert_pem, Values(c, Config().vector_length),
                                   10.0 * (c + 1), absl::Seconds(60));
        statuses[k] = report.status();
      });
    }
    for (auto& t : threads) t.join();
    for (size_t k = 0; k < clients.size(); ++k) (*outcomes)[names[clients[k]]] = statuses[k];
  }

  std::optional<rpc::TestFederation> federation_;
  std::unique_ptr<AggregatorServer> server_;
  std::string address_;
};

TEST_F(AggregatorGrpcTest, ThreeInstitutionsGetTheExactSum) {
  secagg::RoundContext round{"job-1", 7};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b", "hospital-c"},
                        Config(), absl::Seconds(30))
                  .ok());
  std::map<std::string, absl::Status> outcomes;
  std::thread clients([&] { RunClients(round, {0, 1, 2}, &outcomes); });
  auto result = GetRoundResult(Channel("coordinator"), round, int64_t{1} << 20, absl::Seconds(60));
  clients.join();
  for (const auto& [id, status] : outcomes) EXPECT_TRUE(status.ok()) << id << ": " << status;
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->sum.ok()) << result->sum.status();
  EXPECT_THAT(result->contributors, ElementsAre("hospital-a", "hospital-b", "hospital-c"));
  EXPECT_DOUBLE_EQ(result->total_weight, 60.0);
  ASSERT_EQ(result->sum->size(), 1000u);
  const double bound = 3 * std::ldexp(1.0, -24);
  for (int64_t j = 0; j < 1000; ++j) {
    double expected = Values(0, 1000)[j] + Values(1, 1000)[j] + Values(2, 1000)[j];
    ASSERT_NEAR((*result->sum)[j], expected, bound) << j;
  }
  EXPECT_EQ(server_->core()->rounds(), 0);  // forgotten once fetched
}

TEST_F(AggregatorGrpcTest, OnlyTheCoordinatorControlsRounds) {
  secagg::RoundContext round{"job-1", 1};
  absl::Status status = OpenRound(Channel("hospital-a"), round,
                                  {"hospital-a", "hospital-b", "hospital-c"}, Config(),
                                  absl::Seconds(30));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  status = OpenRound(Channel("aggregator"), round, {"hospital-a", "hospital-b", "hospital-c"},
                     Config(), absl::Seconds(30));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_EQ(server_->core()->rounds(), 0);
  auto result = GetRoundResult(Channel("hospital-a"), round, 1 << 20, absl::Seconds(5));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied) << result.status();
}

TEST_F(AggregatorGrpcTest, AnInstitutionThatNeverConnectsDropsOutAfterTheStageTimeout) {
  secagg::RoundContext round{"job-2", 3};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b", "hospital-c"},
                        Config(), absl::Seconds(2))
                  .ok());
  std::map<std::string, absl::Status> outcomes;
  std::thread clients([&] { RunClients(round, {0, 2}, &outcomes); });
  auto result = GetRoundResult(Channel("coordinator"), round, int64_t{1} << 20, absl::Seconds(60));
  clients.join();
  for (const auto& [id, status] : outcomes) EXPECT_TRUE(status.ok()) << id << ": " << status;
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->sum.ok()) << result->sum.status();
  EXPECT_THAT(result->contributors, ElementsAre("hospital-a", "hospital-c"));
  EXPECT_THAT(result->dropped, ElementsAre("hospital-b"));
  EXPECT_DOUBLE_EQ(result->total_weight, 40.0);
  const double bound = 2 * std::ldexp(1.0, -24);
  for (int64_t j = 0; j < 1000; ++j) {
    double expected = Values(0, 1000)[j] + Values(2, 1000)[j];
    ASSERT_NEAR((*result->sum)[j], expected, bound) << j;
  }
}

// Collects what a ClientSession sends.
class Outbox : public secagg::SendToServer {
 public:
  absl::Status Send(secagg::ClientMessage message) override {
    messages.push_back(std::move(message));
    return absl::OkStatus();
  }
  std::vector<secagg::ClientMessage> messages;
};

TEST_F(AggregatorGrpcTest, AnInstitutionWhoseStreamBreaksOffDropsOut) {
  secagg::RoundContext round{"job-4", 1};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b", "hospital-c"},
                        Config(), absl::Seconds(2))
                  .ok());
  {
    // hospital-b advertises its keys, then its stream breaks off.
    Outbox outbox;
    auto session =
        secagg::ClientSession::Create(Config(), round, Keys("hospital-b"),
                                      federation_->ca().cert_pem, Values(1, 1000), 1.0, &outbox);
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_TRUE((*session)->Start().ok());
    auto stub = v1::SecureAggregation::NewStub(Channel("hospital-b"));
    grpc::ClientContext context;
    auto stream = stub->Exchange(&context);
    ASSERT_EQ(outbox.messages.size(), 1u);
    v1::ClientEnvelope envelope = ToProto(outbox.messages[0]);
    envelope.set_sequence(1);
    ASSERT_TRUE(stream->Write(envelope));
    context.TryCancel();
    stream->Finish();
  }
  std::map<std::string, absl::Status> outcomes;
  std::thread clients([&] { RunClients(round, {0, 2}, &outcomes); });
  auto result = GetRoundResult(Channel("coordinator"), round, int64_t{1} << 20, absl::Seconds(60));
  clients.join();
  for (const auto& [id, status] : outcomes) EXPECT_TRUE(status.ok()) << id << ": " << status;
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->sum.ok()) << result->sum.status();
  EXPECT_THAT(result->contributors, ElementsAre("hospital-a", "hospital-c"));
  EXPECT_THAT(result->dropped, ElementsAre("hospital-b"));
  for (int64_t j = 0; j < 1000; ++j) {
    ASSERT_NEAR((*result->sum)[j], Values(0, 1000)[j] + Values(2, 1000)[j],
                2 * std::ldexp(1.0, -24));
  }
}

TEST_F(AggregatorGrpcTest, AnEnvelopeOutOfSequenceEndsTheStream) {
  secagg::RoundContext round{"job-5", 1};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b"}, Config(),
                        absl::Seconds(30))
                  .ok());
  Outbox outbox;
  auto session = secagg::ClientSession::Create(Config(), round, Keys("hospital-a"),
                                               federation_->ca().cert_pem, Values(0, 1000), 1.0,
                                               &outbox);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->Start().ok());
  auto stub = v1::SecureAggregation::NewStub(Channel("hospital-a"));
  grpc::ClientContext context;
  auto stream = stub->Exchange(&context);
  v1::ClientEnvelope envelope = ToProto(outbox.messages.at(0));
  envelope.set_sequence(2);  // a replay would repeat a number; a gap skips one
  ASSERT_TRUE(stream->Write(envelope));
  stream->WritesDone();
  v1::ServerEnvelope reply;
  EXPECT_FALSE(stream->Read(&reply));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
}

TEST_F(AggregatorGrpcTest, ARoundWithTooFewInstitutionsAbortsForEveryone) {
  secagg::RoundContext round{"job-2", 4};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b", "hospital-c"},
                        Config(/*threshold=*/3), absl::Seconds(1))
                  .ok());
  std::map<std::string, absl::Status> outcomes;
  std::thread clients([&] { RunClients(round, {0, 1}, &outcomes, /*threshold=*/3); });
  auto result = GetRoundResult(Channel("coordinator"), round, int64_t{1} << 20, absl::Seconds(60));
  clients.join();
  for (const auto& [id, status] : outcomes) EXPECT_FALSE(status.ok()) << id;
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sum.status().code(), absl::StatusCode::kAborted) << result->sum.status();
  EXPECT_TRUE(result->contributors.empty());
  EXPECT_THAT(result->dropped, ElementsAre("hospital-c"));
  EXPECT_GT(server_->metrics_port(), 0);
}

TEST_F(AggregatorGrpcTest, AShortWaitForARunningRoundLeavesItToFetchLater) {
  secagg::RoundContext round{"job-4", 1};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b"}, Config(),
                        absl::Seconds(30))
                  .ok());
  const absl::Time asked = absl::Now();
  auto early = GetRoundResult(Channel("coordinator"), round, 1 << 20, absl::Milliseconds(100));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded) << early.status();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(10));  // the wait, not the transfer deadline
  std::map<std::string, absl::Status> outcomes;
  std::thread clients([&] { RunClients(round, {0, 1}, &outcomes); });
  clients.join();
  auto result = GetRoundResult(Channel("coordinator"), round, 1 << 20, absl::Seconds(60));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->sum.ok()) << result->sum.status();
  EXPECT_THAT(result->contributors, ElementsAre("hospital-a", "hospital-b"));
}

TEST_F(AggregatorGrpcTest, AnInstitutionOutsideTheRoundIsRefused) {
  secagg::RoundContext round{"job-3", 1};
  ASSERT_TRUE(OpenRound(Channel("coordinator"), round, {"hospital-a", "hospital-b"}, Config(),
                        absl::Seconds(30))
                  .ok());
  auto report = RunSecureSum(Channel("hospital-c"), Config(), round, Keys("hospital-c"),
                             federation_->ca().cert_pem, Values(2, 1000), 1.0, absl::Seconds(10));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
}

}  // namespace
}  // namespace flsailer::aggregator
