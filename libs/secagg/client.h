// The client side of a secure-aggregation round (DESIGN.md §4): it contributes one vector and a
// weight, and the server learns only their sum over the clients that stayed to the end.
//
// The session is a state machine with one state class per stage (client.cc): advertise keys ->
// share keys -> masked input -> unmasking -> completed, or aborted from any of them. It talks to
// the server only through the SendToServer it is given, so a whole round runs in-process in
// tests, and the service layer wires it to gRPC.
//
// What the client refuses, aborting the round for itself (it then counts as dropped out, which
// the protocol tolerates up to the threshold): any server message that is malformed, for another
// round or stage, or out of order; neighbour keys whose signature or certificate does not verify
// against the federation CA; a share that fails to decrypt or is not addressed to it; fewer than
// t - 1 neighbours to mask against (its input would be too weakly masked); an unmasking request
// that names fewer than t survivors or leaves it out. A client never reveals both the self-mask
// share and the masking-key share of the same client.
//
// Threat model: a semi-honest server (DESIGN.md §4). A malicious server could tell different
// clients different survivor lists and so collect both secrets of one client; SecAgg's
// consistency round (clients sign the survivor list and check each other's signatures) would
// stop that and is not implemented.
//
// Thread safety: not thread-safe; the caller serialises calls (one session per client per
// round).
#ifndef FLSAILER_LIBS_SECAGG_CLIENT_H_
#define FLSAILER_LIBS_SECAGG_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/pki/pki.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"

namespace flsailer::secagg {

class ClientState;
struct ClientShared;

class ClientSession {
 public:
  // A session for the institution named by `credentials.cert_pem` (its key signs the round's
  // public keys), contributing `values` with `weight`. InvalidArgument: an invalid config or
  // context, values.size() != config.vector_length, a value that is not finite, a weight
  // outside [0, config.max_weight], a certificate that is not an institution's.
  // `server` must outlive the session.
  static absl::StatusOr<std::unique_ptr<ClientSession>> Create(
      const SecAggConfig& config, const RoundContext& context,
      const pki::KeyAndCertificate& credentials, std::string ca_pem, std::vector<double> values,
      double weight, SendToServer* server);

  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;
  ~ClientSession();

  // Generates the round's key pairs and sends them, signed, to the server.
  // FailedPrecondition unless called once, first.
  absl::Status Start();

  // Handles one message from the server, sending what the protocol asks for in reply (for the
  // masked input: the whole vector, chunk by chunk, each made after the previous one was sent,
  // so that a transport that writes as it is sent holds one chunk at a time). An error means
  // the client aborted the round (it tells the server so, unless the server aborted first);
  // FailedPrecondition before Start and once the session has ended, except that the server's
  // abort of this round still turns kCompleted into kAborted (the client did its part, but
  // there is no sum).
  absl::Status OnMessage(const ServerMessage& message);

  // Which stage the client is in: kAdvertiseKeys before Start, then the stage whose server
  // message it awaits; kCompleted once it has revealed its shares, or kAborted.
  Stage stage() const;
  // Why the client aborted; OK otherwise.
  absl::Status status() const;
  const std::string& client_id() const;
  // How many values (and the weight) were clipped to the configured range when masking.
  int64_t clipped_values() const;

 private:
  explicit ClientSession(std::unique_ptr<ClientShared> shared);
  // Makes `next` current, or on an error aborts with it (telling the server).
  absl::Status Advance(absl::StatusOr<std::unique_ptr<ClientState>> next);

  std::unique_ptr<ClientShared> shared_;
  std::unique_ptr<ClientState> state_;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_CLIENT_H_
