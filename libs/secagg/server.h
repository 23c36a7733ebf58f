// The server side of a secure-aggregation round (DESIGN.md §4, the aggregator): it learns the
// sum of the clients' vectors and weights, and which clients contributed, and nothing else about
// any single client (semi-honest server, Bonawitz et al. 2017 / Bell et al. 2020).
//
// The session is a state machine with one state class per stage (server.cc): advertise keys ->
// share keys -> masked input -> unmasking -> completed, or aborted. It reaches the clients only
// through the SendToClients it is given. A stage ends when every client still in the round has
// answered, or when the caller calls CloseStage (its deadline passed); clients that have not
// answered by then have dropped out.
//
// Memory: the masked inputs are added into one running sum as their chunks arrive, so the
// session holds one word of the modulus width (4 or 8 bytes) per value plus O(clients x
// neighbours) keys and shares, however many clients there are. The unmasking decodes the sum
// into the result's doubles a stretch at a time and gives each decoded stretch of the sum back
// to the system, so a round peaks at about one vector of doubles (8 bytes per value), not the
// sum and the doubles together. The flip side of the running sum: a chunk, once added, cannot
// be taken out again, so a client whose masked input stops or breaks off after its first chunk
// leaves the round unrecoverable and it aborts (to be restarted from the first stage,
// DESIGN.md §3).
//
// Validation. Each message must come from a client of the round (the transport-authenticated
// identity must be the one in its header), for this round, of the current stage, not duplicated,
// and well formed: keys signed by a certificate of that institution chaining to the federation
// CA, exactly one encrypted share per neighbour, masked chunks in order and of the agreed
// length, shares of exactly the clients the sender holds shares of. A message that breaks a rule
// is refused with an error and its sender is dropped from the round; the round goes on while at
// least t clients remain. A duplicate of a message already accepted, and anything from a client
// already dropped, is refused and changes nothing.
//
// The round aborts (stage kAborted, reason in Result()) when fewer than t clients remain at any
// stage, when a secret cannot be rebuilt (fewer than t of its shares arrived) or the rebuilt
// secret does not match the owner's commitment or public key (a client revealed a wrong share),
// or when a client's masked input breaks off; the server tells the remaining clients.
//
// Thread safety: not thread-safe; the caller serialises calls.
#ifndef FLSAILER_LIBS_SECAGG_SERVER_H_
#define FLSAILER_LIBS_SECAGG_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"

namespace flsailer::secagg {

class ServerState;
struct ServerShared;

struct SecAggResult {
  std::vector<double> sum;  // config.vector_length values
  double total_weight = 0;
  std::vector<std::string> contributors;  // sorted
};

struct DroppedClient {
  std::string client_id;
  Stage stage = Stage::kAdvertiseKeys;  // the stage in which it dropped out
  absl::Status reason;  // e.g. no answer before the deadline, a signature that did not verify
};

class ServerSession {
 public:
  // A round for `clients` (institution ids; order does not matter). InvalidArgument for an
  // invalid config or context, fewer than 2 or repeated or invalid ids, and when the sum of
  // clients.size() inputs could overflow the modulus (the error says what would fit).
  // `clients_channel` must outlive the session.
  static absl::StatusOr<std::unique_ptr<ServerSession>> Create(const SecAggConfig& config,
                                                               const RoundContext& context,
                                                               std::vector<std::string> clients,
                                                               std::string ca_pem,
                                                               SendToClients* clients_channel);

  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;
  ~ServerSession();

  // Handles one message from `authenticated_client` (the identity the transport verified, mTLS
  // in production). OK when it was accepted; otherwise why it was refused (see Validation
  // above). Either way the round may have moved on or aborted: see stage().
  absl::Status OnMessage(absl::string_view authenticated_client, const ClientMessage& message);

  // Ends the current stage without waiting any longer: clients that have not answered drop out.
  // FailedPrecondition when the round has already ended.
  absl::Status CloseStage();

  // Aborts the round (no effect once it has ended): each client still in it is sent
  // AbortRound, and TakeResult returns Aborted with `reason`.
  void Abort(absl::Status reason);

  // The stage the server is collecting answers for, or kCompleted / kAborted.
  Stage stage() const;

  // The sum, once the round has completed; the reason when it aborted; FailedPrecondition while
  // it runs or after the result was taken.
  absl::StatusOr<SecAggResult> TakeResult();

  // Clients dropped so far, in the order they dropped out.
  const std::vector<DroppedClient>& dropped_clients() const;

 private:
  explicit ServerSession(std::unique_ptr<ServerShared> shared);
  // Moves to the next stage while the current one has all its answers.
  void AdvanceWhileComplete();
  // Ends the current stage and makes its successor current (or the aborted state).
  void FinishStage();
  // Drops `client` in the current stage; aborts the round when that cannot be recovered from.
  void Drop(const std::string& client, absl::Status reason);

  std::unique_ptr<ServerShared> shared_;
  std::unique_ptr<ServerState> state_;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_SERVER_H_
