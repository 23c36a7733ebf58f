// End-to-end tests of the protocol: a ServerSession and ClientSessions connected by an
// in-process transport that can lose, alter or replay messages.
#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pki/pki.h"
#include "libs/secagg/client.h"
#include "libs/secagg/server.h"

namespace flsailer::secagg {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string Id(int i) { return absl::StrCat("inst-", i < 10 ? "0" : "", i); }

// A transport for sessions that are never run.
struct NullLink : SendToServer {
  absl::Status Send(ClientMessage) override { return absl::OkStatus(); }
};

// Issued once: certificates are what makes a round slow to set up.
struct Pki {
  pki::KeyAndCertificate ca;
  pki::KeyAndCertificate other_ca;
  std::map<std::string, pki::KeyAndCertificate> institutions;
  pki::KeyAndCertificate stranger;  // an institution certificate of other_ca
  pki::KeyAndCertificate server;    // a server identity of ca
};

const Pki& TestPki() {
  static const Pki* const pki = [] {
    auto* p = new Pki;
    p->ca = *pki::CreateCa("test federation", pki::ValidFor(absl::Hours(3)));
    p->other_ca = *pki::CreateCa("other federation", pki::ValidFor(absl::Hours(3)));
    pki::CertificateRequest request;
    request.validity = pki::ValidFor(absl::Hours(2));  // within the CAs' validity
    request.identity.kind = pki::IdentityKind::kInstitution;
    for (int i = 0; i < 40; ++i) {
      request.identity.id = Id(i);
      p->institutions[Id(i)] = *pki::IssueCertificate(p->ca, request);
    }
    request.identity.id = Id(2);
    p->stranger = *pki::IssueCertificate(p->other_ca, request);
    request.identity = {pki::IdentityKind::kServer, "aggregator"};
    p->server = *pki::IssueCertificate(p->ca, request);
    return p;
  }();
  return *pki;
}

// One round: the server, `n` clients, and the message queues between them. Messages are
// delivered one at a time in order; when nothing is in flight the server's stage deadline
// passes (CloseStage).
class Round : public SendToClients {
 public:
  struct Options {
    int clients = 5;
    SecAggConfig config;
    RoundContext context{"job-1", 1};
    // Client -> first stage whose messages it no longer sends (it dropped out).
    std::map<std::string, Stage> silent_from;
    // Alter a message in flight; return false to lose it.
    std::function<bool(const std::string& from, ClientMessage&)> on_client_message;
    std::function<bool(const std::string& to, ServerMessage&)> on_server_message;
    uint32_t seed = 1;
  };

  static SecAggConfig DefaultConfig() {
    SecAggConfig config;
    config.vector_length = 1000;
    config.chunk_words = 300;
    config.clip_range = 4.0;
    config.scale_bits = 20;
    return config;
  }

  explicit Round(Options options) : options_(std::move(options)) {
    std::mt19937_64 rng(options_.seed);
    const double c = options_.config.clip_range;
    std::uniform_real_distribution<double> uniform(-c, c);
    for (int i = 0; i < options_.clients; ++i) {
      const std::string id = Id(i);
      ids_.push_back(id);
      std::vector<double> values(static_cast<size_t>(options_.config.vector_length));
      for (double& v : values) v = uniform(rng);
      inputs_[id] = values;
      weights_[id] = 100.0 * (i + 1);
    }
  }

  Options& options() { return options_; }
  std::map<std::string, std::vector<double>>& inputs() { return inputs_; }
  const std::vector<std::string>& ids() const { return ids_; }

  // Creates the sessions (after any change to options or inputs).
  void Create() {
    auto server =
        ServerSession::Create(options_.config, options_.context, ids_, TestPki().ca.cert_pem, this);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    for (const std::string& id : ids_) {
      links_[id] = std::make_unique<Link>(this, id);
      auto client =
          ClientSession::Create(options_.config, options_.context, TestPki().institutions.at(id),
                                TestPki().ca.cert_pem, inputs_[id], weights_[id], links_[id].get());
      ASSERT_TRUE(client.ok()) << client.status();
      clients_[id] = *std::move(client);
    }
  }

  // Runs the round to its end.
  void Run() {
    if (server_ == nullptr) Create();
    for (const std::string& id : ids_) ASSERT_TRUE(clients_[id]->Start().ok());
    for (int steps = 0; steps < 100000; ++steps) {
      if (!to_server_.empty()) {
        auto [from, message] = std::move(to_server_.front());
        to_server_.pop_front();
        auto silent = options_.silent_from.find(from);
        if (silent != options_.silent_from.end() && StageOf(message) >= silent->second) continue;
        if (options_.on_client_message && !options_.on_client_message(from, message)) continue;
        server_statuses_[from].push_back(server_->OnMessage(from, message));
      } else if (!to_clients_.empty()) {
        auto [to, message] = std::move(to_clients_.front());
        to_clients_.pop_front();
        if (options_.on_server_message && !options_.on_server_message(to, message)) continue;
        client_statuses_[to].push_back(clients_[to]->OnMessage(message));
      } else if (server_->stage() != Stage::kCompleted && server_->stage() != Stage::kAborted) {
        ASSERT_TRUE(server_->CloseStage().ok());
      } else {
        return;
      }
    }
    FAIL() << "the round did not end";
  }

  ServerSession& server() { return *server_; }
  ClientSession& client(const std::string& id) { return *clients_.at(id); }
  std::vector<absl::Status>& server_statuses(const std::string& id) { return server_statuses_[id]; }

  // The expected sum over `contributors`, and checks the server's result against it.
  void ExpectSumOver(const std::vector<std::string>& contributors) {
    auto result = server_->TakeResult();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_THAT(result->contributors, ElementsAreArray(contributors));
    const auto length = static_cast<size_t>(options_.config.vector_length);
    ASSERT_EQ(result->sum.size(), length);
    double weight = 0;
    std::vector<double> expected(length, 0.0);
    for (const std::string& id : contributors) {
      weight += weights_.at(id);
      for (size_t i = 0; i < length; ++i) {
        expected[i] +=
            std::clamp(inputs_.at(id)[i], -options_.config.clip_range, options_.config.clip_range);
      }
    }
    EXPECT_EQ(result->total_weight, weight);
    const double bound = ValueCodec(options_.config).ErrorBound(contributors.size());
    double worst = 0;
    for (size_t i = 0; i < length; ++i) {
      worst = std::max(worst, std::abs(result->sum[i] - expected[i]));
    }
    EXPECT_LT(worst, bound);
  }

  std::vector<std::string> AllBut(const std::set<std::string>& left_out) const {
    std::vector<std::string> out;
    for (const std::string& id : ids_) {
      if (left_out.count(id) == 0) out.push_back(id);
    }
    return out;
  }

  absl::Status Send(const std::string& client_id, ServerMessage message) override {
    to_clients_.emplace_back(client_id, std::move(message));
    return absl::OkStatus();
  }

 private:
  class Link : public SendToServer {
   public:
    Link(Round* round, std::string id) : round_(round), id_(std::move(id)) {}
    absl::Status Send(ClientMessage message) override {
      round_->to_server_.emplace_back(id_, std::move(message));
      return absl::OkStatus();
    }

   private:
    Round* round_;
    std::string id_;
  };

  Options options_;
  std::vector<std::string> ids_;
  std::map<std::string, std::vector<double>> inputs_;
  std::map<std::string, double> weights_;
  std::unique_ptr<ServerSession> server_;
  std::map<std::string, std::unique_ptr<Link>> links_;
  std::map<std::string, std::unique_ptr<ClientSession>> clients_;
  std::deque<std::pair<std::string, ClientMessage>> to_server_;
  std::deque<std::pair<std::string, ServerMessage>> to_clients_;
  std::map<std::string, std::vector<absl::Status>> server_statuses_;
  std::map<std::string, std::vector<absl::Status>> client_statuses_;
};

Round::Options Options(int clients) {
  Round::Options options;
  options.clients = clients;
  options.config = Round::DefaultConfig();
  return options;
}

bool DroppedAt(ServerSession& server, const std::string& id, Stage stage,
               absl::string_view reason_part) {
  for (const DroppedClient& d : server.dropped_clients()) {
    if (d.client_id == id) {
      EXPECT_EQ(d.stage, stage) << d.reason;
      EXPECT_THAT(d.reason.message(), HasSubstr(reason_part));
      return d.stage == stage;
    }
  }
  ADD_FAILURE() << id << " was not dropped";
  return false;
}

TEST(SecAggTest, SumsAllInputsInBothModuli) {
  for (int bits : {32, 64}) {
    Round::Options options = Options(5);
    options.config.modulus_bits = bits;
    Round round(options);
    round.Run();
    EXPECT_EQ(round.server().stage(), Stage::kCompleted);
    round.ExpectSumOver(round.ids());
    for (const std::string& id : round.ids()) {
      EXPECT_EQ(round.client(id).stage(), Stage::kCompleted) << round.client(id).status();
    }
    EXPECT_TRUE(round.server().dropped_clients().empty());
  }
}

// Stochastic rounding is keyed by the round and the client, so a federated run can be repeated
// bit for bit; another round rounds the same inputs differently, so the rounding stays unbiased
// over rounds.
TEST(SecAggTest, TheSameRoundGivesTheSameSumAndAnotherRoundRoundsDifferently) {
  auto sum_of_round = [](uint64_t round_number) {
    Round::Options options = Options(3);
    options.context.round = round_number;
    Round round(options);
    round.Run();
    auto result = round.server().TakeResult();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->sum : std::vector<double>{};
  };
  const std::vector<double> first = sum_of_round(1);
  ASSERT_EQ(first.size(), 1000u);
  EXPECT_EQ(sum_of_round(1), first);
  const std::vector<double> other = sum_of_round(2);
  ASSERT_EQ(other.size(), first.size());
  int differ = 0;
  for (size_t i = 0; i < first.size(); ++i) differ += other[i] != first[i] ? 1 : 0;
  EXPECT_GT(differ, 100);  // about half of the values round the other way
}

TEST(SecAggTest, TwoClientsAndAnEmptyVectorSumTheWeights) {
  Round::Options options = Options(2);
  options.config.vector_length = 0;
  Round round(options);
  round.Run();
  round.ExpectSumOver(round.ids());
}

struct DropoutCase {
  Stage stage;
  int dropouts;
};

class DropoutTest : public ::testing::TestWithParam<DropoutCase> {};

// 7 clients, t = 4: up to 3 may drop out at any stage.
TEST_P(DropoutTest, SumIsExactOverTheContributors) {
  const DropoutCase c = GetParam();
  Round::Options options = Options(7);
  options.config.threshold = 4;
  std::set<std::string> gone;
  for (int i = 0; i < c.dropouts; ++i) {
    gone.insert(Id(2 * i));  // spread out: inst-00, inst-02, inst-04
    options.silent_from[Id(2 * i)] = c.stage;
  }
  Round round(options);
  round.Run();
  ASSERT_EQ(round.server().stage(), Stage::kCompleted) << round.server().TakeResult().status();
  // Clients that dropped out while unmasking had already sent their input: it is in the sum.
  round.ExpectSumOver(c.stage == Stage::kUnmasking ? round.ids() : round.AllBut(gone));
  for (const std::string& id : gone) {
    EXPECT_TRUE(DroppedAt(round.server(), id, c.stage, "no answer"));
  }
}

// "ShareKeys_3" for 3 dropouts in stage kShareKeys.
std::string StageId(Stage stage) {
  std::string name;
  for (absl::string_view word : absl::StrSplit(StageName(stage), ' ')) {
    name += absl::StrCat(absl::AsciiStrToUpper(word.substr(0, 1)), word.substr(1));
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    EachStage, DropoutTest,
    ::testing::Values(DropoutCase{Stage::kAdvertiseKeys, 0}, DropoutCase{Stage::kAdvertiseKeys, 1},
                      DropoutCase{Stage::kAdvertiseKeys, 3}, DropoutCase{Stage::kShareKeys, 1},
                      DropoutCase{Stage::kShareKeys, 3}, DropoutCase{Stage::kMaskedInput, 1},
                      DropoutCase{Stage::kMaskedInput, 3}, DropoutCase{Stage::kUnmasking, 1},
                      DropoutCase{Stage::kUnmasking, 3}),
    [](const ::testing::TestParamInfo<DropoutCase>& info) {
      return absl::StrCat(StageId(info.param.stage), "_", info.param.dropouts);
    });

TEST(SecAggTest, OneDropoutPerStageAddsUpToTheMaximum) {
  Round::Options options = Options(7);
  options.config.threshold = 4;
  options.silent_from = {
      {Id(1), Stage::kShareKeys}, {Id(3), Stage::kMaskedInput}, {Id(5), Stage::kUnmasking}};
  Round round(options);
  round.Run();
  // inst-05 sent its input before it left.
  round.ExpectSumOver(round.AllBut({Id(1), Id(3)}));
}

// The server unmasks and decodes the sum 2^16 words at a time, releasing each stretch as it
// goes: a vector of a few stretches and a part, with a dropout whose pairwise masks must be
// removed too, sums exactly in both moduli (the weight word last, after a partial page).
TEST(SecAggTest, LongVectorsSumAcrossUnmaskingStretchesInBothModuli) {
  for (int bits : {32, 64}) {
    Round::Options options = Options(5);
    options.config.modulus_bits = bits;
    options.config.vector_length = 3 * (1 << 16) + 1234;
    options.config.chunk_words = 10000;
    options.silent_from[Id(1)] = Stage::kMaskedInput;
    Round round(options);
    round.Run();
    ASSERT_EQ(round.server().stage(), Stage::kCompleted) << round.server().TakeResult().status();
    round.ExpectSumOver(round.AllBut({Id(1)}));
  }
}

class BelowThresholdTest : public ::testing::TestWithParam<Stage> {};

TEST_P(BelowThresholdTest, AbortsWithAClearError) {
  Round::Options options = Options(7);
  options.config.threshold = 4;
  for (int i = 0; i < 4; ++i) options.silent_from[Id(i)] = GetParam();
  Round round(options);
  round.Run();
  ASSERT_EQ(round.server().stage(), Stage::kAborted);
  const absl::Status status = round.server().TakeResult().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("only 3 clients"), HasSubstr("fewer than the threshold t = 4"),
                    HasSubstr(StageName(GetParam()))));
  // The clients still there learn that the round is over.
  for (int i = 4; i < 7; ++i) {
    EXPECT_EQ(round.client(Id(i)).stage(), Stage::kAborted);
    EXPECT_THAT(round.client(Id(i)).status().message(), HasSubstr("server aborted"));
  }
}

INSTANTIATE_TEST_SUITE_P(EachStage, BelowThresholdTest,
                         ::testing::Values(Stage::kAdvertiseKeys, Stage::kShareKeys,
                                           Stage::kMaskedInput, Stage::kUnmasking),
                         [](const ::testing::TestParamInfo<Stage>& info) {
                           return StageId(info.param);
                         });

TEST(SecAggTest, SparseGraphToleratesDropoutsInEveryNeighbourhood) {
  Round::Options options = Options(40);
  options.config.graph_threshold = 8;
  options.config.degree = 8;  // 9 holders per secret, t = 5
  options.config.vector_length = 200;
  options.silent_from = {{Id(3), Stage::kShareKeys},
                         {Id(17), Stage::kShareKeys},
                         {Id(8), Stage::kMaskedInput},
                         {Id(30), Stage::kUnmasking}};
  Round round(options);
  round.Run();
  ASSERT_EQ(round.server().stage(), Stage::kCompleted) << round.server().TakeResult().status();
  round.ExpectSumOver(round.AllBut({Id(3), Id(17), Id(8)}));
}

TEST(SecAggTest, WrongSignatureExcludesTheClient) {
  Round::Options options = Options(5);
  options.on_client_message = [](const std::string& from, ClientMessage& m) {
    if (auto* keys = std::get_if<AdvertiseKeys>(&m); keys != nullptr && from == Id(2)) {
      keys->keys.signature[10] ^= 0x01;
    }
    return true;
  };
  Round round(options);
  round.Run();
  EXPECT_TRUE(DroppedAt(round.server(), Id(2), Stage::kAdvertiseKeys, "signature"));
  EXPECT_THAT(round.server_statuses(Id(2))[0].message(), HasSubstr("signature does not verify"));
  EXPECT_EQ(round.client(Id(2)).stage(), Stage::kAborted);
  round.ExpectSumOver(round.AllBut({Id(2)}));
}

TEST(SecAggTest, KeysMustBeSignedByTheSendersOwnTrustedCertificate) {
  struct Case {
    std::string certificate_pem;
    std::string error;
  };
  const std::vector<Case> cases = {
      {TestPki().institutions.at(Id(3)).cert_pem, "belongs to flsailer://institution/inst-03"},
      {TestPki().stranger.cert_pem, "certificate not trusted"},
      {TestPki().server.cert_pem, "belongs to flsailer://server/aggregator"},
  };
  for (const Case& c : cases) {
    Round::Options options = Options(5);
    options.on_client_message = [&c](const std::string& from, ClientMessage& m) {
      if (auto* keys = std::get_if<AdvertiseKeys>(&m); keys != nullptr && from == Id(2)) {
        keys->keys.certificate_pem = c.certificate_pem;
      }
      return true;
    };
    Round round(options);
    round.Run();
    EXPECT_TRUE(DroppedAt(round.server(), Id(2), Stage::kAdvertiseKeys, c.error));
    round.ExpectSumOver(round.AllBut({Id(2)}));
  }
}

TEST(SecAggTest, KeysReplayedFromAnotherRoundAreRefused) {
  AdvertiseKeys old_keys;
  Round::Options first = Options(3);
  first.on_client_message = [&old_keys](const std::string& from, ClientMessage& m) {
    if (auto* keys = std::get_if<AdvertiseKeys>(&m); keys != nullptr && from == Id(2)) {
      old_keys = *keys;
    }
    return true;
  };
  Round round1(first);
  round1.Run();

  Round::Options second = Options(3);
  second.context.round = 2;
  second.on_client_message = [&old_keys](const std::string& from, ClientMessage& m) {
    if (auto* keys = std::get_if<AdvertiseKeys>(&m); keys != nullptr && from == Id(2)) {
      keys->keys = old_keys.keys;  // round 1's signed keys under round 2's header
    }
    return true;
  };
  Round round2(second);
  round2.Run();
  EXPECT_TRUE(DroppedAt(round2.server(), Id(2), Stage::kAdvertiseKeys,
                        "signature does not verify for job 'job-1' round 2"));
  round2.ExpectSumOver(round2.AllBut({Id(2)}));
}

TEST(SecAggTest, ClientsRefuseNeighbourKeysTheServerAltered) {
  Round::Options options = Options(5);
  options.on_server_message = [](const std::string& to, ServerMessage& m) {
    if (auto* broadcast = std::get_if<KeysBroadcast>(&m); broadcast != nullptr && to == Id(1)) {
      broadcast->neighbours[0].masking_key[0] ^= 0x01;
    }
    return true;
  };
  Round round(options);
  round.Run();
  EXPECT_EQ(round.client(Id(1)).stage(), Stage::kAborted);
  EXPECT_THAT(round.client(Id(1)).status().message(),
              AllOf(HasSubstr("keys of 'inst-00'"), HasSubstr("signature does not verify")));
  EXPECT_TRUE(DroppedAt(round.server(), Id(1), Stage::kShareKeys, "the client left"));
  round.ExpectSumOver(round.AllBut({Id(1)}));
}

TEST(SecAggTest, TamperedShareMakesItsRecipientLeaveCleanly) {
  Round::Options options = Options(5);
  options.on_server_message = [](const std::string& to, ServerMessage& m) {
    if (auto* delivery = std::get_if<SharesDelivery>(&m); delivery != nullptr && to == Id(1)) {
      delivery->shares[1].ciphertext[20] ^= 0x40;
    }
    return true;
  };
  Round round(options);
  round.Run();
  EXPECT_THAT(round.client(Id(1)).status().message(), HasSubstr("authentication failed"));
  EXPECT_TRUE(DroppedAt(round.server(), Id(1), Stage::kMaskedInput, "the client left"));
  round.ExpectSumOver(round.AllBut({Id(1)}));
}

TEST(SecAggTest, ReplayedSharesAreRefused) {
  // The share inst-00 made for inst-02, relabelled for inst-01; then a share delivered twice.
  for (bool duplicate : {false, true}) {
    Round::Options options = Options(5);
    EncryptedShare for_inst_02;
    options.on_client_message = [&for_inst_02](const std::string& from, ClientMessage& m) {
      if (auto* shares = std::get_if<ShareKeys>(&m); shares != nullptr && from == Id(0)) {
        for (const EncryptedShare& s : shares->shares) {
          if (s.holder == Id(2)) for_inst_02 = s;
        }
      }
      return true;
    };
    options.on_server_message = [&](const std::string& to, ServerMessage& m) {
      if (auto* delivery = std::get_if<SharesDelivery>(&m); delivery != nullptr && to == Id(1)) {
        if (duplicate) {
          delivery->shares.push_back(delivery->shares[0]);
        } else {
          for (EncryptedShare& s : delivery->shares) {
            if (s.owner == Id(0)) s.ciphertext = for_inst_02.ciphertext;
          }
        }
      }
      return true;
    };
    Round round(options);
    round.Run();
    EXPECT_THAT(round.client(Id(1)).status().message(),
                HasSubstr(duplicate ? "a second share" : "authentication failed"));
    round.ExpectSumOver(round.AllBut({Id(1)}));
  }
}

TEST(SecAggTest, ShareFromAnotherRoundFailsToDecrypt) {
  // Round 1 runs normally; its share from inst-00 to inst-01 is replayed in round 2.
  EncryptedShare old_share;
  Round::Options first = Options(4);
  first.on_server_message = [&old_share](const std::string& to, ServerMessage& m) {
    if (auto* delivery = std::get_if<SharesDelivery>(&m); delivery != nullptr && to == Id(1)) {
      old_share = delivery->shares[0];
    }
    return true;
  };
  Round round1(first);
  round1.Run();
  round1.ExpectSumOver(round1.ids());
  ASSERT_EQ(old_share.owner, Id(0));

  Round::Options second = Options(4);
  second.context.round = 2;
  second.on_server_message = [&old_share](const std::string& to, ServerMessage& m) {
    if (auto* delivery = std::get_if<SharesDelivery>(&m); delivery != nullptr && to == Id(1)) {
      delivery->shares[0] = old_share;
    }
    return true;
  };
  Round round2(second);
  round2.Run();
  EXPECT_THAT(round2.client(Id(1)).status().message(),
              AllOf(HasSubstr("share from 'inst-00'"), HasSubstr("authentication failed")));
  round2.ExpectSumOver(round2.AllBut({Id(1)}));
}

TEST(SecAggTest, WrongVectorLengthInTheFirstChunkExcludesTheClient) {
  Round::Options options = Options(5);
  options.on_client_message = [](const std::string& from, ClientMessage& m) {
    if (auto* chunk = std::get_if<MaskedInputChunk>(&m); chunk != nullptr && from == Id(3)) {
      chunk->vector_words += 1;
    }
    return true;
  };
  Round round(options);
  round.Run();
  EXPECT_TRUE(DroppedAt(round.server(), Id(3), Stage::kMaskedInput,
                        "masked vector of 1002 words, the round sums 1001"));
  round.ExpectSumOver(round.AllBut({Id(3)}));

  // The client itself refuses an input of the wrong length.
  Round::Options config_only = Options(2);
  NullLink link;
  EXPECT_THAT(ClientSession::Create(config_only.config, config_only.context,
                                    TestPki().institutions.at(Id(0)), TestPki().ca.cert_pem,
                                    std::vector<double>(999), 1.0, &link)
                  .status()
                  .message(),
              HasSubstr("999 values, the round sums 1000"));
}

TEST(SecAggTest, MaskedInputBreakingOffMidStreamAbortsTheRound) {
  Round::Options options = Options(5);
  options.on_client_message = [](const std::string& from, ClientMessage& m) {
    if (auto* chunk = std::get_if<MaskedInputChunk>(&m);
        chunk != nullptr && from == Id(3) && chunk->offset == 300) {
      chunk->words.resize(chunk->words.size() - 8);  // one word short: the next chunk misfits
    }
    return true;
  };
  Round round(options);
  round.Run();
  ASSERT_EQ(round.server().stage(), Stage::kAborted);
  EXPECT_THAT(round.server().TakeResult().status().message(),
              AllOf(HasSubstr("'inst-03' dropped out after 599 of 1001 masked words"),
                    HasSubstr("cannot take them out")));
}

TEST(SecAggTest, ServerRefusesStrangersImpostorsAndOutOfOrderMessages) {
  Round round(Options(5));
  round.Create();
  ServerSession& server = round.server();
  const MessageHeader header{{"job-1", 1}, Stage::kShareKeys, Id(1)};

  // Not a client of the round: refused, nobody dropped.
  absl::Status stranger = server.OnMessage("inst-99", ShareKeys{header, "", {}});
  EXPECT_EQ(stranger.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(server.dropped_clients().empty());

  // inst-02 speaking for inst-01: inst-02 is dropped.
  EXPECT_EQ(server.OnMessage(Id(2), ShareKeys{header, "", {}}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(DroppedAt(server, Id(2), Stage::kAdvertiseKeys, "in the name of 'inst-01'"));
  EXPECT_EQ(server.OnMessage(Id(2), ShareKeys{header, "", {}}).code(),
            absl::StatusCode::kFailedPrecondition);

  // A message of a later stage before this one ended.
  EXPECT_THAT(server.OnMessage(Id(1), ShareKeys{header, "", {}}).message(),
              HasSubstr("of stage 'share keys' during stage 'advertise keys'"));
  // A message for another round, and one whose header stage contradicts its type.
  MessageHeader other_round{{"job-1", 2}, Stage::kAdvertiseKeys, Id(3)};
  EXPECT_THAT(server.OnMessage(Id(3), AdvertiseKeys{other_round, {}}).message(),
              HasSubstr("for job 'job-1' round 2"));
  MessageHeader mislabelled{{"job-1", 1}, Stage::kUnmasking, Id(4)};
  EXPECT_THAT(server.OnMessage(Id(4), AdvertiseKeys{mislabelled, {}}).message(),
              HasSubstr("marked 'unmasking'"));
  EXPECT_EQ(server.dropped_clients().size(), 4u);
  EXPECT_EQ(server.TakeResult().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SecAggTest, DuplicateMessagesChangeNothing) {
  Round::Options options = Options(4);
  Round* round_ptr = nullptr;
  options.on_client_message = [&round_ptr](const std::string& from, ClientMessage& m) {
    // Deliver inst-02's messages twice: here, and then as usual.
    if (from == Id(2) && !std::holds_alternative<MaskedInputChunk>(m)) {
      absl::Status first = round_ptr->server().OnMessage(from, m);
      EXPECT_TRUE(first.ok()) << first;
    }
    return true;
  };
  Round round(options);
  round_ptr = &round;
  round.Run();
  // Every second copy was refused as a duplicate, and inst-02 still contributed.
  int duplicates = 0;
  for (const absl::Status& status : round.server_statuses(Id(2))) {
    if (!status.ok()) {
      EXPECT_THAT(status.message(), HasSubstr("duplicate or late"));
      ++duplicates;
    }
  }
  EXPECT_EQ(duplicates, 3);
  round.ExpectSumOver(round.ids());
}

TEST(SecAggTest, WrongRevealedShareAbortsTheRoundCleanly) {
  Round::Options options = Options(5);
  options.on_client_message = [](const std::string& from, ClientMessage& m) {
    if (auto* reveal = std::get_if<UnmaskingShares>(&m); reveal != nullptr && from == Id(0)) {
      reveal->self_mask_shares[1].value[32] ^= 0x01;
    }
    return true;
  };
  Round round(options);
  round.Run();
  ASSERT_EQ(round.server().stage(), Stage::kAborted);
  EXPECT_THAT(round.server().TakeResult().status().message(),
              HasSubstr("a client revealed a wrong share"));
}

TEST(SecAggTest, MalformedRevealExcludesOnlyThatClientsShares) {
  Round::Options options = Options(5);
  options.on_client_message = [](const std::string& from, ClientMessage& m) {
    if (auto* reveal = std::get_if<UnmaskingShares>(&m); reveal != nullptr && from == Id(4)) {
      // Asks for both secrets of inst-00: a share of its masking key too.
      reveal->masking_key_shares.push_back(reveal->self_mask_shares[0]);
    }
    return true;
  };
  Round round(options);
  round.Run();
  EXPECT_TRUE(DroppedAt(round.server(), Id(4), Stage::kUnmasking, "must not reveal"));
  // inst-04's input is in the sum; only its shares were not used.
  round.ExpectSumOver(round.ids());
}

// Wilson-Hilferty: the chi-square quantile with `df` degrees of freedom at normal quantile z.
double ChiSquareQuantile(double df, double z) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3);
}

TEST(SecAggTest, MaskedVectorLooksUniformAndHidesTheInput) {
  for (int bits : {32, 64}) {
    Round::Options options = Options(3);
    options.config.modulus_bits = bits;
    options.config.vector_length = 8191;  // 8192 words with the weight
    options.config.chunk_words = 1000;
    std::string sent;  // inst-00's masked vector
    options.on_client_message = [&sent](const std::string& from, ClientMessage& m) {
      if (auto* chunk = std::get_if<MaskedInputChunk>(&m); chunk != nullptr && from == Id(0)) {
        sent += chunk->words;
      }
      return true;
    };
    Round round(options);
    round.inputs()[Id(0)].assign(8191, 0.0);  // the most regular input there is
    round.Create();
    round.Run();
    round.ExpectSumOver(round.ids());

    const size_t width = static_cast<size_t>(bits / 8);
    ASSERT_EQ(sent.size(), 8192 * width);
    // Byte frequencies: chi-square with 255 degrees of freedom.
    std::vector<double> counts(256, 0);
    for (char c : sent) counts[static_cast<uint8_t>(c)] += 1;
    const double expected = static_cast<double>(sent.size()) / 256;
    double chi2 = 0;
    for (double n : counts) chi2 += (n - expected) * (n - expected) / expected;
    // z = 4.75: a false alarm once in a million runs.
    EXPECT_LT(chi2, ChiSquareQuantile(255, 4.75)) << bits;
    // Each bit position of the words: ones should be Binomial(words, 1/2).
    const size_t words = 8192;
    double bit_chi2 = 0;
    size_t zero_words = 0;
    for (size_t bit = 0; bit < 8 * width; ++bit) {
      double ones = 0;
      for (size_t w = 0; w < words; ++w) {
        ones += (static_cast<uint8_t>(sent[w * width + bit / 8]) >> (bit % 8)) & 1;
      }
      bit_chi2 += (ones - words / 2.0) * (ones - words / 2.0) / (words / 4.0);
    }
    for (size_t w = 0; w < words; ++w) {
      zero_words += sent.substr(w * width, width) == std::string(width, '\0');
    }
    EXPECT_LT(bit_chi2, ChiSquareQuantile(8.0 * width, 4.75)) << bits;
    // The plain encoding is all zeros; the masked one differs everywhere (but by chance).
    EXPECT_LE(zero_words, 1u) << bits;
  }
}

TEST(SecAggTest, QuantisationErrorStaysWithinTheBoundIncludingClipping) {
  for (int bits : {32, 64}) {
    Round::Options options = Options(6);
    options.config.modulus_bits = bits;
    options.config.clip_range = 1.0;
    options.config.scale_bits = 8;  // coarse, so the bound is what is tested
    Round round(options);
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> wide(-1.5, 1.5);
    for (auto& [id, values] : round.inputs()) {
      for (double& v : values) v = wide(rng);
    }
    round.Create();
    round.Run();
    round.ExpectSumOver(round.ids());  // checks |sum - sum of clipped| < 6 * 2^-8
    EXPECT_GT(round.client(Id(0)).clipped_values(), 0);
  }
}

TEST(SecAggTest, RefusesRoundsThatCouldOverflow) {
  SecAggConfig config = Round::DefaultConfig();
  config.modulus_bits = 32;
  config.clip_range = 1.0;
  config.scale_bits = 24;
  std::vector<std::string> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(Id(i));
  Round dummy(Options(2));
  auto server = ServerSession::Create(config, {"job-1", 1}, clients, TestPki().ca.cert_pem, &dummy);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), AllOf(HasSubstr("would overflow the modulus 2^32"),
                                               HasSubstr("scale_bits <= 23 would fit")));
}

TEST(SecAggTest, SessionsRefuseMisuseAndBadArguments) {
  Round round(Options(3));
  round.Create();
  ClientSession& client = round.client(Id(0));
  EXPECT_EQ(client.OnMessage(AbortRound{}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(client.Start().ok());
  EXPECT_EQ(client.Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.stage(), Stage::kShareKeys);
  EXPECT_EQ(round.server().TakeResult().status().code(), absl::StatusCode::kFailedPrecondition);

  const Round::Options o = Options(3);
  const pki::KeyAndCertificate& me = TestPki().institutions.at(Id(0));
  std::vector<double> nan_input(1000, 0.0);
  nan_input[7] = std::nan("");
  EXPECT_THAT(
      ClientSession::Create(o.config, o.context, me, TestPki().ca.cert_pem, nan_input, 1.0, nullptr)
          .status()
          .message(),
      HasSubstr("no transport"));
  Round dummy(Options(2));
  NullLink link;
  EXPECT_THAT(
      ClientSession::Create(o.config, o.context, me, TestPki().ca.cert_pem, nan_input, 1.0, &link)
          .status()
          .message(),
      HasSubstr("input value 7 is not finite"));
  EXPECT_THAT(ClientSession::Create(o.config, o.context, me, TestPki().ca.cert_pem,
                                    std::vector<double>(1000), 2e6, &link)
                  .status()
                  .message(),
              HasSubstr("outside [0, 1e+06]"));
  EXPECT_THAT(ClientSession::Create(o.config, o.context, TestPki().server, TestPki().ca.cert_pem,
                                    std::vector<double>(1000), 1.0, &link)
                  .status()
                  .message(),
              HasSubstr("not flsailer://server/aggregator"));
  EXPECT_FALSE(ServerSession::Create(o.config, o.context, {Id(0), Id(0)}, "", &dummy).ok());
  EXPECT_FALSE(ServerSession::Create(o.config, o.context, {Id(0)}, "", &dummy).ok());
  EXPECT_FALSE(ServerSession::Create(o.config, o.context, {Id(0), "bad id!"}, "", &dummy).ok());
  SecAggConfig high_threshold = o.config;
  high_threshold.threshold = 4;
  EXPECT_FALSE(
      ServerSession::Create(high_threshold, o.context, {Id(0), Id(1), Id(2)}, "", &dummy).ok());
}

TEST(SecAggTest, SessionsRefuseMessagesAfterTheEnd) {
  Round round(Options(3));
  round.Run();
  round.ExpectSumOver(round.ids());
  EXPECT_EQ(round.server().TakeResult().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(round.server().CloseStage().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(round.server().OnMessage(Id(0), AbortRound{}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(round.client(Id(0)).OnMessage(AbortRound{}).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace flsailer::secagg
