#include "libs/secagg/client.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/secagg/crypto.h"
#include "libs/secagg/protocol.h"
#include "libs/secagg/shamir.h"

namespace flsailer::secagg {

using internal::AddsPairwiseMask;
using internal::CheckHeader;
using internal::IndexOf;
using internal::ShareX;

// What the session owns for the whole round; states point to it.
struct ClientShared {
  SecAggConfig config;
  RoundContext context;
  std::string id;
  pki::KeyAndCertificate credentials;
  std::string ca_pem;
  std::vector<double> values;  // released once masked
  double weight = 0;
  SendToServer* server = nullptr;
  int64_t clipped = 0;

  MessageHeader Header(Stage stage) const { return MessageHeader{context, stage, id}; }
};

// One stage of the client. Handle validates one server message and returns the next state; any
// error aborts the round for this client.
class ClientState {
 public:
  explicit ClientState(ClientShared* shared) : shared_(shared) {}
  virtual ~ClientState() = default;

  virtual Stage stage() const = 0;
  virtual absl::Status status() const { return absl::OkStatus(); }

  virtual absl::StatusOr<std::unique_ptr<ClientState>> Start() {
    return absl::FailedPreconditionError("the session has already started");
  }

  virtual absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage& message) = 0;

 protected:
  // InvalidArgument unless `message` holds an M (the server's message of this stage).
  template <typename M>
  absl::StatusOr<const M*> Expect(const ServerMessage& message, absl::string_view what) const {
    const M* m = std::get_if<M>(&message);
    if (m == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("expected the server's ", what,
                                                     ", got a message of stage '",
                                                     StageName(StageOf(message)), "'"));
    }
    FLS_RETURN_IF_ERROR(CheckHeader(m->header, shared_->context, stage(), shared_->id));
    return m;
  }

  ClientShared* shared_;
};

namespace {

// What a client knows once the participants are fixed, carried from stage to stage.
struct ClientRound {
  X25519KeyPair encryption;
  X25519KeyPair masking;
  std::vector<std::string> participants;  // sorted
  int index = 0;                          // this client's position in participants
  int threshold = 0;
  std::map<int, SignedKeys> neighbours;  // by participant index
  Key self_mask_seed{};
  internal::SharePlaintext own_share;  // this client's share of its own secrets
  // Shares received from neighbours (by owner index), known after the masked-input stage.
  std::map<int, internal::SharePlaintext> received;

  ClientRound(X25519KeyPair e, X25519KeyPair m) : encryption(std::move(e)), masking(std::move(m)) {}
  ClientRound(ClientRound&&) = default;
  ~ClientRound() { Wipe(self_mask_seed); }
};

// The session answers every message itself once the round has ended.
class CompletedState final : public ClientState {
 public:
  using ClientState::ClientState;
  Stage stage() const override { return Stage::kCompleted; }
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage&) override {
    return absl::FailedPreconditionError("the round has ended");
  }
};

class AbortedState final : public ClientState {
 public:
  AbortedState(ClientShared* shared, absl::Status why)
      : ClientState(shared), why_(std::move(why)) {}
  Stage stage() const override { return Stage::kAborted; }
  absl::Status status() const override { return why_; }
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage&) override {
    return absl::FailedPreconditionError("the round has ended");
  }

 private:
  absl::Status why_;
};

// Awaits the unmasking request; reveals, per client it holds shares of, the self-mask share if
// that client survived and the masking-key share if it dropped out.
class UnmaskingState final : public ClientState {
 public:
  UnmaskingState(ClientShared* shared, ClientRound round)
      : ClientState(shared), round_(std::move(round)) {}
  Stage stage() const override { return Stage::kUnmasking; }

  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage& message) override {
    FLS_ASSIGN_OR_RETURN(const UnmaskingRequest* request,
                         Expect<UnmaskingRequest>(message, "unmasking request"));
    const std::vector<std::string>& survivors = request->survivors;
    if (!internal::StrictlySorted(survivors)) {
      return absl::InvalidArgumentError("the survivors are not sorted and unique");
    }
    for (const std::string& id : survivors) {
      if (IndexOf(round_.participants, id) < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("survivor '", absl::CHexEscape(id), "' is not a participant"));
      }
    }
    if (IndexOf(survivors, shared_->id) < 0) {
      return absl::InvalidArgumentError(
          "the survivors leave out this client, which sent its masked input");
    }
    if (static_cast<int>(survivors.size()) < round_.threshold) {
      return absl::FailedPreconditionError(
          absl::StrCat("only ", survivors.size(), " survivors, below the threshold ",
                       round_.threshold, ": revealing shares could expose inputs"));
    }
    UnmaskingShares reply{shared_->Header(Stage::kUnmasking), {}, {}};
    auto reveal = [&](const std::string& owner, const internal::SharePlaintext& share) {
      if (IndexOf(survivors, owner) >= 0) {
        reply.self_mask_shares.push_back({owner, share.self_mask_share});
      } else {
        reply.masking_key_shares.push_back({owner, share.masking_key_share});
      }
    };
    reveal(shared_->id, round_.own_share);
    for (const auto& [owner, share] : round_.received) {
      reveal(round_.participants[static_cast<size_t>(owner)], share);
    }
    FLS_RETURN_IF_ERROR(shared_->server->Send(std::move(reply)));
    return std::make_unique<CompletedState>(shared_);
  }

 private:
  ClientRound round_;
};

// Awaits the shares addressed to this client, then masks its input against their owners and
// streams it to the server.
class MaskedInputState final : public ClientState {
 public:
  MaskedInputState(ClientShared* shared, ClientRound round)
      : ClientState(shared), round_(std::move(round)) {}
  Stage stage() const override { return Stage::kMaskedInput; }

  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage& message) override {
    FLS_ASSIGN_OR_RETURN(const SharesDelivery* delivery,
                         Expect<SharesDelivery>(message, "shares delivery"));
    for (const EncryptedShare& share : delivery->shares) {
      absl::Status accepted = Accept(share);
      if (!accepted.ok()) {
        return absl::Status(
            accepted.code(),
            absl::StrCat("share from '", absl::CHexEscape(share.owner), "': ", accepted.message()));
      }
    }
    // Each neighbour that shared keys contributes a pairwise mask. With fewer than t - 1 the
    // input would be protected by too few masks (none at all once the self mask is removed).
    if (static_cast<int>(round_.received.size()) + 1 < round_.threshold) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", round_.received.size(),
          " neighbours shared keys; masking the input needs at least ", round_.threshold - 1));
    }
    FLS_RETURN_IF_ERROR(SendMaskedInput());
    return std::make_unique<UnmaskingState>(shared_, std::move(round_));
  }

 private:
  absl::Status Accept(const EncryptedShare& share) {
    if (share.holder != shared_->id) {
      return absl::InvalidArgumentError(
          absl::StrCat("addressed to '", absl::CHexEscape(share.holder), "'"));
    }
    const int owner = IndexOf(round_.participants, share.owner);
    auto neighbour = round_.neighbours.find(owner);
    if (neighbour == round_.neighbours.end()) {
      return absl::InvalidArgumentError("not from a neighbour");
    }
    if (round_.received.count(owner) > 0) {
      return absl::InvalidArgumentError("a second share from the same client");
    }
    if (share.ciphertext.size() != internal::kSealedShareBytes) {
      return absl::InvalidArgumentError(absl::StrCat("ciphertext of ", share.ciphertext.size(),
                                                     " bytes, expected ",
                                                     internal::kSealedShareBytes));
    }
    FLS_ASSIGN_OR_RETURN(Key key,
                         internal::ShareKey(round_.encryption, neighbour->second.encryption_key,
                                            shared_->context, share.owner, shared_->id));
    FLS_ASSIGN_OR_RETURN(
        std::string plaintext,
        Open(key, share.ciphertext,
             internal::ShareAssociatedData(shared_->context, share.owner, shared_->id)));
    FLS_ASSIGN_OR_RETURN(internal::SharePlaintext decoded,
                         internal::DecodeSharePlaintext(plaintext));
    if (decoded.x != ShareX(round_.index)) {
      return absl::InvalidArgumentError(
          absl::StrCat("evaluation point ", decoded.x, ", expected ", ShareX(round_.index)));
    }
    round_.received.emplace(owner, std::move(decoded));
    return absl::OkStatus();
  }

  // Quantises, masks and sends the vector (values, then the weight) chunk by chunk, so that the
  // client never holds more than one masked chunk, provided the transport writes each one out
  // when it is sent rather than queueing them all (RunSecureSum's does).
  absl::Status SendMaskedInput() {
    const SecAggConfig& config = shared_->config;
    const int bits = config.modulus_bits;
    std::vector<internal::SignedMask> masks;
    FLS_ASSIGN_OR_RETURN(
        Key self_key, internal::SelfMaskKey(round_.self_mask_seed, shared_->context, shared_->id));
    FLS_ASSIGN_OR_RETURN(MaskGenerator self, MaskGenerator::Create(self_key));
    masks.push_back({std::move(self), false});
    for (const auto& [owner, unused] : round_.received) {
      const SignedKeys& peer = round_.neighbours.at(owner);
      FLS_ASSIGN_OR_RETURN(
          Key key, internal::PairwiseMaskKey(round_.masking, peer.masking_key, shared_->context,
                                             shared_->id, peer.client_id));
      FLS_ASSIGN_OR_RETURN(MaskGenerator generator, MaskGenerator::Create(key));
      masks.push_back({std::move(generator), !AddsPairwiseMask(shared_->id, peer.client_id)});
    }
    // Stochastic rounding draws from a key of its own, fixed by the round and the client.
    FLS_ASSIGN_OR_RETURN(Key rounding_key, internal::RoundingKey(shared_->context, shared_->id));
    FLS_ASSIGN_OR_RETURN(MaskGenerator rounding, MaskGenerator::Create(rounding_key));
    const FixedPointCodec value_codec = ValueCodec(config);
    const FixedPointCodec weight_codec = WeightCodec(config);

    const uint64_t length = static_cast<uint64_t>(config.vector_length);
    const uint64_t total = length + 1;
    const uint64_t chunk = std::min<uint64_t>(total, static_cast<uint64_t>(config.chunk_words));
    std::vector<uint64_t> words(chunk);
    std::vector<uint64_t> random(chunk);
    for (uint64_t offset = 0; offset < total;) {
      const size_t n = static_cast<size_t>(std::min(chunk, total - offset));
      absl::Span<uint64_t> out = absl::MakeSpan(words).subspan(0, n);
      absl::Span<uint64_t> draws = absl::MakeSpan(random).subspan(0, n);
      FLS_RETURN_IF_ERROR(rounding.Fill(offset, draws));
      const size_t value_words =
          offset < length ? static_cast<size_t>(std::min<uint64_t>(n, length - offset)) : 0;
      FLS_ASSIGN_OR_RETURN(
          int64_t clipped,
          value_codec.Encode(absl::MakeConstSpan(shared_->values).subspan(offset, value_words),
                             draws.subspan(0, value_words), out.subspan(0, value_words)));
      shared_->clipped += clipped;
      if (value_words < n) {  // this chunk ends with the weight
        FLS_ASSIGN_OR_RETURN(clipped,
                             weight_codec.Encode(absl::MakeConstSpan(&shared_->weight, 1),
                                                 draws.subspan(n - 1, 1), out.subspan(n - 1, 1)));
        shared_->clipped += clipped;
      }
      FLS_RETURN_IF_ERROR(internal::ApplyMasks(masks, offset, bits, out));
      MaskedInputChunk message{shared_->Header(Stage::kMaskedInput), total, offset,
                               internal::PackWords(out, bits)};
      FLS_RETURN_IF_ERROR(shared_->server->Send(std::move(message)));
      offset += n;
    }
    std::vector<double>().swap(shared_->values);
    return absl::OkStatus();
  }

  ClientRound round_;
};

// Awaits the participants and the neighbours' signed keys; checks them, then Shamir-shares the
// self-mask seed and the masking key among the neighbours (encrypted) and itself.
class ShareKeysState final : public ClientState {
 public:
  ShareKeysState(ClientShared* shared, X25519KeyPair encryption, X25519KeyPair masking)
      : ClientState(shared), round_(std::move(encryption), std::move(masking)) {}
  Stage stage() const override { return Stage::kShareKeys; }

  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage& message) override {
    FLS_ASSIGN_OR_RETURN(const KeysBroadcast* broadcast,
                         Expect<KeysBroadcast>(message, "keys broadcast"));
    const std::vector<std::string>& participants = broadcast->participants;
    if (participants.size() > static_cast<size_t>(kMaxClients) ||
        !internal::StrictlySorted(participants)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the participants are not sorted, unique and at most ", kMaxClients));
    }
    round_.participants = participants;
    round_.index = IndexOf(participants, shared_->id);
    if (round_.index < 0) {
      return absl::InvalidArgumentError("the participants leave out this client");
    }
    const int n = static_cast<int>(participants.size());
    FLS_RETURN_IF_ERROR(CheckSumFits(shared_->config, n));
    FLS_ASSIGN_OR_RETURN(RoundPlan plan, PlanRound(shared_->config, shared_->context, n));
    round_.threshold = plan.threshold;

    const std::vector<int> expected = plan.graph.Neighbours(round_.index);
    if (broadcast->neighbours.size() != expected.size()) {
      return absl::InvalidArgumentError(absl::StrCat("keys of ", broadcast->neighbours.size(),
                                                     " neighbours, expected ", expected.size()));
    }
    for (const SignedKeys& keys : broadcast->neighbours) {
      const int index = IndexOf(participants, keys.client_id);
      if (index < 0 || !plan.graph.AreNeighbours(round_.index, index)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "keys of '", absl::CHexEscape(keys.client_id), "', which is not a neighbour"));
      }
      if (round_.neighbours.count(index) > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("keys of '", absl::CHexEscape(keys.client_id), "' twice"));
      }
      FLS_RETURN_IF_ERROR(internal::VerifySignedKeys(keys, shared_->context, shared_->ca_pem));
      round_.neighbours.emplace(index, keys);
    }

    FLS_ASSIGN_OR_RETURN(round_.self_mask_seed, RandomKey());
    std::vector<int> holders = expected;
    holders.insert(std::lower_bound(holders.begin(), holders.end(), round_.index), round_.index);
    std::vector<uint32_t> xs;
    for (int h : holders) xs.push_back(ShareX(h));
    FLS_ASSIGN_OR_RETURN(std::vector<ShamirShare> seed_shares,
                         SplitSecret(round_.self_mask_seed, plan.threshold, xs));
    FLS_ASSIGN_OR_RETURN(std::vector<ShamirShare> key_shares,
                         SplitSecret(round_.masking.private_key(), plan.threshold, xs));

    ShareKeys reply{
        shared_->Header(Stage::kShareKeys),
        internal::SelfMaskCommitment(round_.self_mask_seed, shared_->context, shared_->id),
        {}};
    for (size_t i = 0; i < holders.size(); ++i) {
      internal::SharePlaintext plaintext{xs[i], seed_shares[i].value, key_shares[i].value};
      if (holders[i] == round_.index) {
        round_.own_share = std::move(plaintext);
        continue;
      }
      const SignedKeys& peer = round_.neighbours.at(holders[i]);
      FLS_ASSIGN_OR_RETURN(
          Key key, internal::ShareKey(round_.encryption, peer.encryption_key, shared_->context,
                                      shared_->id, peer.client_id));
      FLS_ASSIGN_OR_RETURN(
          std::string sealed,
          Seal(key, internal::EncodeSharePlaintext(plaintext),
               internal::ShareAssociatedData(shared_->context, shared_->id, peer.client_id)));
      reply.shares.push_back({shared_->id, peer.client_id, std::move(sealed)});
    }
    FLS_RETURN_IF_ERROR(shared_->server->Send(std::move(reply)));
    return std::make_unique<MaskedInputState>(shared_, std::move(round_));
  }

 private:
  ClientRound round_;
};

// Before Start: makes the round's two key pairs and advertises them, signed.
class AdvertiseKeysState final : public ClientState {
 public:
  using ClientState::ClientState;
  Stage stage() const override { return Stage::kAdvertiseKeys; }
  absl::StatusOr<std::unique_ptr<ClientState>> Handle(const ServerMessage&) override {
    return absl::FailedPreconditionError("the session has not started");
  }

  absl::StatusOr<std::unique_ptr<ClientState>> Start() override {
    FLS_ASSIGN_OR_RETURN(X25519KeyPair encryption, X25519KeyPair::Generate());
    FLS_ASSIGN_OR_RETURN(X25519KeyPair masking, X25519KeyPair::Generate());
    SignedKeys keys{shared_->id, shared_->credentials.cert_pem, KeyToBytes(encryption.public_key()),
                    KeyToBytes(masking.public_key()), ""};
    const std::string payload = internal::SignedKeysPayload(shared_->context, keys);
    FLS_ASSIGN_OR_RETURN(keys.signature, Sign(shared_->credentials.key_pem, payload));
    // Others would refuse the keys; say why here instead.
    if (!VerifySignature(keys.certificate_pem, payload, keys.signature).ok()) {
      return absl::InvalidArgumentError("the private key does not belong to the certificate");
    }
    FLS_RETURN_IF_ERROR(
        shared_->server->Send(AdvertiseKeys{shared_->Header(Stage::kAdvertiseKeys), keys}));
    return std::make_unique<ShareKeysState>(shared_, std::move(encryption), std::move(masking));
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ClientSession>> ClientSession::Create(
    const SecAggConfig& config, const RoundContext& context,
    const pki::KeyAndCertificate& credentials, std::string ca_pem, std::vector<double> values,
    double weight, SendToServer* server) {
  FLS_RETURN_IF_ERROR(ValidateConfig(config));
  FLS_RETURN_IF_ERROR(ValidateContext(context));
  if (server == nullptr) return absl::InvalidArgumentError("no transport to the server");
  if (values.size() != static_cast<size_t>(config.vector_length)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the input has ", values.size(), " values, the round sums ", config.vector_length));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat("input value ", i, " is not finite"));
    }
  }
  if (!std::isfinite(weight) || weight < 0 || weight > config.max_weight) {
    return absl::InvalidArgumentError(
        absl::StrCat("the weight ", weight, " is outside [0, ", config.max_weight, "]"));
  }
  FLS_ASSIGN_OR_RETURN(pki::CertificateInfo info, pki::ReadIdentity(credentials.cert_pem));
  if (info.identity.kind != pki::IdentityKind::kInstitution) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secure aggregation clients are institutions, not ", pki::IdentityUri(info.identity)));
  }
  auto shared = std::make_unique<ClientShared>();
  shared->config = config;
  shared->context = context;
  shared->id = info.identity.id;
  shared->credentials = credentials;
  shared->ca_pem = std::move(ca_pem);
  shared->values = std::move(values);
  shared->weight = weight;
  shared->server = server;
  return std::unique_ptr<ClientSession>(new ClientSession(std::move(shared)));
}

ClientSession::ClientSession(std::unique_ptr<ClientShared> shared)
    : shared_(std::move(shared)), state_(std::make_unique<AdvertiseKeysState>(shared_.get())) {}

ClientSession::~ClientSession() = default;

absl::Status ClientSession::Start() {
  if (state_->stage() != Stage::kAdvertiseKeys) {
    return absl::FailedPreconditionError("Start was already called");
  }
  return Advance(state_->Start());
}

absl::Status ClientSession::OnMessage(const ServerMessage& message) {
  const Stage stage = state_->stage();
  const AbortRound* abort = std::get_if<AbortRound>(&message);
  const bool abort_of_this_round = abort != nullptr && abort->header.context == shared_->context;
  // A completed client has done its part, but the round may still fail at the server.
  if (stage == Stage::kAborted || (stage == Stage::kCompleted && !abort_of_this_round)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the round has already ended (", StageName(stage), ")"));
  }
  if (stage == Stage::kAdvertiseKeys) {
    return absl::FailedPreconditionError("call Start before handing the session messages");
  }
  if (abort_of_this_round) {
    absl::Status why =
        absl::AbortedError(absl::StrCat("the server aborted the round: ", abort->reason));
    state_ = std::make_unique<AbortedState>(shared_.get(), why);
    return why;
  }
  return Advance(state_->Handle(message));
}

absl::Status ClientSession::Advance(absl::StatusOr<std::unique_ptr<ClientState>> next) {
  if (next.ok()) {
    state_ = *std::move(next);
    return absl::OkStatus();
  }
  absl::Status why = absl::Status(
      next.status().code(),
      absl::StrCat("client '", shared_->id, "' left ", DescribeContext(shared_->context),
                   " in stage '", StageName(state_->stage()), "': ", next.status().message()));
  // Best effort: the server counts the client as dropped out either way.
  shared_->server->Send(AbortRound{shared_->Header(state_->stage()), std::string(why.message())})
      .IgnoreError();
  state_ = std::make_unique<AbortedState>(shared_.get(), why);
  return why;
}

Stage ClientSession::stage() const { return state_->stage(); }
absl::Status ClientSession::status() const { return state_->status(); }
const std::string& ClientSession::client_id() const { return shared_->id; }
int64_t ClientSession::clipped_values() const { return shared_->clipped; }

}  // namespace flsailer::secagg
