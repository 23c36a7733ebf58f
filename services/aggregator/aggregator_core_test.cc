// AggregatorCore without a network: in-process secagg::ClientSessions talk to the core through
// ClientConnections; plus the protobuf forms of the messages (proto_convert.h).
#include "services/aggregator/aggregator_core.h"

#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pki/pki.h"
#include "libs/secagg/client.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer::aggregator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Outbox : public secagg::SendToServer {
 public:
  absl::Status Send(secagg::ClientMessage message) override {
    queue.push_back(std::move(message));
    return absl::OkStatus();
  }
  std::deque<secagg::ClientMessage> queue;
};

struct Client {
  std::string id;
  Outbox outbox;
  std::unique_ptr<secagg::ClientSession> session;
  std::unique_ptr<ClientConnection> connection;
};

class AggregatorCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::CreateCa("test federation", pki::ValidFor(absl::Hours(24)));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    for (const char* id : {"a", "b", "c"}) {
      pki::CertificateRequest request;
      request.identity = {pki::IdentityKind::kInstitution, id};
      request.validity = pki::ValidFor(absl::Hours(1));
      auto pair = pki::IssueCertificate(ca_, request);
      ASSERT_TRUE(pair.ok()) << pair.status();
      keys_[id] = *pair;
    }
    core_ = std::make_unique<AggregatorCore>(ca_.cert_pem);
  }

  static secagg::SecAggConfig Config() {
    secagg::SecAggConfig config;
    config.vector_length = 64;
    config.chunk_words = 16;
    return config;
  }
  static std::vector<double> Values(int c) {
    std::vector<double> v(64);
    for (int j = 0; j < 64; ++j) v[j] = 0.5 * std::cos(c + 0.1 * j);
    return v;
  }

  std::unique_ptr<Client> Join(const secagg::RoundContext& round, const std::string& id, int c) {
    auto client = std::make_unique<Client>();
    client->id = id;
    auto session = secagg::ClientSession::Create(Config(), round, keys_[id], ca_.cert_pem,
                                                 Values(c), 1.0 + c, &client->outbox);
    EXPECT_TRUE(session.ok()) << session.status();
    client->session = std::move(*session);
    auto connection = core_->Connect(round, id);
    EXPECT_TRUE(connection.ok()) << connection.status();
    client->connection = std::move(*connection);
    EXPECT_TRUE(client->session->Start().ok());
    return client;
  }

  // Moves messages both ways until nothing moves.
  void Pump(std::vector<std::unique_ptr<Client>>& clients) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto& client : clients) {
        while (!client->outbox.queue.empty()) {
          secagg::ClientMessage m = std::move(client->outbox.queue.front());
          client->outbox.queue.pop_front();
          (void)client->connection->Deliver(m);
          moved = true;
        }
        while (auto m = client->connection->Next(absl::ZeroDuration())) {
          (void)client->session->OnMessage(*m);
          moved = true;
        }
      }
    }
  }

  pki::KeyAndCertificate ca_;
  std::map<std::string, pki::KeyAndCertificate> keys_;
  std::unique_ptr<AggregatorCore> core_;
};

TEST_F(AggregatorCoreTest, RunsARoundAndForgetsItOnceDelivered) {
  secagg::RoundContext round{"job", 1};
  ASSERT_TRUE(core_->OpenRound(round, {"a", "b", "c"}, Config(), absl::Minutes(1)).ok());
  std::vector<std::unique_ptr<Client>> clients;
  clients.push_back(Join(round, "a", 0));
  clients.push_back(Join(round, "b", 1));
  clients.push_back(Join(round, "c", 2));
  EXPECT_EQ(core_->AwaitResult(round, absl::Now()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  Pump(clients);
  for (auto& client : clients) {
    EXPECT_EQ(client->session->stage(), secagg::Stage::kCompleted) << client->id;
    EXPECT_TRUE(client->connection->ended());
    EXPECT_TRUE(client->connection->end_status().ok());
  }
  auto outcome = core_->AwaitResult(round, absl::Now());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE((*outcome)->result.ok()) << (*outcome)->result.status();
  EXPECT_THAT((*outcome)->result->contributors, ElementsAre("a", "b", "c"));
  EXPECT_DOUBLE_EQ((*outcome)->result->total_weight, 6.0);
  for (int j = 0; j < 64; ++j) {
    EXPECT_NEAR((*outcome)->result->sum[j], Values(0)[j] + Values(1)[j] + Values(2)[j],
                3 * std::ldexp(1.0, -24));
  }
  // The result stays until it was delivered and forgotten.
  EXPECT_EQ(core_->rounds(), 1);
  EXPECT_TRUE(core_->AwaitResult(round, absl::Now()).ok());
  core_->Forget(round);
  EXPECT_EQ(core_->rounds(), 0);
  EXPECT_EQ(core_->AwaitResult(round, absl::Now()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AggregatorCoreTest, RefusesBadOpensAndConnects) {
  secagg::RoundContext round{"job", 2};
  ASSERT_TRUE(core_->OpenRound(round, {"a", "b"}, Config(), absl::Minutes(1)).ok());
  EXPECT_EQ(core_->OpenRound(round, {"a", "b"}, Config(), absl::Minutes(1)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(core_->OpenRound({"job", 3}, {"a"}, Config(), absl::Minutes(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->OpenRound({"job", 3}, {"a", "b"}, Config(), absl::ZeroDuration()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->Connect({"job", 9}, "a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(core_->Connect(round, "c").status().code(), absl::StatusCode::kPermissionDenied);
  auto a = core_->Connect(round, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(core_->Connect(round, "a").status().code(), absl::StatusCode::kAlreadyExists);
  secagg::AbortRound foreign;
  foreign.header.context = {"job", 3};
  foreign.header.client_id = "a";
  EXPECT_EQ((*a)->Deliver(foreign).code(), absl::StatusCode::kInvalidArgument);
  a->reset();  // detached: may connect again
  EXPECT_TRUE(core_->Connect(round, "a").ok());
}

TEST_F(AggregatorCoreTest, TickClosesStagesAndTheRoundGoesOnWithoutTheMissingClient) {
  secagg::RoundContext round{"job", 4};
  ASSERT_TRUE(core_->OpenRound(round, {"a", "b", "c"}, Config(), absl::Seconds(30)).ok());
  std::vector<std::unique_ptr<Client>> clients;
  clients.push_back(Join(round, "a", 0));
  clients.push_back(Join(round, "c", 2));
  Pump(clients);
  core_->Tick(absl::Now());  // nothing is due yet: the clients still await the keys
  Pump(clients);
  EXPECT_EQ(clients[0]->session->stage(), secagg::Stage::kShareKeys);
  core_->Tick(absl::Now() + absl::Minutes(1));
  Pump(clients);
  auto outcome = core_->AwaitResult(round, absl::Now());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE((*outcome)->result.ok()) << (*outcome)->result.status();
  EXPECT_THAT((*outcome)->result->contributors, ElementsAre("a", "c"));
  ASSERT_EQ((*outcome)->dropped.size(), 1u);
  EXPECT_EQ((*outcome)->dropped[0].client_id, "b");
  // Too late: the round has ended; once forgotten, it is unknown.
  EXPECT_EQ(core_->Connect(round, "b").status().code(), absl::StatusCode::kFailedPrecondition);
  core_->Forget(round);
  EXPECT_EQ(core_->Connect(round, "b").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AggregatorCoreTest, TooFewClientsAbortTheRound) {
  secagg::RoundContext round{"job", 5};
  secagg::SecAggConfig config = Config();
  config.threshold = 3;
  ASSERT_TRUE(core_->OpenRound(round, {"a", "b", "c"}, config, absl::Seconds(30)).ok());
  auto a = core_->Connect(round, "a");
  ASSERT_TRUE(a.ok());
  core_->Tick(absl::Now() + absl::Minutes(1));
  auto told = (*a)->Next(absl::ZeroDuration());  // the server's abort
  ASSERT_TRUE(told.has_value());
  EXPECT_TRUE(std::holds_alternative<secagg::AbortRound>(*told));
  EXPECT_TRUE((*a)->ended());
  EXPECT_FALSE((*a)->end_status().ok());
  auto outcome = core_->AwaitResult(round, absl::Now());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE((*outcome)->result.ok());
}

TEST_F(AggregatorCoreTest, ANewerRoundOfTheJobAbortsItsOlderRoundsAtOnce) {
  const secagg::RoundContext old_round{"job", 7}, other_job{"other", 3}, newer{"job", 8};
  ASSERT_TRUE(core_->OpenRound(old_round, {"a", "b"}, Config(), absl::Minutes(10)).ok());
  ASSERT_TRUE(core_->OpenRound(other_job, {"a", "b"}, Config(), absl::Minutes(10)).ok());
  std::vector<std::unique_ptr<Client>> waiting;
  waiting.push_back(Join(old_round, "a", 0));  // b went on to the job's next step instead
  Pump(waiting);
  EXPECT_FALSE(waiting[0]->connection->ended());
  ASSERT_TRUE(core_->OpenRound(newer, {"a", "b"}, Config(), absl::Minutes(10)).ok());
  // a hears of it now, not at the stage deadline ten minutes away.
  Pump(waiting);
  EXPECT_EQ(waiting[0]->session->stage(), secagg::Stage::kAborted);
  EXPECT_TRUE(waiting[0]->connection->ended());
  EXPECT_THAT(waiting[0]->connection->end_status().message(), HasSubstr("superseded"));
  auto outcome = core_->AwaitResult(old_round, absl::Now());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE((*outcome)->result.ok());
  // Another job's round and the new round are untouched.
  EXPECT_EQ(core_->AwaitResult(other_job, absl::Now()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(core_->AwaitResult(newer, absl::Now()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AggregatorCoreTest, UnfetchedResultsExpire) {
  AggregatorCore core(ca_.cert_pem, nullptr, absl::Hours(1));
  secagg::RoundContext round{"job", 6};
  absl::Time t0 = absl::Now();
  ASSERT_TRUE(core.OpenRound(round, {"a", "b"}, Config(), absl::Seconds(30), t0).ok());
  core.Tick(t0 + absl::Minutes(1));  // nobody advertised: the round aborts
  EXPECT_EQ(core.rounds(), 1);       // its outcome waits to be fetched
  core.Tick(t0 + absl::Minutes(30));
  EXPECT_EQ(core.rounds(), 1);
  core.Tick(t0 + absl::Hours(2));
  EXPECT_EQ(core.rounds(), 0);
}

TEST(ProtoConvertTest, ClientMessagesRoundTrip) {
  secagg::MessageHeader header{{"job", 3}, secagg::Stage::kUnmasking, "a"};
  secagg::UnmaskingShares shares{header, {{"b", std::string(33, '\x01')}}, {{"c", "xyz"}}};
  v1::ClientEnvelope envelope = ToProto(secagg::ClientMessage(shares));
  v1::ClientEnvelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(envelope.SerializeAsString()));
  EXPECT_EQ(parsed.job_id(), "job");
  EXPECT_EQ(parsed.round(), 3u);
  EXPECT_EQ(parsed.stage(), v1::SECAGG_STAGE_UNMASKING);
  auto back = FromProto(parsed);
  ASSERT_TRUE(back.ok()) << back.status();
  const auto& u = std::get<secagg::UnmaskingShares>(*back);
  EXPECT_EQ(u.header.client_id, "a");
  EXPECT_EQ(u.self_mask_shares[0].owner, "b");
  EXPECT_EQ(u.self_mask_shares[0].value, std::string(33, '\x01'));
  EXPECT_EQ(u.masking_key_shares[0].value, "xyz");

  secagg::MaskedInputChunk chunk{{{"job", 3}, secagg::Stage::kMaskedInput, "a"}, 10, 4,
                                 std::string("\0\1\2\3\4\5\6\7", 8)};
  auto chunk_back = FromProto(ToProto(secagg::ClientMessage(chunk)));
  ASSERT_TRUE(chunk_back.ok());
  const auto& c = std::get<secagg::MaskedInputChunk>(*chunk_back);
  EXPECT_EQ(c.vector_words, 10u);
  EXPECT_EQ(c.offset, 4u);
  EXPECT_EQ(c.words, chunk.words);

  v1::ClientEnvelope tampered = envelope;
  tampered.set_round(4);
  EXPECT_THAT(FromProto(tampered).status().message(), HasSubstr("differ"));
  EXPECT_FALSE(FromProto(v1::ClientEnvelope()).ok());
}

TEST(ProtoConvertTest, ServerMessagesAndConfigRoundTrip) {
  secagg::KeysBroadcast keys;
  keys.header = {{"job", 1}, secagg::Stage::kShareKeys, "b"};
  keys.participants = {"a", "b"};
  keys.neighbours.push_back({"a", "PEM", std::string(32, 'e'), std::string(32, 'm'), "sig"});
  auto back = FromProto(ToProto(secagg::ServerMessage(keys)));
  ASSERT_TRUE(back.ok()) << back.status();
  const auto& k = std::get<secagg::KeysBroadcast>(*back);
  EXPECT_THAT(k.participants, ElementsAre("a", "b"));
  EXPECT_EQ(k.neighbours[0].masking_key, std::string(32, 'm'));
  EXPECT_EQ(k.neighbours[0].signature, "sig");
  EXPECT_EQ(k.header.stage, secagg::Stage::kShareKeys);

  secagg::SecAggConfig config;
  config.vector_length = 5;
  config.modulus_bits = 32;
  config.threshold = 3;
  config.graph_seed = 99;
  secagg::SecAggConfig config_back = FromProto(ToProto(config));
  EXPECT_EQ(config_back.vector_length, 5);
  EXPECT_EQ(config_back.modulus_bits, 32);
  EXPECT_EQ(config_back.threshold, 3);
  EXPECT_EQ(config_back.graph_seed, 99u);
  EXPECT_EQ(config_back.chunk_words, config.chunk_words);
}

}  // namespace
}  // namespace flsailer::aggregator
