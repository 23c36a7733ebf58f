// The coordinator's network-free core: one federated job's schedule (DESIGN.md §2) as a state
// machine driven by clients asking for work and submitting sums. The gRPC service is a thin layer
// over it; tests drive it in process.
//
// Schedule: statistics -> subspace iterations -> leverage-score selection -> training rounds
// (server optimizer FedAvg / FedProx / FedAdam; every R rounds a warm-started subspace refresh
// that may swap peaks, the model's per-peak rows re-mapped) -> federated k-means on the clients'
// embeddings (principal-direction splits plus Lloyd steps, all from per-cluster sums) -> done.
//
// Each step is one aggregation over a cohort of institutions. A step closes when its whole cohort
// has contributed, or at its deadline (client_timeout_seconds) with at least
// min_clients_per_round contributors; with fewer, the step is retried (kept open, with what has
// arrived, for another deadline) twice, then the job fails. An institution that misses a
// statistics or subspace step is dropped from the job (its cells would change the matrix being
// decomposed) and the estimate restarts without it; one that misses a training or clustering step
// only misses that step.
//
// Thread safety: every method may be called from any thread (one internal mutex).
#ifndef FLSAILER_LIBS_FEDERATION_COORDINATOR_H_
#define FLSAILER_LIBS_FEDERATION_COORDINATOR_H_

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "flsailer/v1/checkpoint.pb.h"
#include "flsailer/v1/common.pb.h"
#include "flsailer/v1/coordinator.pb.h"
#include "libs/federation/aggregation.h"
#include "libs/federation/protocol.h"
#include "libs/model/invariant_vae.h"
#include "libs/sampling/feature_selector.h"

namespace flsailer::federation {

struct RoundRecord {
  int32_t round = 0;
  double loss = 0;                        // cell-weighted mean training loss of the round
  std::vector<std::string> contributors;  // sorted
  int32_t selection_version = 0;
  double seconds = 0;                     // from the round's opening to its aggregation
  // Of those, the coordinator's own work: adding contributions and updating the model.
  double coordinator_seconds = 0;
};

// The record as the admin API and checkpoints carry it.
v1::Round ToProto(const RoundRecord& record);

struct JobProgress {
  enum class State { kRunning, kFinished, kFailed };
  State state = State::kRunning;
  std::string error;                      // for kFailed
  StepKind step = StepKind::kStatistics;  // current (or last) step
  int64_t step_id = 0;
  int32_t rounds = 0;                     // planned
  std::vector<RoundRecord> history;       // finished training rounds
  std::set<std::string> dropped;          // institutions dropped from the job
  int32_t selection_version = -1;         // -1 before the first selection
  int32_t clusters = 0;                   // current number of federated clusters
};

class JobRunner {
 public:
  using Clock = std::function<absl::Time()>;

  // Fails on an invalid spec (ValidateJobSpec). `aggregator` performs every sum. Step ids start
  // at generation x 2^32 (see Resume).
  static absl::StatusOr<std::unique_ptr<JobRunner>> Create(const v1::JobSpec& spec,
                                                           std::unique_ptr<Aggregator> aggregator,
                                                           Clock clock = absl::Now,
                                                           uint32_t generation = 0);

  // Continues a job from Checkpoint(): after its last completed round (or finished, or failed).
  // Step ids start at generation x 2^32, so with a generation above every earlier run's, a
  // message meant for a step of an earlier run is refused as stale. InvalidArgument for a
  // checkpoint that does not fit together.
  static absl::StatusOr<std::unique_ptr<JobRunner>> Resume(const v1::JobCheckpoint& checkpoint,
                                                           uint32_t generation,
                                                           std::unique_ptr<Aggregator> aggregator,
                                                           Clock clock = absl::Now);

  // The state to resume from: the job after its last completed training round (or its final
  // state once finished or failed). FailedPrecondition before the first round has completed
  // (a job resumed from nothing simply starts again).
  absl::StatusOr<v1::JobCheckpoint> Checkpoint() const;

  // What `institution` should do now. PermissionDenied for an institution not in the job.
  absl::StatusOr<Task> NextTask(const std::string& institution);

  // A contribution to step `step_id`. Refused with the job unchanged: an institution not in the
  // job or not in the step's cohort (PermissionDenied), a step that is not the current one -
  // stale, replayed or from the future (FailedPrecondition), a second contribution (AlreadyExists),
  // a wrong length or non-finite values (InvalidArgument). Completing the cohort closes the step.
  absl::Status Submit(const std::string& institution, int64_t step_id,
                      absl::Span<const double> values, double weight);

  // Applies the step deadline: call periodically. At a deadline with at least the minimum of
  // institutions answered, the step closes without the others - dropped from the job in the
  // statistics and subspace steps, merely absent in training and clustering (later steps do not
  // wait for them until they ask for a task again). Below the minimum the step stays open for
  // two more deadlines, then the job fails.
  void Tick();
  // Fails the job with `reason` (an administrator's cancel).
  void Cancel(const std::string& reason);

  JobProgress Progress() const;
  const v1::JobSpec& spec() const { return spec_; }

  // Results (empty until available): the flat model parameters, the current selection and the
  // leverage scores of every peak, the centroids (K x latent_dim).
  std::vector<float> ModelParameters() const;
  std::optional<sampling::FeatureSelection> Selection() const;
  std::vector<double> Centroids() const;

 private:
  JobRunner(const v1::JobSpec& spec, std::unique_ptr<Aggregator> aggregator, Clock clock);

  // Cells in the whole job, from the statistics step (0 before it).
  int64_t TotalCells() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return statistics_ == nullptr ? 0 : std::llround((*statistics_)[0]);
  }
  // Opens the next step of `kind` for the current cohort with the given payload.
  absl::Status OpenStep(StepKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Aggregates the current step and advances the schedule; fails the job on error. A secure sum
  // not ready yet leaves the step open (Tick tries again). At a deadline, the institutions not in
  // the sum are dropped (statistics) or marked absent (training, clustering).
  void CloseStep(bool at_deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Advance(const AggregateResult& sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AfterStatistics(const AggregateResult& sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AfterSubspace(const AggregateResult& sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AfterTrain(const AggregateResult& sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AfterClusters(const AggregateResult& sum) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status BeginTraining() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What follows a completed round: the next round, a selection refresh, or clustering.
  absl::Status AfterRound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetModelPayload() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the weighted mean update summed_update / weight and publishes the new model.
  void ApplyServerOptimizer(absl::Span<const double> summed_update, double weight)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t ContributionLength(StepKind kind) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the current step may close: every cohort member that is not absent has answered, and
  // at least the minimum number of institutions.
  bool AllPresentAnswered() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the clocks of a training round.
  void OpenRound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seconds since the current Submit or Tick began its work.
  double WorkSeconds() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The current payload with its versions (see Task::payload_version).
  void AttachPayload(Task* task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::set<std::string> Cohort() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const v1::JobSpec spec_;
  const std::unique_ptr<Aggregator> aggregator_;
  const Clock clock_;
  const int64_t peaks_;
  const int32_t target_clusters_;

  mutable absl::Mutex mu_;
  JobProgress progress_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Aggregation> aggregation_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> cohort_ ABSL_GUARDED_BY(mu_);
  // Institutions that missed a training or clustering deadline: later steps close without
  // waiting for them (when enough others answered) until they ask for a task again.
  std::set<std::string> absent_ ABSL_GUARDED_BY(mu_);
  absl::Time step_opened_ ABSL_GUARDED_BY(mu_);
  int32_t step_retries_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time round_opened_ ABSL_GUARDED_BY(mu_);
  Payload payload_ ABSL_GUARDED_BY(mu_);
  // Each payload name's last published vector (held, so its address is not reused) and version;
  // versions count up from generation x 2^32 like step ids.
  std::map<std::string, std::pair<std::shared_ptr<const std::vector<double>>, uint64_t>>
      published_ ABSL_GUARDED_BY(mu_);
  uint64_t payload_serial_ ABSL_GUARDED_BY(mu_) = 0;
  double round_work_seconds_ ABSL_GUARDED_BY(mu_) = 0;  // coordinator_seconds so far
  std::chrono::steady_clock::time_point work_started_ ABSL_GUARDED_BY(mu_);
  int32_t round_ ABSL_GUARDED_BY(mu_) = 0;  // current training round (1-based), 0 before

  std::shared_ptr<const std::vector<double>> statistics_ ABSL_GUARDED_BY(mu_);
  std::optional<sampling::FeatureSelector> selector_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<model::InvariantVae> model_ ABSL_GUARDED_BY(mu_);
  std::vector<double> adam_m_, adam_v_ ABSL_GUARDED_BY(mu_);  // FedAdam moments
  int64_t adam_steps_ ABSL_GUARDED_BY(mu_) = 0;

  std::vector<double> centroids_ ABSL_GUARDED_BY(mu_);  // K x d
  int32_t lloyd_steps_ ABSL_GUARDED_BY(mu_) = 0;        // since the last split
  int32_t final_lloyd_steps_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_COORDINATOR_H_
