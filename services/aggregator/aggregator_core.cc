#include "services/aggregator/aggregator_core.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::aggregator {

struct ClientSlot {
  std::deque<secagg::ServerMessage> queue;
  bool attached = false;
  bool ended = false;  // nothing more will be queued
  absl::Status end_status;
};

// What the session sends goes into the addressed client's queue; the stream handler writes it.
class QueueSender : public secagg::SendToClients {
 public:
  explicit QueueSender(std::map<std::string, ClientSlot>* clients) : clients_(clients) {}
  absl::Status Send(const std::string& client_id, secagg::ServerMessage message) override {
    auto it = clients_->find(client_id);
    if (it == clients_->end()) return absl::NotFoundError(absl::StrCat("no client ", client_id));
    if (!it->second.attached || it->second.ended) {
      return absl::UnavailableError(absl::StrCat(client_id, " is not connected"));
    }
    it->second.queue.push_back(std::move(message));
    return absl::OkStatus();
  }

 private:
  std::map<std::string, ClientSlot>* clients_;
};

// Guarded by AggregatorCore::mu_.
struct RoundState {
  secagg::RoundContext context;
  std::map<std::string, ClientSlot> clients;
  QueueSender sender{&clients};
  std::unique_ptr<secagg::ServerSession> session;  // released once the round has ended
  absl::Duration stage_timeout;
  secagg::Stage stage = secagg::Stage::kAdvertiseKeys;
  absl::Time stage_deadline;
  absl::Time stage_opened;
  absl::Time opened;
  absl::Time ended_at;
  size_t dropped_seen = 0;
  bool finished = false;
  std::shared_ptr<const RoundOutcome> outcome;  // once finished
};

namespace {

bool Ended(secagg::Stage stage) {
  return stage == secagg::Stage::kCompleted || stage == secagg::Stage::kAborted;
}

}  // namespace

ClientConnection::~ClientConnection() {
  absl::MutexLock lock(&core_->mu_);
  round_->clients[client_id_].attached = false;
}

const secagg::RoundContext& ClientConnection::context() const { return round_->context; }

absl::Status ClientConnection::Deliver(const secagg::ClientMessage& message) {
  if (secagg::HeaderOf(message).context != round_->context) {
    return absl::InvalidArgumentError(
        absl::StrCat("a message for ", secagg::DescribeContext(secagg::HeaderOf(message).context),
                     " on the stream of ", secagg::DescribeContext(round_->context)));
  }
  absl::MutexLock lock(&core_->mu_);
  if (round_->session == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(secagg::DescribeContext(round_->context), " has ended"));
  }
  absl::Status status = round_->session->OnMessage(client_id_, message);
  core_->UpdateLocked(*round_, absl::Now());
  return status;
}

std::optional<secagg::ServerMessage> ClientConnection::Next(absl::Duration timeout) {
  ClientSlot* slot = nullptr;
  {
    absl::MutexLock lock(&core_->mu_);
    slot = &round_->clients[client_id_];
  }
  auto ready = [slot] { return !slot->queue.empty() || slot->ended; };
  core_->mu_.LockWhenWithTimeout(absl::Condition(&ready), timeout);
  std::optional<secagg::ServerMessage> out;
  if (!slot->queue.empty()) {
    out = std::move(slot->queue.front());
    slot->queue.pop_front();
  }
  core_->mu_.Unlock();
  return out;
}

bool ClientConnection::ended() const {
  absl::MutexLock lock(&core_->mu_);
  const ClientSlot& slot = round_->clients.at(client_id_);
  return slot.ended && slot.queue.empty();
}

absl::Status ClientConnection::end_status() const {
  absl::MutexLock lock(&core_->mu_);
  return round_->clients.at(client_id_).end_status;
}

AggregatorCore::~AggregatorCore() = default;

absl::Status AggregatorCore::OpenRound(const secagg::RoundContext& context,
                                       std::vector<std::string> institutions,
                                       const secagg::SecAggConfig& config,
                                       absl::Duration stage_timeout, absl::Time now) {
  if (stage_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the stage timeout must be positive");
  }
  auto round = std::make_shared<RoundState>();
  round->context = context;
  round->stage_timeout = stage_timeout;
  for (const std::string& id : institutions) round->clients[id];
  FLS_ASSIGN_OR_RETURN(round->session,
                       secagg::ServerSession::Create(config, context, std::move(institutions),
                                                     ca_pem_, &round->sender));
  round->stage = round->session->stage();
  round->stage_deadline = now + stage_timeout;
  round->opened = now;
  round->stage_opened = now;
  absl::MutexLock lock(&mu_);
  Key key{context.job_id, context.round};
  if (rounds_.count(key) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(secagg::DescribeContext(context), " is already open"));
  }
  rounds_.emplace(std::move(key), std::move(round));
  if (metrics_ != nullptr) {
    metrics_->RoundsOpened().Increment();
    metrics_->RoundsOpen().Increment();
  }
  // A job's steps run one at a time, so a newer round means its coordinator has moved on (a
  // step retried at a deadline, a coordinator restarted): clients still in an older round must
  // not wait out its stage deadlines for peers that went on to the new one.
  for (auto& [other_key, other] : rounds_) {
    if (other_key.first != context.job_id || other_key.second >= context.round) continue;
    if (other->session == nullptr) continue;
    other->session->Abort(absl::AbortedError(
        absl::StrCat("superseded by ", secagg::DescribeContext(context))));
    UpdateLocked(*other, now);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClientConnection>> AggregatorCore::Connect(
    const secagg::RoundContext& context, const std::string& institution) {
  absl::MutexLock lock(&mu_);
  auto it = rounds_.find(Key{context.job_id, context.round});
  if (it == rounds_.end()) {
    return absl::NotFoundError(absl::StrCat("no open ", secagg::DescribeContext(context)));
  }
  RoundState& round = *it->second;
  auto slot = round.clients.find(institution);
  if (slot == round.clients.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        institution, " does not take part in ", secagg::DescribeContext(context)));
  }
  if (slot->second.attached) {
    return absl::AlreadyExistsError(absl::StrCat(institution, " is already connected to ",
                                                 secagg::DescribeContext(context)));
  }
  if (slot->second.ended) {
    return absl::FailedPreconditionError(absl::StrCat(
        secagg::DescribeContext(context), " has ended for ", institution, ": ",
        slot->second.end_status.ToString()));
  }
  slot->second.attached = true;
  return std::unique_ptr<ClientConnection>(new ClientConnection(this, it->second, institution));
}

void AggregatorCore::Tick(absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    RoundState& round = *it->second;
    if (round.finished && now - round.ended_at > result_retention_) {
      if (metrics_ != nullptr) metrics_->RoundsOpen().Decrement();
      it = rounds_.erase(it);
      continue;
    }
    if (round.session != nullptr && now >= round.stage_deadline) {
      absl::Status closed = round.session->CloseStage();
      (void)closed;  // FailedPrecondition only once the round has ended, which UpdateLocked sees
      UpdateLocked(round, now);
    }
    ++it;
  }
}

void AggregatorCore::UpdateLocked(RoundState& round, absl::Time now) {
  if (round.session == nullptr) return;
  const auto& dropped = round.session->dropped_clients();
  for (; round.dropped_seen < dropped.size(); ++round.dropped_seen) {
    const secagg::DroppedClient& d = dropped[round.dropped_seen];
    ClientSlot& slot = round.clients[d.client_id];
    if (metrics_ != nullptr) metrics_->ClientsDropped().Increment();
    if (!slot.ended) {
      slot.ended = true;
      slot.end_status = absl::AbortedError(absl::StrCat(
          "dropped out of ", secagg::DescribeContext(round.context), " in stage ",
          secagg::StageName(d.stage), ": ", d.reason.message()));
    }
  }
  secagg::Stage stage = round.session->stage();
  if (stage != round.stage) {
    if (metrics_ != nullptr) {
      metrics_->StageSeconds(round.stage).Observe(absl::ToDoubleSeconds(now - round.stage_opened));
    }
    round.stage = stage;
    round.stage_opened = now;
    round.stage_deadline = now + round.stage_timeout;
  }
  if (!Ended(stage)) return;
  auto outcome = std::make_shared<RoundOutcome>(
      RoundOutcome{round.session->TakeResult(), round.session->dropped_clients()});
  for (auto& [id, slot] : round.clients) {
    if (slot.ended) continue;
    slot.ended = true;
    slot.end_status = outcome->result.ok() ? absl::OkStatus() : outcome->result.status();
  }
  if (metrics_ != nullptr) {
    (outcome->result.ok() ? metrics_->RoundsCompleted() : metrics_->RoundsAborted()).Increment();
    metrics_->RoundSeconds().Observe(absl::ToDoubleSeconds(now - round.opened));
  }
  round.outcome = std::move(outcome);
  round.finished = true;
  round.ended_at = now;
  round.session.reset();
}

absl::StatusOr<std::shared_ptr<const RoundOutcome>> AggregatorCore::AwaitResult(
    const secagg::RoundContext& context, absl::Time deadline) {
  std::shared_ptr<RoundState> round;
  {
    absl::MutexLock lock(&mu_);
    auto it = rounds_.find(Key{context.job_id, context.round});
    if (it == rounds_.end()) {
      return absl::NotFoundError(absl::StrCat("no open ", secagg::DescribeContext(context)));
    }
    round = it->second;
  }
  RoundState* r = round.get();
  auto finished = [r] { return r->finished; };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&finished), deadline);
  if (!round->finished) {
    return absl::DeadlineExceededError(
        absl::StrCat(secagg::DescribeContext(context), " is still running"));
  }
  return round->outcome;
}

void AggregatorCore::Forget(const secagg::RoundContext& context) {
  absl::MutexLock lock(&mu_);
  auto it = rounds_.find(Key{context.job_id, context.round});
  if (it == rounds_.end() || !it->second->finished) return;
  rounds_.erase(it);
  if (metrics_ != nullptr) metrics_->RoundsOpen().Decrement();
}

int AggregatorCore::rounds() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(rounds_.size());
}

}  // namespace flsailer::aggregator
