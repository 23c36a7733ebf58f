#include "libs/secagg/server.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/pki/pki.h"
#include "libs/secagg/crypto.h"
#include "libs/secagg/little_endian.h"
#include "libs/secagg/protocol.h"
#include "libs/secagg/shamir.h"

namespace flsailer::secagg {

using internal::IndexOf;
using internal::ShareX;

// What the session owns for the whole round; states point to it.
struct ServerShared {
  SecAggConfig config;
  RoundContext context;
  std::vector<std::string> roster;  // sorted
  std::string ca_pem;
  SendToClients* clients = nullptr;
  std::set<std::string> dropped_ids;
  std::vector<DroppedClient> dropped;

  MessageHeader Header(Stage stage, const std::string& client) const {
    return MessageHeader{context, stage, client};
  }
};

namespace {

using Outbox = std::vector<std::pair<std::string, ServerMessage>>;

std::string Quote(absl::string_view id) { return absl::StrCat("'", absl::CHexEscape(id), "'"); }

absl::Status BelowThreshold(size_t remaining, absl::string_view what, int threshold) {
  return absl::FailedPreconditionError(absl::StrCat("only ", remaining, " clients ", what,
                                                    ", fewer than the threshold t = ", threshold,
                                                    " the round needs"));
}

// What the server knows once the participants are fixed, carried from stage to stage.
struct ServerRound {
  std::vector<std::string> participants;  // sorted
  std::vector<SignedKeys> keys;           // by participant index
  RoundPlan plan;
  // By participant index: who shared keys (U2), and their self-mask seed commitments.
  std::vector<bool> shared_keys;
  std::vector<std::string> commitments;
};

// The running sum of the masked inputs (the values' words, then the weight's), stored as
// MaskedInputChunk::words are: little-endian words of the modulus width, so that at 2^32 it
// takes 4 bytes a word, not the 8 of a uint64_t. Chunks add straight into it; the unmasking
// reads it into 64-bit words, which the masks and the codecs work on.
//
// It lives in an anonymous mapping of its own rather than on the heap so that Release hands
// the words the unmasking has decoded straight back to the system (munmap); memory freed to
// malloc may stay with the process. The sum then shrinks while the doubles of the result grow,
// and the round never holds both whole.
class RunningSum {
 public:
  // A sum of `words` zero words. ResourceExhausted when the system has no room for it.
  // REQUIRES: words > 0.
  static absl::StatusOr<RunningSum> Create(uint64_t words, int modulus_bits) {
    const size_t bytes = static_cast<size_t>(words) * internal::WordBytes(modulus_bits);
    // Anonymous pages start as zeros and take memory only once written.
    void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "no memory for a running sum of ", words, " words: ", std::strerror(errno)));
    }
    return RunningSum(static_cast<uint8_t*>(base), words, modulus_bits);
  }

  RunningSum(RunningSum&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)),
        words_(other.words_),
        modulus_bits_(other.modulus_bits_),
        released_bytes_(other.released_bytes_) {}
  RunningSum& operator=(RunningSum&&) = delete;
  ~RunningSum() {
    if (base_ != nullptr && released_bytes_ < Bytes()) {
      munmap(base_ + released_bytes_, Bytes() - released_bytes_);
    }
  }

  uint64_t size() const { return words_; }

  // Adds the packed words of a chunk (MaskedInputChunk::words) at word `first`, mod
  // 2^modulus_bits.
  // REQUIRES: packed.size() is a multiple of the word width, the chunk ends by size(), and
  // nothing was released.
  void Add(uint64_t first, absl::string_view packed) {
    const auto* in = reinterpret_cast<const uint8_t*>(packed.data());
    uint8_t* p = base_ + first * internal::WordBytes(modulus_bits_);
    if (modulus_bits_ == 64) {
      for (size_t i = 0; i < packed.size(); i += 8) {
        internal::StoreLittleEndian64(
            internal::LoadLittleEndian64(p + i) + internal::LoadLittleEndian64(in + i), p + i);
      }
    } else {
      for (size_t i = 0; i < packed.size(); i += 4) {
        internal::StoreLittleEndian32(
            internal::LoadLittleEndian32(p + i) + internal::LoadLittleEndian32(in + i), p + i);
      }
    }
  }

  // out[i] = word first + i.
  // REQUIRES: the words end by size() and were not released.
  void Read(uint64_t first, absl::Span<uint64_t> out) const {
    const uint8_t* p = base_ + first * internal::WordBytes(modulus_bits_);
    if (modulus_bits_ == 64) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = internal::LoadLittleEndian64(p + 8 * i);
    } else {
      for (size_t i = 0; i < out.size(); ++i) out[i] = internal::LoadLittleEndian32(p + 4 * i);
    }
  }

  // Gives the memory of words [0, end) back to the system, the whole pages of it; they must not
  // be read or written again.
  void Release(uint64_t end) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t through = end * internal::WordBytes(modulus_bits_) / page * page;
    // On failure the pages stay mapped until the destructor unmaps them with the rest.
    if (through > released_bytes_ &&
        munmap(base_ + released_bytes_, through - released_bytes_) == 0) {
      released_bytes_ = through;
    }
  }

 private:
  RunningSum(uint8_t* base, uint64_t words, int modulus_bits)
      : base_(base), words_(words), modulus_bits_(modulus_bits) {}

  size_t Bytes() const { return static_cast<size_t>(words_) * internal::WordBytes(modulus_bits_); }

  uint8_t* base_;  // the mapping; null once moved from
  uint64_t words_;
  int modulus_bits_;
  size_t released_bytes_ = 0;  // [base_, base_ + released_bytes_) is unmapped (whole pages)
};
}  // namespace

// One stage of the server. The session routes to Handle only messages of this stage, from
// clients expected here that have not finished it yet.
class ServerState {
 public:
  ServerState(ServerShared* shared, const std::vector<std::string>& expected)
      : shared_(shared), expected_(expected.begin(), expected.end()) {}
  virtual ~ServerState() = default;

  virtual Stage stage() const = 0;

  // Validates and records one message from `client`; an error drops the client.
  virtual absl::Status Handle(const std::string& client, const ClientMessage& message) {
    return absl::FailedPreconditionError("the round has ended");
  }
  // `client` dropped out during this stage; an error aborts the round.
  virtual absl::Status OnDropped(const std::string& client) { return absl::OkStatus(); }
  // Called once every expected client has finished or dropped out: the next state and the
  // messages that open its stage; an error aborts the round.
  virtual absl::StatusOr<std::pair<std::unique_ptr<ServerState>, Outbox>> Finish() {
    return absl::FailedPreconditionError("the round has ended");
  }
  virtual absl::StatusOr<SecAggResult> TakeResult() {
    return absl::FailedPreconditionError(
        absl::StrCat("the round is still running (stage '", StageName(stage()), "')"));
  }

  bool Expects(const std::string& client) const { return expected_.count(client) > 0; }
  bool Finished(const std::string& client) const { return finished_.count(client) > 0; }
  // Expected clients that have neither finished nor dropped out.
  std::vector<std::string> Pending() const {
    std::vector<std::string> pending;
    for (const std::string& client : expected_) {
      if (!Finished(client) && shared_->dropped_ids.count(client) == 0) pending.push_back(client);
    }
    return pending;
  }

 protected:
  void MarkFinished(const std::string& client) { finished_.insert(client); }
  // The clients that finished this stage, sorted, including any that left after finishing (a
  // client whose whole masked input is in the sum is a contributor whatever it does next).
  std::vector<std::string> FinishedClients() const {
    return std::vector<std::string>(finished_.begin(), finished_.end());
  }

  ServerShared* shared_;

 private:
  std::set<std::string> expected_;
  std::set<std::string> finished_;
};

namespace {

template <typename M>
const M& As(const ClientMessage& message) {
  return std::get<M>(message);  // the session dispatches by stage, which fixes the type
}

class CompletedState final : public ServerState {
 public:
  CompletedState(ServerShared* shared, SecAggResult result)
      : ServerState(shared, {}), result_(std::move(result)) {}
  Stage stage() const override { return Stage::kCompleted; }
  absl::StatusOr<SecAggResult> TakeResult() override {
    if (taken_) return absl::FailedPreconditionError("the result was already taken");
    taken_ = true;
    return std::move(result_);
  }

 private:
  SecAggResult result_;
  bool taken_ = false;
};

class AbortedState final : public ServerState {
 public:
  AbortedState(ServerShared* shared, absl::Status why)
      : ServerState(shared, {}), why_(std::move(why)) {}
  Stage stage() const override { return Stage::kAborted; }
  absl::StatusOr<SecAggResult> TakeResult() override { return why_; }

 private:
  absl::Status why_;
};

// Collects the survivors' shares, rebuilds the self-mask seeds of the survivors and the masking
// keys of clients that dropped out after sharing keys, and removes their masks from the sum.
class UnmaskingState final : public ServerState {
 public:
  UnmaskingState(ServerShared* shared, ServerRound round, std::vector<std::string> survivors,
                 RunningSum sum)
      : ServerState(shared, survivors),
        round_(std::move(round)),
        survivors_(std::move(survivors)),
        sum_(std::move(sum)) {
    survived_.assign(round_.participants.size(), false);
    for (const std::string& id : survivors_) {
      survived_[static_cast<size_t>(IndexOf(round_.participants, id))] = true;
    }
  }
  Stage stage() const override { return Stage::kUnmasking; }

  absl::Status Handle(const std::string& client, const ClientMessage& message) override {
    const UnmaskingShares& m = As<UnmaskingShares>(message);
    const int holder = IndexOf(round_.participants, client);
    // What the holder has: its own shares, and those of every neighbour that shared keys.
    std::set<int> seed_owners;
    std::set<int> key_owners;
    seed_owners.insert(holder);
    for (int owner : round_.plan.graph.Neighbours(holder)) {
      if (!round_.shared_keys[static_cast<size_t>(owner)]) continue;
      (survived_[static_cast<size_t>(owner)] ? seed_owners : key_owners).insert(owner);
    }
    std::vector<std::pair<int, std::string>> seeds;
    std::vector<std::pair<int, std::string>> keys;
    FLS_RETURN_IF_ERROR(Collect(m.self_mask_shares, seed_owners, "self-mask seed", &seeds));
    FLS_RETURN_IF_ERROR(Collect(m.masking_key_shares, key_owners, "masking key", &keys));
    for (auto& [owner, value] : seeds) {
      seed_shares_[owner].push_back({ShareX(holder), std::move(value)});
    }
    for (auto& [owner, value] : keys) {
      key_shares_[owner].push_back({ShareX(holder), std::move(value)});
    }
    MarkFinished(client);
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<std::unique_ptr<ServerState>, Outbox>> Finish() override {
    const int t = round_.plan.threshold;
    const std::vector<std::string> revealed = FinishedClients();
    if (static_cast<int>(revealed.size()) < t) {
      return BelowThreshold(revealed.size(), "revealed their shares", t);
    }
    // The masks to remove, applied together at the end.
    std::vector<internal::SignedMask> masks;
    for (const std::string& id : survivors_) {
      const int u = IndexOf(round_.participants, id);
      FLS_ASSIGN_OR_RETURN(Key seed, Rebuild(u, seed_shares_, "self-mask seed"));
      const bool matches = internal::SelfMaskCommitment(seed, shared_->context, id) ==
                           round_.commitments[static_cast<size_t>(u)];
      if (!matches) return WrongShares(id, "self-mask seed", "commitment");
      FLS_ASSIGN_OR_RETURN(Key key, internal::SelfMaskKey(seed, shared_->context, id));
      Wipe(seed);
      FLS_ASSIGN_OR_RETURN(MaskGenerator mask, MaskGenerator::Create(key));
      masks.push_back({std::move(mask), /*subtract=*/true});
    }
    for (size_t u = 0; u < round_.participants.size(); ++u) {
      if (!round_.shared_keys[u] || survived_[u]) continue;
      // A client that shared keys but sent no input: its survivors among its neighbours added
      // masks with it, which its masking key recreates.
      std::vector<int> masked_with;
      for (int v : round_.plan.graph.Neighbours(static_cast<int>(u))) {
        if (survived_[static_cast<size_t>(v)]) masked_with.push_back(v);
      }
      if (masked_with.empty()) continue;
      const std::string& id = round_.participants[u];
      FLS_ASSIGN_OR_RETURN(Key private_key,
                           Rebuild(static_cast<int>(u), key_shares_, "masking key"));
      FLS_ASSIGN_OR_RETURN(X25519KeyPair pair, X25519KeyPair::FromPrivateKey(private_key));
      Wipe(private_key);
      if (KeyToBytes(pair.public_key()) != round_.keys[u].masking_key) {
        return WrongShares(id, "masking key", "public key");
      }
      for (int v : masked_with) {
        const std::string& survivor = round_.participants[static_cast<size_t>(v)];
        FLS_ASSIGN_OR_RETURN(Key key, internal::PairwiseMaskKey(
                                          pair, round_.keys[static_cast<size_t>(v)].masking_key,
                                          shared_->context, id, survivor));
        FLS_ASSIGN_OR_RETURN(MaskGenerator mask, MaskGenerator::Create(key));
        // Undo what the survivor did: it added the mask if its id is the smaller.
        masks.push_back({std::move(mask), internal::AddsPairwiseMask(survivor, id)});
      }
    }
    const int bits = shared_->config.modulus_bits;
    const uint64_t length = static_cast<uint64_t>(shared_->config.vector_length);
    SecAggResult result;
    result.contributors = survivors_;
    uint64_t weight = 0;  // the last word
    sum_.Read(length, absl::MakeSpan(&weight, 1));
    FLS_RETURN_IF_ERROR(internal::ApplyMasks(masks, length, bits, absl::MakeSpan(&weight, 1)));
    result.total_weight = WeightCodec(shared_->config).Decode(weight);
    // The values, a stretch at a time: unmasked in a 64-bit copy, decoded onto the end of the
    // result, and released from the sum. The reserved doubles take memory only as they are
    // written (a large allocation is fresh pages), so the result grows as the sum shrinks and
    // the round peaks at about the size of the doubles (twice the sum at 2^32, as much at
    // 2^64) instead of the two together.
    const FixedPointCodec values = ValueCodec(shared_->config);
    result.sum.reserve(static_cast<size_t>(length));
    std::vector<uint64_t> words(static_cast<size_t>(std::min(length, kUnmaskStretchWords)));
    for (uint64_t first = 0; first < length; first += words.size()) {
      absl::Span<uint64_t> stretch = absl::MakeSpan(words).subspan(0, length - first);
      sum_.Read(first, stretch);
      FLS_RETURN_IF_ERROR(internal::ApplyMasks(masks, first, bits, stretch));
      sum_.Release(first + stretch.size());
      for (uint64_t word : stretch) result.sum.push_back(values.Decode(word));
    }
    return std::make_pair(std::make_unique<CompletedState>(shared_, std::move(result)), Outbox{});
  }

 private:
  // Checks that `shares` name exactly `owners`, once each, with valid values.
  absl::Status Collect(const std::vector<RevealedShare>& shares, const std::set<int>& owners,
                       absl::string_view what, std::vector<std::pair<int, std::string>>* out) {
    std::set<int> seen;
    for (const RevealedShare& share : shares) {
      const int owner = IndexOf(round_.participants, share.owner);
      if (owners.count(owner) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("a share of the ", what, " of ", Quote(share.owner),
                         ", which it does not hold or must not reveal"));
      }
      if (!seen.insert(owner).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("two shares of the ", what, " of ", Quote(share.owner)));
      }
      absl::Status valid = ValidateShareValue(share.value);
      if (!valid.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("the share of the ", what, " of ",
                                                       Quote(share.owner), ": ", valid.message()));
      }
      out->emplace_back(owner, share.value);
    }
    if (seen.size() != owners.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("shares of ", seen.size(), " ", what, "s, expected ", owners.size()));
    }
    return absl::OkStatus();
  }

  // The secret of participant `owner` from the first t shares that arrived.
  absl::StatusOr<Key> Rebuild(int owner, const std::map<int, std::vector<ShamirShare>>& shares,
                              absl::string_view what) const {
    const int t = round_.plan.threshold;
    const std::string& id = round_.participants[static_cast<size_t>(owner)];
    auto it = shares.find(owner);
    const size_t have = it == shares.end() ? 0 : it->second.size();
    if (have < static_cast<size_t>(t)) {
      return absl::FailedPreconditionError(absl::StrCat("only ", have, " shares of the ", what,
                                                        " of ", Quote(id), " arrived, ", t,
                                                        " needed to unmask the sum"));
    }
    absl::StatusOr<Key> secret =
        CombineShares(absl::MakeConstSpan(it->second).subspan(0, static_cast<size_t>(t)));
    if (!secret.ok()) return WrongShares(id, what, "field");
    return secret;
  }

  static absl::Status WrongShares(absl::string_view id, absl::string_view what,
                                  absl::string_view check) {
    return absl::DataLossError(absl::StrCat("the revealed shares of the ", what, " of ", Quote(id),
                                            " do not rebuild it (", check,
                                            " check failed): a client revealed a wrong share"));
  }

  // Values per stretch of Finish: 512 KiB as 64-bit words, to which ApplyMasks applies the
  // masks a cache-sized block at a time; each stretch gives back 256 or 512 KiB of the sum.
  static constexpr uint64_t kUnmaskStretchWords = uint64_t{1} << 16;

  ServerRound round_;
  std::vector<std::string> survivors_;  // U3, sorted
  std::vector<bool> survived_;          // by participant index
  RunningSum sum_;
  std::map<int, std::vector<ShamirShare>> seed_shares_;  // by owner
  std::map<int, std::vector<ShamirShare>> key_shares_;
};

// Adds each client's masked vector, chunk by chunk, into one running sum.
class MaskedInputState final : public ServerState {
 public:
  MaskedInputState(ServerShared* shared, ServerRound round, std::vector<std::string> expected,
                   RunningSum sum)
      : ServerState(shared, expected), round_(std::move(round)), sum_(std::move(sum)) {}
  Stage stage() const override { return Stage::kMaskedInput; }

  absl::Status Handle(const std::string& client, const ClientMessage& message) override {
    const MaskedInputChunk& m = As<MaskedInputChunk>(message);
    const uint64_t total = sum_.size();
    uint64_t& next = received_[client];
    if (m.vector_words != total) {
      return absl::InvalidArgumentError(absl::StrCat("a masked vector of ", m.vector_words,
                                                     " words, the round sums ", total, " (",
                                                     total - 1, " values and the weight)"));
    }
    if (m.offset != next) {
      return absl::InvalidArgumentError(
          absl::StrCat("a chunk at word ", m.offset, ", expected word ", next));
    }
    const size_t width = internal::WordBytes(shared_->config.modulus_bits);
    if (m.words.empty() || m.words.size() % width != 0) {
      return absl::InvalidArgumentError(absl::StrCat("a chunk of ", m.words.size(),
                                                     " bytes, not a positive multiple of ", width));
    }
    const uint64_t count = m.words.size() / width;
    if (count > total - next) {
      return absl::InvalidArgumentError(absl::StrCat("a chunk of ", count, " words at word ", next,
                                                     " runs past the end (", total, ")"));
    }
    sum_.Add(next, m.words);
    next += count;
    if (next == total) MarkFinished(client);
    return absl::OkStatus();
  }

  absl::Status OnDropped(const std::string& client) override {
    auto it = received_.find(client);
    if (it == received_.end() || it->second == 0 || it->second == sum_.size()) {
      return absl::OkStatus();
    }
    return absl::DataLossError(absl::StrCat(
        Quote(client), " dropped out after ", it->second, " of ", sum_.size(),
        " masked words were added to the running sum, which cannot take them out again"));
  }

  absl::StatusOr<std::pair<std::unique_ptr<ServerState>, Outbox>> Finish() override {
    std::vector<std::string> survivors = FinishedClients();
    if (static_cast<int>(survivors.size()) < round_.plan.threshold) {
      return BelowThreshold(survivors.size(), "sent their masked input", round_.plan.threshold);
    }
    Outbox outbox;
    for (const std::string& id : survivors) {
      outbox.emplace_back(id, UnmaskingRequest{shared_->Header(Stage::kUnmasking, id), survivors});
    }
    return std::make_pair(std::make_unique<UnmaskingState>(shared_, std::move(round_),
                                                           std::move(survivors), std::move(sum_)),
                          std::move(outbox));
  }

 private:
  ServerRound round_;
  RunningSum sum_;
  std::map<std::string, uint64_t> received_;  // words added so far, by client
};

// Collects each participant's encrypted shares (one per neighbour) and its seed commitment, then
// delivers to each client the shares addressed to it.
class ShareKeysState final : public ServerState {
 public:
  ShareKeysState(ServerShared* shared, ServerRound round)
      : ServerState(shared, round.participants), round_(std::move(round)) {}
  Stage stage() const override { return Stage::kShareKeys; }

  absl::Status Handle(const std::string& client, const ClientMessage& message) override {
    const ShareKeys& m = As<ShareKeys>(message);
    const int owner = IndexOf(round_.participants, client);
    if (m.self_mask_commitment.size() != kKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a self-mask commitment of ", m.self_mask_commitment.size(), " bytes, not ", kKeyBytes));
    }
    const std::vector<int> neighbours = round_.plan.graph.Neighbours(owner);
    if (m.shares.size() != neighbours.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.shares.size(), " shares for ", neighbours.size(), " neighbours"));
    }
    std::set<int> holders;
    for (const EncryptedShare& share : m.shares) {
      const int holder = IndexOf(round_.participants, share.holder);
      if (share.owner != client) {
        return absl::InvalidArgumentError(
            absl::StrCat("a share in the name of ", Quote(share.owner)));
      }
      if (holder < 0 || !round_.plan.graph.AreNeighbours(owner, holder)) {
        return absl::InvalidArgumentError(
            absl::StrCat("a share for ", Quote(share.holder), ", not a neighbour"));
      }
      if (!holders.insert(holder).second) {
        return absl::InvalidArgumentError(absl::StrCat("two shares for ", Quote(share.holder)));
      }
      if (share.ciphertext.size() != internal::kSealedShareBytes) {
        return absl::InvalidArgumentError(absl::StrCat("a share for ", Quote(share.holder), " of ",
                                                       share.ciphertext.size(), " bytes, expected ",
                                                       internal::kSealedShareBytes));
      }
    }
    shares_[owner] = m.shares;
    round_.commitments[static_cast<size_t>(owner)] = m.self_mask_commitment;
    MarkFinished(client);
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<std::unique_ptr<ServerState>, Outbox>> Finish() override {
    std::vector<std::string> shared_keys = FinishedClients();
    if (static_cast<int>(shared_keys.size()) < round_.plan.threshold) {
      return BelowThreshold(shared_keys.size(), "shared their keys", round_.plan.threshold);
    }
    for (const std::string& id : shared_keys) {
      round_.shared_keys[static_cast<size_t>(IndexOf(round_.participants, id))] = true;
    }
    // Shares travel only between clients that both shared keys.
    std::map<int, std::vector<EncryptedShare>> inbox;
    for (auto& [owner, shares] : shares_) {
      for (EncryptedShare& share : shares) {
        const int holder = IndexOf(round_.participants, share.holder);
        if (round_.shared_keys[static_cast<size_t>(holder)]) {
          inbox[holder].push_back(std::move(share));
        }
      }
    }
    shares_.clear();
    Outbox outbox;
    for (const std::string& id : shared_keys) {
      const int holder = IndexOf(round_.participants, id);
      outbox.emplace_back(
          id, SharesDelivery{shared_->Header(Stage::kMaskedInput, id), std::move(inbox[holder])});
    }
    const uint64_t words = static_cast<uint64_t>(shared_->config.vector_length) + 1;
    FLS_ASSIGN_OR_RETURN(RunningSum sum, RunningSum::Create(words, shared_->config.modulus_bits));
    auto next = std::make_unique<MaskedInputState>(shared_, std::move(round_),
                                                   std::move(shared_keys), std::move(sum));
    return std::make_pair(std::move(next), std::move(outbox));
  }

 private:
  ServerRound round_;
  std::map<int, std::vector<EncryptedShare>> shares_;  // by owner index
};

// Collects and verifies each client's signed keys, then fixes the participants and the graph
// and sends each participant its neighbours' keys.
class AdvertiseKeysState final : public ServerState {
 public:
  using ServerState::ServerState;
  Stage stage() const override { return Stage::kAdvertiseKeys; }

  absl::Status Handle(const std::string& client, const ClientMessage& message) override {
    const AdvertiseKeys& m = As<AdvertiseKeys>(message);
    if (m.keys.client_id != client) {
      return absl::InvalidArgumentError(
          absl::StrCat("keys in the name of ", Quote(m.keys.client_id)));
    }
    FLS_RETURN_IF_ERROR(internal::VerifySignedKeys(m.keys, shared_->context, shared_->ca_pem));
    keys_[client] = m.keys;
    MarkFinished(client);
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<std::unique_ptr<ServerState>, Outbox>> Finish() override {
    std::vector<std::string> participants = FinishedClients();
    const int n = static_cast<int>(participants.size());
    if (shared_->config.threshold != 0 && n < shared_->config.threshold) {
      return BelowThreshold(participants.size(), "advertised keys", shared_->config.threshold);
    }
    FLS_ASSIGN_OR_RETURN(RoundPlan plan, PlanRound(shared_->config, shared_->context, n));
    ServerRound round{std::move(participants), {}, std::move(plan), {}, {}};
    for (const std::string& id : round.participants) round.keys.push_back(std::move(keys_[id]));
    keys_.clear();
    round.shared_keys.assign(static_cast<size_t>(n), false);
    round.commitments.assign(static_cast<size_t>(n), "");
    Outbox outbox;
    for (int i = 0; i < n; ++i) {
      const std::string& id = round.participants[static_cast<size_t>(i)];
      KeysBroadcast broadcast{shared_->Header(Stage::kShareKeys, id), round.participants, {}};
      for (int j : round.plan.graph.Neighbours(i)) {
        broadcast.neighbours.push_back(round.keys[static_cast<size_t>(j)]);
      }
      outbox.emplace_back(id, std::move(broadcast));
    }
    return std::make_pair(std::make_unique<ShareKeysState>(shared_, std::move(round)),
                          std::move(outbox));
  }

 private:
  std::map<std::string, SignedKeys> keys_;
};

bool Terminal(Stage stage) { return stage == Stage::kCompleted || stage == Stage::kAborted; }

}  // namespace

absl::StatusOr<std::unique_ptr<ServerSession>> ServerSession::Create(
    const SecAggConfig& config, const RoundContext& context, std::vector<std::string> clients,
    std::string ca_pem, SendToClients* clients_channel) {
  FLS_RETURN_IF_ERROR(ValidateConfig(config));
  FLS_RETURN_IF_ERROR(ValidateContext(context));
  if (clients_channel == nullptr) return absl::InvalidArgumentError("no transport to clients");
  if (clients.size() < 2 || clients.size() > static_cast<size_t>(kMaxClients)) {
    return absl::InvalidArgumentError(absl::StrCat("secure aggregation needs 2 to ", kMaxClients,
                                                   " clients, not ", clients.size()));
  }
  std::sort(clients.begin(), clients.end());
  for (size_t i = 0; i < clients.size(); ++i) {
    FLS_RETURN_IF_ERROR(pki::ValidateId(clients[i]));
    if (i > 0 && clients[i] == clients[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("client ", Quote(clients[i]), " twice"));
    }
  }
  const int n = static_cast<int>(clients.size());
  FLS_RETURN_IF_ERROR(CheckSumFits(config, n));
  absl::StatusOr<RoundPlan> plan = PlanRound(config, context, n);
  if (!plan.ok()) return absl::InvalidArgumentError(plan.status().message());
  auto shared = std::make_unique<ServerShared>();
  shared->config = config;
  shared->context = context;
  shared->roster = std::move(clients);
  shared->ca_pem = std::move(ca_pem);
  shared->clients = clients_channel;
  return std::unique_ptr<ServerSession>(new ServerSession(std::move(shared)));
}

ServerSession::ServerSession(std::unique_ptr<ServerShared> shared)
    : shared_(std::move(shared)),
      state_(std::make_unique<AdvertiseKeysState>(shared_.get(), shared_->roster)) {}

ServerSession::~ServerSession() = default;

absl::Status ServerSession::OnMessage(absl::string_view authenticated_client,
                                      const ClientMessage& message) {
  const Stage current = state_->stage();
  if (Terminal(current)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the round has already ended (", StageName(current), ")"));
  }
  const std::string client(authenticated_client);
  if (!std::binary_search(shared_->roster.begin(), shared_->roster.end(), client)) {
    return absl::PermissionDeniedError(
        absl::StrCat(Quote(client), " is not a client of ", DescribeContext(shared_->context)));
  }
  if (shared_->dropped_ids.count(client) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(Quote(client), " has dropped out of the round"));
  }
  const MessageHeader& header = HeaderOf(message);
  const Stage stage = StageOf(message);
  absl::Status refused;
  if (header.client_id != client) {
    refused = absl::PermissionDeniedError(
        absl::StrCat(Quote(client), " sent a message in the name of ", Quote(header.client_id)));
  } else if (header.context != shared_->context) {
    refused =
        absl::InvalidArgumentError(absl::StrCat("a message for ", DescribeContext(header.context)));
  } else if (const AbortRound* abort = std::get_if<AbortRound>(&message)) {
    Drop(client, absl::CancelledError(absl::StrCat("the client left: ", abort->reason)));
    AdvanceWhileComplete();
    return absl::OkStatus();
  } else if (header.stage != stage) {
    refused = absl::InvalidArgumentError(absl::StrCat("a message of stage '", StageName(stage),
                                                      "' marked '", StageName(header.stage), "'"));
  } else if (stage < current || state_->Finished(client)) {
    // A duplicate of something already accepted: refused, harmless.
    return absl::FailedPreconditionError(
        absl::StrCat("duplicate or late message of stage '", StageName(stage), "' from ",
                     Quote(client), " (the round is in stage '", StageName(current), "')"));
  } else if (stage > current) {
    refused = absl::InvalidArgumentError(absl::StrCat("a message of stage '", StageName(stage),
                                                      "' during stage '", StageName(current), "'"));
  } else if (!state_->Expects(client)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Quote(client), " takes no part in stage '", StageName(current), "'"));
  } else {
    refused = state_->Handle(client, message);
  }
  if (!refused.ok()) {
    refused =
        absl::Status(refused.code(), absl::StrCat("refused ", Quote(client), " in stage '",
                                                  StageName(current), "': ", refused.message()));
    Drop(client, refused);
  }
  AdvanceWhileComplete();
  return refused;
}

absl::Status ServerSession::CloseStage() {
  if (Terminal(state_->stage())) {
    return absl::FailedPreconditionError("the round has already ended");
  }
  FinishStage();
  AdvanceWhileComplete();
  return absl::OkStatus();
}

Stage ServerSession::stage() const { return state_->stage(); }

absl::StatusOr<SecAggResult> ServerSession::TakeResult() { return state_->TakeResult(); }

const std::vector<DroppedClient>& ServerSession::dropped_clients() const {
  return shared_->dropped;
}

void ServerSession::AdvanceWhileComplete() {
  while (!Terminal(state_->stage()) && state_->Pending().empty()) FinishStage();
}

void ServerSession::FinishStage() {
  const Stage stage = state_->stage();
  for (const std::string& client : state_->Pending()) {
    Drop(client, absl::DeadlineExceededError(
                     absl::StrCat("no answer in stage '", StageName(stage), "' before it closed")));
    if (Terminal(state_->stage())) return;
  }
  auto next = state_->Finish();
  if (!next.ok()) {
    Abort(next.status());
    return;
  }
  state_ = std::move(next->first);
  for (auto& [client, message] : next->second) {
    if (shared_->dropped_ids.count(client) > 0) continue;
    absl::Status sent = shared_->clients->Send(client, std::move(message));
    if (!sent.ok()) {
      Drop(client,
           absl::UnavailableError(absl::StrCat("cannot reach the client: ", sent.message())));
      if (Terminal(state_->stage())) return;
    }
  }
}

void ServerSession::Drop(const std::string& client, absl::Status reason) {
  if (!shared_->dropped_ids.insert(client).second) return;
  const Stage stage = state_->stage();
  shared_->dropped.push_back({client, stage, reason});
  // Tell the client, in case it is still there; it may be gone, so failure is fine.
  shared_->clients
      ->Send(client, AbortRound{shared_->Header(stage, client),
                                absl::StrCat("dropped from the round: ", reason.message())})
      .IgnoreError();
  absl::Status recoverable = state_->OnDropped(client);
  if (!recoverable.ok()) Abort(recoverable);
}

void ServerSession::Abort(absl::Status reason) {
  const Stage stage = state_->stage();
  if (stage == Stage::kCompleted || stage == Stage::kAborted) return;
  absl::Status why = absl::AbortedError(
      absl::StrCat("secure aggregation of ", DescribeContext(shared_->context),
                   " aborted in stage '", StageName(stage), "': ", reason.message()));
  for (const std::string& client : shared_->roster) {
    if (shared_->dropped_ids.count(client) > 0) continue;
    shared_->clients
        ->Send(client, AbortRound{shared_->Header(stage, client), std::string(why.message())})
        .IgnoreError();
  }
  state_ = std::make_unique<AbortedState>(shared_.get(), why);
}

}  // namespace flsailer::secagg
