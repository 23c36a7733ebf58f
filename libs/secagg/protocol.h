// What both sides of a round compute alike (internal to libs/secagg): the inputs that bind every
// signature, key, share and mask to its round, stage and purpose; the layout of share plaintexts
// and of masked words; the checks of signed keys and message headers.
//
// Binding. Every derivation starts from Binding(label).Add(job id).AddNumber(round)
// .AddNumber(stage), then the client ids involved: the signature of a client's keys, the HKDF
// info and the AES-GCM associated data of its shares, and the HKDF info of its masks. A share
// or a signature made for another round, stage, sender or recipient therefore fails to verify or
// decrypt, and no mask key is ever reused across rounds.
#ifndef FLSAILER_LIBS_SECAGG_PROTOCOL_H_
#define FLSAILER_LIBS_SECAGG_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "libs/secagg/crypto.h"
#include "libs/secagg/messages.h"
#include "libs/secagg/shamir.h"

namespace flsailer::secagg::internal {

// A share plaintext: the holder's evaluation point and its shares of the owner's self-mask seed
// and masking key, 4 + 33 + 33 bytes; sealed it has kSealedShareBytes.
struct SharePlaintext {
  uint32_t x = 0;
  std::string self_mask_share;
  std::string masking_key_share;
};
constexpr size_t kSharePlaintextBytes = 4 + 2 * kShareValueBytes;
constexpr size_t kSealedShareBytes = kSharePlaintextBytes + kSealOverhead;

std::string EncodeSharePlaintext(const SharePlaintext& share);
absl::StatusOr<SharePlaintext> DecodeSharePlaintext(absl::string_view bytes);

// Participant i's evaluation point.
inline uint32_t ShareX(int index) { return static_cast<uint32_t>(index) + 1; }

// Binding(label) with the round context and stage added.
Binding ContextBinding(absl::string_view label, const RoundContext& context, Stage stage);

// What a client signs: its id and both public keys, bound to the round.
std::string SignedKeysPayload(const RoundContext& context, const SignedKeys& keys);

// OK when `keys` carry two 32-byte keys and a signature over them and this round by the key of a
// certificate that chains to `ca_pem` and names the institution keys.client_id. The error says
// which check failed and for which client.
absl::Status VerifySignedKeys(const SignedKeys& keys, const RoundContext& context,
                              absl::string_view ca_pem);

// The AES-256-GCM key and associated data of the share `owner` sends to `holder`: directional,
// so the share of the reverse direction decrypts under neither. `mine` is the caller's
// encryption key pair, `peer_key` the other side's encryption public key.
absl::StatusOr<Key> ShareKey(const X25519KeyPair& mine, absl::string_view peer_key,
                             const RoundContext& context, absl::string_view owner,
                             absl::string_view holder);
std::string ShareAssociatedData(const RoundContext& context, absl::string_view owner,
                                absl::string_view holder);

// The mask key two clients agree on: HKDF of the X25519 secret of `mine` (a masking key pair)
// and `peer_key`, bound to the round and the unordered pair {a, b}.
absl::StatusOr<Key> PairwiseMaskKey(const X25519KeyPair& mine, absl::string_view peer_key,
                                    const RoundContext& context, absl::string_view a,
                                    absl::string_view b);
// Whether `client` adds (rather than subtracts) the mask it shares with `peer`: the smaller id
// adds, so the pair's masks cancel in the sum.
inline bool AddsPairwiseMask(absl::string_view client, absl::string_view peer) {
  return client < peer;
}

// The mask key of a self-mask seed, and the commitment to the seed a client sends the server.
absl::StatusOr<Key> SelfMaskKey(const Key& seed, const RoundContext& context,
                                absl::string_view client);
std::string SelfMaskCommitment(const Key& seed, const RoundContext& context,
                               absl::string_view client);

// The key of a client's stochastic-rounding draws: derived from the round and the client's id
// only, so that a federated run is reproducible for its inputs. It need not be secret: the
// draws decide only whether each value rounds up or down by one quantum, the rounded values are
// hidden by the masks, and the server learns their sum, which is what it is meant to learn.
absl::StatusOr<Key> RoundingKey(const RoundContext& context, absl::string_view client);

// A mask and which way it goes into the sum.
struct SignedMask {
  MaskGenerator generator;
  bool subtract = false;
};
// Applies every mask to words [first_word, first_word + words.size()) of the masked vector, a
// block at a time, so that each block stays in cache while all the masks go into it.
absl::Status ApplyMasks(std::vector<SignedMask>& masks, uint64_t first_word, int modulus_bits,
                        absl::Span<uint64_t> words);

// Bytes per masked word: 4 or 8.
inline size_t WordBytes(int modulus_bits) { return static_cast<size_t>(modulus_bits / 8); }
// The little-endian bytes of `words`.
std::string PackWords(absl::Span<const uint64_t> words, int modulus_bits);

// OK when a message is for `context`, at `stage`, from or to `client_id`; InvalidArgument
// saying what differs otherwise.
absl::Status CheckHeader(const MessageHeader& header, const RoundContext& context, Stage stage,
                         absl::string_view client_id);

// True when `ids` is strictly increasing (sorted, no repeats).
bool StrictlySorted(absl::Span<const std::string> ids);
// The position of `id` in the strictly sorted `ids`, or -1.
int IndexOf(const std::vector<std::string>& ids, absl::string_view id);

}  // namespace flsailer::secagg::internal

#endif  // FLSAILER_LIBS_SECAGG_PROTOCOL_H_
