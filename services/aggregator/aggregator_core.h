// The aggregator's network-free core (DESIGN.md §3, §4): a registry of open secure-aggregation
// rounds keyed by (job id, round), each driven by one secagg::ServerSession. The gRPC layer
// (grpc_services.h) attaches one ClientConnection per institution stream, hands it the client's
// messages (with the institution id mTLS authenticated) and writes out what the connection
// queues for it; the coordinator opens rounds and collects their results.
//
// Deadlines: each stage of a round closes stage_timeout after it opened (Tick, called
// periodically by the server, calls ServerSession::CloseStage); the clients that have not
// answered drop out.
//
// Memory: per round the session's running sum (one word of the modulus width per value), its
// keys and shares, and the per-client queues of server messages not yet written (a few small
// messages each). The unmasking turns the sum into the result's doubles (8 bytes per value) while
// giving the sum back; a finished round keeps only that result until Forget (after the result
// was delivered) or its retention ends, and the session is released at once.
//
// Thread safety: thread-safe. One mutex guards every round (the sessions are not thread-safe);
// the masked input of concurrent clients is therefore added one chunk at a time.
#ifndef FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_CORE_H_
#define FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_CORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"
#include "libs/secagg/server.h"
#include "services/aggregator/aggregator_metrics.h"

namespace flsailer::aggregator {

// A finished round: the sum when it completed, otherwise the reason it aborted.
struct RoundOutcome {
  absl::StatusOr<secagg::SecAggResult> result;
  std::vector<secagg::DroppedClient> dropped;
};

struct RoundState;
class AggregatorCore;

// One institution's attachment to one round (one Exchange stream). Destroying it detaches the
// client: messages the session sends it afterwards fail, and it drops out when its stage closes.
class ClientConnection {
 public:
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;
  ~ClientConnection();

  const secagg::RoundContext& context() const;
  const std::string& client_id() const { return client_id_; }

  // Hands one message from this client to the round's session. InvalidArgument for a message of
  // another round; otherwise what ServerSession::OnMessage returns.
  absl::Status Deliver(const secagg::ClientMessage& message);

  // The next message queued for the client, waiting up to `timeout` for one. std::nullopt when
  // none arrived in time or the client's part has ended (then ended() is true).
  std::optional<secagg::ServerMessage> Next(absl::Duration timeout);
  // True once no message will ever be queued for the client again and the queue is empty: the
  // round ended or the client dropped out. end_status() says which (OK: the round completed).
  bool ended() const;
  absl::Status end_status() const;

 private:
  friend class AggregatorCore;
  ClientConnection(AggregatorCore* core, std::shared_ptr<RoundState> round, std::string client_id)
      : core_(core), round_(std::move(round)), client_id_(std::move(client_id)) {}

  AggregatorCore* core_;
  std::shared_ptr<RoundState> round_;
  std::string client_id_;
};

class AggregatorCore {
 public:
  // `ca_pem`: the federation CA every client's round keys must chain to. `metrics` may be null;
  // it must outlive the core.
  // A finished round whose result nobody fetched is forgotten `result_retention` after it ended.
  explicit AggregatorCore(std::string ca_pem, AggregatorMetrics* metrics = nullptr,
                          absl::Duration result_retention = absl::Hours(24))
      : ca_pem_(std::move(ca_pem)), metrics_(metrics), result_retention_(result_retention) {}
  AggregatorCore(const AggregatorCore&) = delete;
  AggregatorCore& operator=(const AggregatorCore&) = delete;
  ~AggregatorCore();

  // Opens a round for `institutions` and aborts the job's earlier rounds still running (their
  // clients are told at once; a job sums one step at a time). AlreadyExists for an open (or
  // unfetched) round of the same job and round; InvalidArgument for what ServerSession::Create
  // refuses or a timeout that is not positive.
  absl::Status OpenRound(const secagg::RoundContext& context, std::vector<std::string> institutions,
                         const secagg::SecAggConfig& config, absl::Duration stage_timeout,
                         absl::Time now = absl::Now());

  // Attaches `institution` (the mTLS-authenticated id) to a round. NotFound: no such round;
  // PermissionDenied: not one of its institutions; AlreadyExists: already attached;
  // FailedPrecondition: the round has ended or the client already dropped out.
  absl::StatusOr<std::unique_ptr<ClientConnection>> Connect(const secagg::RoundContext& context,
                                                            const std::string& institution);

  // Closes every stage whose deadline has passed; forgets results kept past their retention.
  void Tick(absl::Time now = absl::Now());

  // Waits until the round has finished, at most until `deadline`, then returns its outcome; the
  // round stays until Forget, so a delivery that fails can be asked for again. NotFound: no such
  // round; DeadlineExceeded: still running.
  absl::StatusOr<std::shared_ptr<const RoundOutcome>> AwaitResult(
      const secagg::RoundContext& context, absl::Time deadline);

  // Forgets a finished round (its result was delivered). Running or unknown rounds: no effect.
  void Forget(const secagg::RoundContext& context);

  // Rounds registered (running, or finished and not yet forgotten).
  int rounds() const;

 private:
  friend class ClientConnection;
  using Key = std::pair<std::string, uint64_t>;

  // After any call into a round's session: notes new dropouts, a new stage (restarting its
  // deadline) and the end of the round (taking its result and releasing the session).
  void UpdateLocked(RoundState& round, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string ca_pem_;
  AggregatorMetrics* const metrics_;
  const absl::Duration result_retention_;
  mutable absl::Mutex mu_;
  std::map<Key, std::shared_ptr<RoundState>> rounds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace flsailer::aggregator

#endif  // FLSAILER_SERVICES_AGGREGATOR_AGGREGATOR_CORE_H_
