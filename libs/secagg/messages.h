// The messages of one secure-aggregation round (DESIGN.md §4) as plain structs, and the two
// transport interfaces the sessions (client.h, server.h) send them through. The service layer
// maps them to protobuf and back; this library never serialises them.
//
// Every message carries a header: the round it belongs to, the stage it belongs to, and the
// client it comes from (client -> server) or is meant for (server -> client). The receiving
// session checks all three before it looks at the rest. Byte fields are raw bytes in std::string.
//
// A round runs these stages, each opened by the server's message and answered by the clients:
//   kAdvertiseKeys  client -> AdvertiseKeys       (signed X25519 public keys)
//   kShareKeys      server -> KeysBroadcast       (participants, neighbours' signed keys)
//                   client -> ShareKeys           (encrypted Shamir shares for each neighbour)
//   kMaskedInput    server -> SharesDelivery      (the shares addressed to this client)
//                   client -> MaskedInputChunk... (the masked vector, streamed in order)
//   kUnmasking      server -> UnmaskingRequest    (who contributed)
//                   client -> UnmaskingShares     (shares that remove the masks)
// and either side may send AbortRound at any time.
#ifndef FLSAILER_LIBS_SECAGG_MESSAGES_H_
#define FLSAILER_LIBS_SECAGG_MESSAGES_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace flsailer::secagg {

// One secure sum. Every sum a job runs has its own round number (a training round that sums
// several things uses several), and every signature, key and share of the round is bound to
// the pair, so nothing from one round is accepted in another.
struct RoundContext {
  std::string job_id;  // 1 to 128 bytes
  uint64_t round = 0;

  bool operator==(const RoundContext& other) const {
    return job_id == other.job_id && round == other.round;
  }
  bool operator!=(const RoundContext& other) const { return !(*this == other); }
};

// "job 'x' round 3".
std::string DescribeContext(const RoundContext& context);

// The stages of a round in protocol order; sessions end in kCompleted or kAborted. Messages only
// use the first four (and AbortRound the stage its sender was in).
enum class Stage {
  kAdvertiseKeys = 1,
  kShareKeys = 2,
  kMaskedInput = 3,
  kUnmasking = 4,
  kCompleted = 5,
  kAborted = 6,
};

// "advertise keys", "share keys", ...
absl::string_view StageName(Stage stage);

struct MessageHeader {
  RoundContext context;
  Stage stage = Stage::kAdvertiseKeys;
  // The sender (client -> server) or the recipient (server -> client).
  std::string client_id;
};

// A client's two X25519 public keys for one round, signed with its certificate's key. The
// signature covers the round context, the client id and both keys.
struct SignedKeys {
  std::string client_id;
  std::string certificate_pem;  // the client's institution certificate
  std::string encryption_key;   // 32 bytes: encrypts the shares sent to this client
  std::string masking_key;      // 32 bytes: agrees the pairwise masks with this client
  std::string signature;        // ECDSA P-256 / SHA-256, DER
};

// Client -> server, stage kAdvertiseKeys.
struct AdvertiseKeys {
  MessageHeader header;
  SignedKeys keys;
};

// Server -> client, stage kShareKeys: who takes part (sorted, unique), and the signed keys of
// exactly this client's neighbours among them.
struct KeysBroadcast {
  MessageHeader header;
  std::vector<std::string> participants;
  std::vector<SignedKeys> neighbours;
};

// `owner`'s Shamir shares of its self-mask seed and masking key for `holder`, encrypted with
// AES-256-GCM under a key only the two of them can derive (nonce || ciphertext || tag).
struct EncryptedShare {
  std::string owner;
  std::string holder;
  std::string ciphertext;
};

// Client -> server, stage kShareKeys: one share per neighbour, and a commitment to the
// self-mask seed so that the server can tell a correctly reconstructed seed from a wrong one.
struct ShareKeys {
  MessageHeader header;
  std::string self_mask_commitment;  // 32 bytes
  std::vector<EncryptedShare> shares;
};

// Server -> client, stage kMaskedInput: the shares other clients addressed to this one. Their
// owners are the neighbours this client masks its input against.
struct SharesDelivery {
  MessageHeader header;
  std::vector<EncryptedShare> shares;
};

// Client -> server, stage kMaskedInput: words [offset, offset + n) of the masked vector, which
// has `vector_words` words (the values, then the weight). Words are little-endian, 4 bytes
// each for modulus 2^32 and 8 for 2^64. Chunks arrive in order and without gaps.
struct MaskedInputChunk {
  MessageHeader header;
  uint64_t vector_words = 0;
  uint64_t offset = 0;
  std::string words;
};

// Server -> client, stage kUnmasking: the clients whose masked input is in the sum (sorted).
struct UnmaskingRequest {
  MessageHeader header;
  std::vector<std::string> survivors;
};

// The value (33 bytes, big-endian) of the Shamir share that the sending client holds of
// `owner`'s secret; its evaluation point follows from the sender.
struct RevealedShare {
  std::string owner;
  std::string value;
};

// Client -> server, stage kUnmasking: shares of the self-mask seeds of survivors, and of the
// masking keys of clients that dropped out after sharing keys. Never both for one owner.
struct UnmaskingShares {
  MessageHeader header;
  std::vector<RevealedShare> self_mask_shares;
  std::vector<RevealedShare> masking_key_shares;
};

// Either direction: the sender leaves (client) or ends (server) the round.
struct AbortRound {
  MessageHeader header;
  std::string reason;
};

using ClientMessage =
    std::variant<AdvertiseKeys, ShareKeys, MaskedInputChunk, UnmaskingShares, AbortRound>;
using ServerMessage = std::variant<KeysBroadcast, SharesDelivery, UnmaskingRequest, AbortRound>;

const MessageHeader& HeaderOf(const ClientMessage& message);
const MessageHeader& HeaderOf(const ServerMessage& message);

// The stage a message of this type belongs to (for AbortRound: its header's stage).
Stage StageOf(const ClientMessage& message);
Stage StageOf(const ServerMessage& message);

// How a ClientSession reaches the server. Send hands the message to the transport and returns;
// it may block while the message is written, and should not hold a whole masked input back (the
// session makes each chunk after the previous one was sent). It must not call back into the
// session. An error means the message was not sent; the session then aborts.
class SendToServer {
 public:
  virtual ~SendToServer() = default;
  virtual absl::Status Send(ClientMessage message) = 0;
};

// How a ServerSession reaches the clients; the same rules as SendToServer. An error counts the
// client as dropped out.
class SendToClients {
 public:
  virtual ~SendToClients() = default;
  virtual absl::Status Send(const std::string& client_id, ServerMessage message) = 0;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_MESSAGES_H_
