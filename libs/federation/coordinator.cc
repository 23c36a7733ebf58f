#include "libs/federation/coordinator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "Eigen/Dense"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/common/status_macros.h"

namespace flsailer::federation {
namespace {

constexpr int32_t kDefaultClusters = 10;
constexpr int32_t kLloydStepsPerSplit = 2;
constexpr int32_t kMaxFinalLloydSteps = 20;
constexpr int32_t kMaxStepRetries = 2;
// How long closing a step may wait for a secure sum (under the job's lock): once every client
// has acknowledged, the aggregator has finished and the wait is a round trip; at a deadline the
// round may still be running, and the next Tick asks again.
constexpr absl::Duration kAcknowledgedSumWait = absl::Seconds(10);
constexpr absl::Duration kDeadlineSumWait = absl::Milliseconds(50);
constexpr double kFedAdamBeta1 = 0.9, kFedAdamBeta2 = 0.99, kFedAdamTau = 1e-3;

std::shared_ptr<const std::vector<double>> Share(std::vector<double> v) {
  return std::make_shared<const std::vector<double>>(std::move(v));
}

std::shared_ptr<const std::vector<double>> FlattenRows(const sampling::RowMatrix& m) {
  return Share(std::vector<double>(m.data(), m.data() + m.size()));
}

}  // namespace

v1::Round ToProto(const RoundRecord& record) {
  v1::Round round;
  round.set_round(static_cast<uint32_t>(record.round));
  round.set_loss(record.loss);
  for (const std::string& id : record.contributors) round.add_contributors(id);
  round.set_selection_version(static_cast<uint32_t>(record.selection_version));
  round.set_seconds(record.seconds);
  round.set_coordinator_seconds(record.coordinator_seconds);
  return round;
}

JobRunner::JobRunner(const v1::JobSpec& spec, std::unique_ptr<Aggregator> aggregator, Clock clock)
    : spec_(spec),
      aggregator_(std::move(aggregator)),
      clock_(std::move(clock)),
      peaks_(static_cast<int64_t>(spec.reference_peaks().num_peaks())),
      target_clusters_(spec.num_clusters() > 0 ? static_cast<int32_t>(spec.num_clusters())
                                               : kDefaultClusters) {}

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(
    const v1::JobSpec& spec, std::unique_ptr<Aggregator> aggregator, Clock clock,
    uint32_t generation) {
  FLS_RETURN_IF_ERROR(ValidateJobSpec(spec));
  if (aggregator == nullptr) return absl::InvalidArgumentError("job: no aggregator");
  std::unique_ptr<JobRunner> runner(new JobRunner(spec, std::move(aggregator), std::move(clock)));
  absl::MutexLock lock(&runner->mu_);
  runner->progress_.rounds = static_cast<int32_t>(spec.rounds());
  runner->progress_.step_id = static_cast<int64_t>(generation) << 32;
  runner->payload_serial_ = static_cast<uint64_t>(generation) << 32;
  runner->OpenRound();
  FLS_RETURN_IF_ERROR(runner->OpenStep(StepKind::kStatistics));
  return runner;
}

std::set<std::string> JobRunner::Cohort() const {
  std::set<std::string> cohort;
  for (const v1::InstitutionId& id : spec_.institutions()) {
    if (progress_.dropped.count(id.value()) == 0) cohort.insert(id.value());
  }
  return cohort;
}

int64_t JobRunner::ContributionLength(StepKind kind) const {
  switch (kind) {
    case StepKind::kStatistics:
      return peaks_ + 4;
    case StepKind::kSubspace: {
      const int64_t l = selector_->basis().cols();
      return peaks_ * l + l * l;
    }
    case StepKind::kTrain:
      return model_->Layout().size + 1;
    case StepKind::kClusters: {
      const int64_t d = model_->config().latent_dim;
      const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(centroids_.size()) / d);
      return k * (1 + d + d * d);
    }
  }
  return 0;
}

absl::Status JobRunner::OpenStep(StepKind kind) {
  cohort_ = Cohort();
  const size_t needed = std::max<size_t>(1, spec_.min_clients_per_round());
  if (cohort_.size() < needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        cohort_.size(), " institutions left, the job needs at least ", needed));
  }
  StepPlan plan;
  plan.step_id = progress_.step_id + 1;
  plan.kind = kind;
  plan.length = ContributionLength(kind);
  plan.expected = cohort_;
  // Training and clustering go on without institutions that missed a deadline; the statistics
  // and the subspace need every institution's data.
  if (kind == StepKind::kTrain || kind == StepKind::kClusters) plan.absent = absent_;
  plan.total_cells = static_cast<double>(TotalCells());
  plan.min_contributors = static_cast<int32_t>(needed);
  FLS_ASSIGN_OR_RETURN(aggregation_, aggregator_->Begin(plan));
  progress_.step = kind;
  progress_.step_id = plan.step_id;
  step_opened_ = clock_();
  step_retries_ = 0;
  return absl::OkStatus();
}

void JobRunner::Fail(const std::string& error) {
  progress_.state = JobProgress::State::kFailed;
  progress_.error = error;
  aggregation_.reset();
  payload_.clear();
}

absl::StatusOr<Task> JobRunner::NextTask(const std::string& institution) {
  FLS_RETURN_IF_ERROR(InstitutionIndex(spec_, institution).status());
  absl::MutexLock lock(&mu_);
  Task task;
  task.step_id = progress_.step_id;
  task.step = progress_.step;
  task.round = round_;
  task.selection_version = progress_.selection_version;
  if (progress_.state == JobProgress::State::kFailed) {
    task.kind = Task::Kind::kFailed;
    task.reason = progress_.error;
    return task;
  }
  if (progress_.dropped.count(institution) > 0) {
    task.kind = Task::Kind::kFailed;
    task.reason = absl::StrCat("'", institution, "' was dropped from the job after missing a ",
                               "statistics or subspace step");
    return task;
  }
  if (progress_.state == JobProgress::State::kFinished) {
    task.kind = Task::Kind::kFinished;
    AttachPayload(&task);
    return task;
  }
  absent_.erase(institution);  // it is back: steps wait for it again
  if (aggregation_->members().count(institution) == 0 ||
      aggregation_->contributors().count(institution) > 0) {
    return task;  // kWait (one that returns to a secure sum begun without it: the next step)
  }
  task.kind = Task::Kind::kWork;
  task.local_epochs = TrainOptionsForJob(spec_).epochs;
  task.first_epoch = std::max(0, round_ - 1) * task.local_epochs;
  if (const SecureSumTask* secure = aggregation_->secure_sum(); secure != nullptr) {
    task.secure_sum = *secure;
  }
  AttachPayload(&task);
  return task;
}

bool JobRunner::AllPresentAnswered() const {
  const std::set<std::string>& answered = aggregation_->contributors();
  if (answered.size() < std::max<size_t>(1, spec_.min_clients_per_round())) return false;
  for (const std::string& id : aggregation_->members()) {
    if (answered.count(id) == 0 && absent_.count(id) == 0) return false;
  }
  return true;
}

void JobRunner::OpenRound() {
  round_opened_ = clock_();
  round_work_seconds_ = 0;
}

double JobRunner::WorkSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - work_started_).count();
}

void JobRunner::AttachPayload(Task* task) {
  task->payload = payload_;
  for (const auto& [name, vector] : payload_) {
    auto& [last, version] = published_[name];
    if (last != vector) {
      last = vector;
      version = ++payload_serial_;
    }
    task->payload_version[name] = version;
  }
}

absl::Status JobRunner::Submit(const std::string& institution, int64_t step_id,
                               absl::Span<const double> values, double weight) {
  FLS_RETURN_IF_ERROR(InstitutionIndex(spec_, institution).status());
  absl::MutexLock lock(&mu_);
  if (progress_.state != JobProgress::State::kRunning) {
    return absl::FailedPreconditionError("the job is no longer running");
  }
  if (step_id != progress_.step_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contribution for step ", step_id, " refused: the current step is ", progress_.step_id,
        step_id < progress_.step_id ? " (stale or replayed)" : " (from the future)"));
  }
  if (cohort_.count(institution) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("'", institution, "' is not in the cohort of step ", step_id));
  }
  work_started_ = std::chrono::steady_clock::now();
  FLS_RETURN_IF_ERROR(aggregation_->Add(institution, values, weight));
  if (AllPresentAnswered()) {
    CloseStep(/*at_deadline=*/false);  // a closed round counted this call's work (AfterTrain)
  } else if (progress_.step == StepKind::kTrain) {
    round_work_seconds_ += WorkSeconds();
  }
  return absl::OkStatus();
}

void JobRunner::Tick() {
  absl::MutexLock lock(&mu_);
  if (progress_.state != JobProgress::State::kRunning) return;
  work_started_ = std::chrono::steady_clock::now();
  if (AllPresentAnswered()) {
    CloseStep(/*at_deadline=*/false);  // everyone answered but the (secure) sum was not ready
    return;
  }
  const int64_t timeout = spec_.client_timeout_seconds() > 0 ? spec_.client_timeout_seconds() : 600;
  if (clock_() - step_opened_ < absl::Seconds(timeout)) return;
  const std::set<std::string>& answered = aggregation_->contributors();
  const size_t needed = std::max<size_t>(1, spec_.min_clients_per_round());
  if (answered.size() < needed) {
    // Retried: the step stays open (keeping what arrived) for further deadlines, then fails.
    // A secure sum cannot take contributions once its stages have closed: it starts afresh as a
    // new step (a new aggregator round) with the same work.
    if (step_retries_ < kMaxStepRetries) {
      const int32_t retries = step_retries_ + 1;
      if (aggregation_->secure_sum() != nullptr) {
        if (absl::Status s = OpenStep(progress_.step); !s.ok()) {
          Fail(absl::StrCat("reopening step ", StepKindName(progress_.step), ": ", s.message()));
          return;
        }
      }
      step_retries_ = retries;
      step_opened_ = clock_();
      return;
    }
    Fail(absl::StrCat("step ", progress_.step_id, " (", StepKindName(progress_.step), "): only ",
                      answered.size(), " of the required ", needed, " institutions answered within ",
                      kMaxStepRetries + 1, " deadlines of ", timeout, " s"));
    return;
  }
  std::vector<std::string> missing;
  for (const std::string& id : cohort_) {
    if (answered.count(id) == 0) missing.push_back(id);
  }
  if (progress_.step != StepKind::kSubspace || missing.empty()) {
    CloseStep(/*at_deadline=*/true);
    return;
  }
  // A subspace step without some institutions would decompose a different matrix: restart the
  // estimate from the statistics without them.
  progress_.dropped.insert(missing.begin(), missing.end());
  if (model_ != nullptr) {
    Fail(absl::StrCat("institutions ", absl::StrJoin(missing, ", "),
                      " missed a selection refresh; the job's selection cannot be recomputed "
                      "without changing the model's input"));
    return;
  }
  selector_.reset();
  payload_.clear();
  if (absl::Status s = OpenStep(StepKind::kStatistics); !s.ok()) Fail(std::string(s.message()));
}

void JobRunner::Cancel(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (progress_.state == JobProgress::State::kRunning) Fail(absl::StrCat("cancelled: ", reason));
}

void JobRunner::CloseStep(bool at_deadline) {
  absl::StatusOr<AggregateResult> sum =
      aggregation_->Finish(at_deadline ? kDeadlineSumWait : kAcknowledgedSumWait);
  if (absl::IsUnavailable(sum.status())) return;  // a secure sum still running: Tick asks again
  if (sum.ok() && at_deadline) {
    // Who is in the sum decides (a secure sum may hold a client whose acknowledgement was lost).
    const std::set<std::string> in_sum(sum->contributors.begin(), sum->contributors.end());
    for (const std::string& id : cohort_) {
      if (in_sum.count(id) > 0) continue;
      // Missing statistics would change the matrix being decomposed: dropped from the job.
      // Missing a training or clustering step: not waited for until it asks for a task again.
      if (progress_.step == StepKind::kStatistics) {
        progress_.dropped.insert(id);
      } else {
        absent_.insert(id);
      }
    }
  }
  absl::Status s = sum.ok() ? Advance(*sum) : sum.status();
  if (!s.ok()) {
    Fail(absl::StrCat("step ", progress_.step_id, " (", StepKindName(progress_.step),
                      "): ", s.message()));
  }
}

absl::Status JobRunner::Advance(const AggregateResult& sum) {
  switch (progress_.step) {
    case StepKind::kStatistics: return AfterStatistics(sum);
    case StepKind::kSubspace: return AfterSubspace(sum);
    case StepKind::kTrain: return AfterTrain(sum);
    case StepKind::kClusters: return AfterClusters(sum);
  }
  return absl::InternalError("unknown step");
}

absl::Status JobRunner::AfterStatistics(const AggregateResult& sum) {
  const double cells = sum.sum[0];
  const model::LogDepthSums depth{sum.sum[1], sum.sum[2], sum.sum[3]};
  if (!(depth.cells >= 1)) {
    return absl::FailedPreconditionError("the institutions hold no cells with counts");
  }
  const model::LogDepthMoments moments = model::MomentsOf(depth);
  std::vector<double> statistics = {cells, moments.mean, moments.sd};
  statistics.insert(statistics.end(), sum.sum.begin() + 4, sum.sum.end());
  sampling::TfIdfSums sums;
  sums.cells = static_cast<int64_t>(std::llround(cells));
  sums.document_frequency.assign(sum.sum.begin() + 4, sum.sum.end());
  FLS_ASSIGN_OR_RETURN(sampling::FeatureSelector selector,
                       sampling::FeatureSelector::Create(sums, SelectorOptionsForJob(spec_)));
  selector_.emplace(std::move(selector));
  statistics_ = Share(std::move(statistics));
  payload_ = {{"statistics", statistics_}, {"basis", FlattenRows(selector_->basis())}};
  return OpenStep(StepKind::kSubspace);
}

absl::Status JobRunner::AfterSubspace(const AggregateResult& sum) {
  const int64_t l = selector_->basis().cols();
  sampling::SubspaceSums sums;
  sums.power = Eigen::Map<const sampling::RowMatrix>(sum.sum.data(), peaks_, l);
  sums.gram = Eigen::Map<const sampling::RowMatrix>(sum.sum.data() + peaks_ * l, l, l);
  FLS_RETURN_IF_ERROR(selector_->Update(sums));
  if (selector_->estimating()) {
    payload_["basis"] = FlattenRows(selector_->basis());
    return OpenStep(StepKind::kSubspace);
  }
  const sampling::FeatureSelection& selection = selector_->current();
  progress_.selection_version = selection.version;
  payload_.erase("basis");
  payload_["selection"] = Share(std::vector<double>(selection.peaks.begin(),
                                                    selection.peaks.end()));
  if (model_ == nullptr) return BeginTraining();
  FLS_RETURN_IF_ERROR(model_->RemapInputFeatures(selection.new_to_old,
                                                 spec_.seed() + selection.version));
  adam_m_.clear();  // the moments belong to the previous peaks' rows
  adam_v_.clear();
  ++round_;
  OpenRound();
  SetModelPayload();
  return OpenStep(StepKind::kTrain);
}

absl::Status JobRunner::BeginTraining() {
  const auto selected = static_cast<int32_t>(selector_->current().peaks.size());
  FLS_ASSIGN_OR_RETURN(model_, model::InvariantVae::Create(
                                   VaeConfigForJob(spec_, selected, TotalCells()), spec_.seed()));
  round_ = 1;
  OpenRound();
  SetModelPayload();
  return OpenStep(StepKind::kTrain);
}

void JobRunner::ApplyServerOptimizer(absl::Span<const double> summed_update, double weight) {
  std::vector<float> w = model_->GetParameters();
  const bool adam = spec_.server_optimizer() == v1::SERVER_OPTIMIZER_FEDADAM;
  if (adam && adam_m_.empty()) {
    adam_m_.assign(w.size(), 0.0);
    adam_v_.assign(w.size(), 0.0);
    adam_steps_ = 0;
  }
  ++adam_steps_;
  const double lr = spec_.server_learning_rate() > 0 ? spec_.server_learning_rate() : 0.01;
  for (const model::ParameterLayout::Entry& e : model_->Layout().entries) {
    for (int64_t i = e.offset; i < e.offset + e.size(); ++i) {
      const double delta = summed_update[i] / weight;
      if (!adam || e.buffer) {  // running statistics are averaged under every optimizer
        w[i] = static_cast<float>(w[i] + delta);
        continue;
      }
      adam_m_[i] = kFedAdamBeta1 * adam_m_[i] + (1 - kFedAdamBeta1) * delta;
      adam_v_[i] = kFedAdamBeta2 * adam_v_[i] + (1 - kFedAdamBeta2) * delta * delta;
      w[i] = static_cast<float>(w[i] + lr * adam_m_[i] / (std::sqrt(adam_v_[i]) + kFedAdamTau));
    }
  }
  // Finite by construction (the aggregation refuses non-finite inputs); SetParameters re-checks.
  absl::Status s = model_->SetParameters(w);
  if (!s.ok()) {
    Fail(absl::StrCat("server optimizer: ", s.message()));
    return;
  }
  payload_["model"] = Share(std::vector<double>(w.begin(), w.end()));
}

absl::Status JobRunner::AfterTrain(const AggregateResult& sum) {
  if (!(sum.total_weight > 0)) return absl::FailedPreconditionError("no cells trained this round");
  const int64_t p = model_->Layout().size;
  ApplyServerOptimizer(absl::MakeConstSpan(sum.sum.data(), static_cast<size_t>(p)),
                       sum.total_weight);
  if (progress_.state != JobProgress::State::kRunning) return absl::OkStatus();
  RoundRecord record;
  record.round = round_;
  record.loss = sum.sum[p] / sum.total_weight * model_->config().input_dim;  // sent per peak
  record.contributors = sum.contributors;
  record.selection_version = progress_.selection_version;
  record.seconds = absl::ToDoubleSeconds(clock_() - round_opened_);
  record.coordinator_seconds = round_work_seconds_ + WorkSeconds();
  progress_.history.push_back(record);
  return AfterRound();
}

void JobRunner::SetModelPayload() {
  const std::vector<float> w = model_->GetParameters();
  payload_["model"] = Share(std::vector<double>(w.begin(), w.end()));
}

absl::Status JobRunner::AfterRound() {
  if (round_ >= progress_.rounds) {
    centroids_.clear();
    payload_["centroids"] = Share({});
    return OpenStep(StepKind::kClusters);
  }
  if (selector_->RefreshDue(round_)) {
    FLS_RETURN_IF_ERROR(selector_->BeginRefresh());
    payload_["basis"] = FlattenRows(selector_->basis());
    return OpenStep(StepKind::kSubspace);
  }
  ++round_;
  OpenRound();
  return OpenStep(StepKind::kTrain);
}

absl::Status JobRunner::AfterClusters(const AggregateResult& sum) {
  const int64_t d = model_->config().latent_dim;
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(centroids_.size()) / d);
  const int64_t stride = 1 + d + d * d;
  using Vector = Eigen::VectorXd;
  using Matrix = Eigen::MatrixXd;
  std::vector<double> next(static_cast<size_t>(k * d));
  double movement = 0;
  int64_t split = -1;
  double largest_sse = 0;
  for (int64_t c = 0; c < k; ++c) {
    const double* stats = sum.sum.data() + c * stride;
    const double count = stats[0];
    Eigen::Map<Vector> centroid(next.data() + c * d, d);
    if (count <= 0) {  // an empty cluster keeps its centroid
      if (!centroids_.empty()) centroid = Eigen::Map<const Vector>(centroids_.data() + c * d, d);
      continue;
    }
    centroid = Eigen::Map<const Vector>(stats + 1, d) / count;
    if (!centroids_.empty()) {
      movement += (centroid - Eigen::Map<const Vector>(centroids_.data() + c * d, d)).squaredNorm();
    }
    const Matrix scatter = Eigen::Map<const Matrix>(stats + 1 + d, d, d);
    const double sse = scatter.trace() - count * centroid.squaredNorm();
    if (count >= 2 && sse > largest_sse) {
      largest_sse = sse;
      split = c;
    }
  }
  const bool first = centroids_.empty();
  ++lloyd_steps_;
  if (k < target_clusters_ && split >= 0 && (first || lloyd_steps_ >= kLloydStepsPerSplit)) {
    // Principal-direction split (as in PDDP): the two half-means of a Gaussian cluster along its
    // top eigenvector sit at mean +- sqrt(2 lambda / pi) v.
    const double* stats = sum.sum.data() + split * stride;
    const double count = stats[0];
    const Vector mean = Eigen::Map<const Vector>(next.data() + split * d, d);
    const Matrix cov = Eigen::Map<const Matrix>(stats + 1 + d, d, d) / count - mean * mean.transpose();
    Eigen::SelfAdjointEigenSolver<Matrix> eig(cov);
    const double lambda = std::max(0.0, eig.eigenvalues()(d - 1));
    const Vector offset = std::sqrt(2 * lambda / M_PI) * eig.eigenvectors().col(d - 1);
    Eigen::Map<Vector>(next.data() + split * d, d) = mean + offset;
    const Vector other = mean - offset;
    next.insert(next.end(), other.data(), other.data() + d);
    lloyd_steps_ = 0;
  } else if (k >= target_clusters_ || split < 0) {
    ++final_lloyd_steps_;
    const double scale = 1e-10 * static_cast<double>(k);
    if (!first && (movement <= scale || final_lloyd_steps_ >= kMaxFinalLloydSteps)) {
      centroids_ = std::move(next);
      progress_.clusters = static_cast<int32_t>(k);
      payload_["centroids"] = Share(centroids_);
      payload_.erase("basis");
      progress_.state = JobProgress::State::kFinished;
      aggregation_.reset();
      return absl::OkStatus();
    }
  }
  centroids_ = std::move(next);
  progress_.clusters = static_cast<int32_t>(centroids_.size() / d);
  payload_["centroids"] = Share(centroids_);
  return OpenStep(StepKind::kClusters);
}

namespace {

template <typename T>
std::string Bytes(const T* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n * sizeof(T));  // little-endian hosts
}

template <typename T>
absl::StatusOr<std::vector<T>> FromBytes(const std::string& bytes, const char* what) {
  if (bytes.size() % sizeof(T) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: ", what, " is not whole values"));
  }
  std::vector<T> v(bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());  // never from/to null
  return v;
}

}  // namespace

absl::StatusOr<v1::JobCheckpoint> JobRunner::Checkpoint() const {
  absl::MutexLock lock(&mu_);
  const bool ended = progress_.state != JobProgress::State::kRunning;
  if (progress_.history.empty() && !ended) {
    return absl::FailedPreconditionError("no round has completed yet");
  }
  v1::JobCheckpoint c;
  c.set_format_version(1);
  *c.mutable_spec() = spec_;
  c.set_rounds_done(static_cast<uint32_t>(progress_.history.size()));
  c.set_error(progress_.state == JobProgress::State::kFailed ? progress_.error : "");
  c.set_finished(progress_.state == JobProgress::State::kFinished);
  for (const std::string& id : progress_.dropped) c.add_dropped(id);
  for (const RoundRecord& r : progress_.history) *c.add_history() = ToProto(r);
  if (model_ == nullptr) return c;  // failed before training: the error is all there is
  c.mutable_statistics()->Add(statistics_->begin(), statistics_->end());
  const sampling::FeatureSelection& s = selector_->current();
  v1::SelectionState* sel = c.mutable_selection();
  sel->set_version(s.version);
  sel->mutable_peaks()->Add(s.peaks.begin(), s.peaks.end());
  sel->mutable_scores()->Add(s.scores.begin(), s.scores.end());
  sel->mutable_singular_values()->Add(s.singular_values.begin(), s.singular_values.end());
  sel->set_power_iterations(s.power_iterations);
  sel->mutable_new_to_old()->Add(s.new_to_old.begin(), s.new_to_old.end());
  const sampling::RowMatrix& subspace = selector_->subspace();
  c.set_subspace_rows(static_cast<uint64_t>(subspace.rows()));
  c.set_subspace_cols(static_cast<uint64_t>(subspace.cols()));
  c.set_subspace(Bytes(subspace.data(), static_cast<size_t>(subspace.size())));
  const std::vector<float> w = model_->GetParameters();
  c.set_model(Bytes(w.data(), w.size()));
  c.set_fedadam_m(Bytes(adam_m_.data(), adam_m_.size()));
  c.set_fedadam_v(Bytes(adam_v_.data(), adam_v_.size()));
  c.set_fedadam_steps(adam_steps_);
  if (progress_.state == JobProgress::State::kFinished) {
    c.mutable_centroids()->Add(centroids_.begin(), centroids_.end());
  }
  return c;
}

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Resume(const v1::JobCheckpoint& c,
                                                             uint32_t generation,
                                                             std::unique_ptr<Aggregator> aggregator,
                                                             Clock clock) {
  if (c.format_version() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: unknown format version ", c.format_version()));
  }
  FLS_RETURN_IF_ERROR(ValidateJobSpec(c.spec()));
  if (aggregator == nullptr) return absl::InvalidArgumentError("job: no aggregator");
  std::unique_ptr<JobRunner> r(new JobRunner(c.spec(), std::move(aggregator), std::move(clock)));
  absl::MutexLock lock(&r->mu_);
  r->progress_.rounds = static_cast<int32_t>(c.spec().rounds());
  r->progress_.step_id = static_cast<int64_t>(generation) << 32;
  r->payload_serial_ = static_cast<uint64_t>(generation) << 32;
  r->progress_.dropped.insert(c.dropped().begin(), c.dropped().end());
  for (const v1::Round& round : c.history()) {
    RoundRecord record;
    record.round = static_cast<int32_t>(round.round());
    record.loss = round.loss();
    record.contributors.assign(round.contributors().begin(), round.contributors().end());
    record.selection_version = static_cast<int32_t>(round.selection_version());
    record.seconds = round.seconds();
    record.coordinator_seconds = round.coordinator_seconds();
    r->progress_.history.push_back(std::move(record));
  }
  r->round_ = static_cast<int32_t>(c.rounds_done());
  r->OpenRound();
  if (!c.error().empty()) {
    r->Fail(c.error());
    return r;
  }
  const int64_t p = r->peaks_;
  if (c.statistics_size() != p + 3 || c.rounds_done() == 0 ||
      c.rounds_done() > c.spec().rounds()) {
    return absl::InvalidArgumentError("checkpoint: statistics or rounds do not fit the job");
  }
  r->statistics_ = Share(std::vector<double>(c.statistics().begin(), c.statistics().end()));
  sampling::TfIdfSums sums;
  sums.cells = std::llround(c.statistics(0));
  sums.document_frequency.assign(c.statistics().begin() + 3, c.statistics().end());
  sampling::FeatureSelection selection;
  selection.version = c.selection().version();
  selection.peaks.assign(c.selection().peaks().begin(), c.selection().peaks().end());
  selection.scores.assign(c.selection().scores().begin(), c.selection().scores().end());
  selection.singular_values.assign(c.selection().singular_values().begin(),
                                   c.selection().singular_values().end());
  selection.power_iterations = c.selection().power_iterations();
  selection.new_to_old.assign(c.selection().new_to_old().begin(),
                              c.selection().new_to_old().end());
  FLS_ASSIGN_OR_RETURN(std::vector<double> subspace_values,
                       FromBytes<double>(c.subspace(), "the subspace"));
  if (subspace_values.size() != c.subspace_rows() * c.subspace_cols()) {
    return absl::InvalidArgumentError("checkpoint: the subspace does not fit its shape");
  }
  sampling::RowMatrix subspace = Eigen::Map<const sampling::RowMatrix>(
      subspace_values.data(), static_cast<int64_t>(c.subspace_rows()),
      static_cast<int64_t>(c.subspace_cols()));
  FLS_ASSIGN_OR_RETURN(sampling::FeatureSelector selector,
                       sampling::FeatureSelector::Restore(sums, SelectorOptionsForJob(c.spec()),
                                                          std::move(selection),
                                                          std::move(subspace)));
  r->selector_.emplace(std::move(selector));
  r->progress_.selection_version = r->selector_->current().version;
  const auto selected = static_cast<int32_t>(r->selector_->current().peaks.size());
  FLS_ASSIGN_OR_RETURN(r->model_,
                       model::InvariantVae::Create(
                           VaeConfigForJob(c.spec(), selected, r->TotalCells()), c.spec().seed()));
  FLS_ASSIGN_OR_RETURN(std::vector<float> w, FromBytes<float>(c.model(), "the model"));
  FLS_RETURN_IF_ERROR(r->model_->SetParameters(w));
  FLS_ASSIGN_OR_RETURN(r->adam_m_, FromBytes<double>(c.fedadam_m(), "FedAdam moments"));
  FLS_ASSIGN_OR_RETURN(r->adam_v_, FromBytes<double>(c.fedadam_v(), "FedAdam moments"));
  if (r->adam_m_.size() != r->adam_v_.size() ||
      (!r->adam_m_.empty() && r->adam_m_.size() != w.size())) {
    return absl::InvalidArgumentError("checkpoint: FedAdam moments do not fit the model");
  }
  r->adam_steps_ = c.fedadam_steps();
  r->payload_ = {{"statistics", r->statistics_},
                 {"selection", Share(std::vector<double>(r->selector_->current().peaks.begin(),
                                                         r->selector_->current().peaks.end()))}};
  r->SetModelPayload();
  if (c.finished()) {
    const int64_t d = r->model_->config().latent_dim;
    if (c.centroids_size() == 0 || c.centroids_size() % d != 0) {
      return absl::InvalidArgumentError("checkpoint: a finished job without centroids");
    }
    r->centroids_.assign(c.centroids().begin(), c.centroids().end());
    r->progress_.clusters = static_cast<int32_t>(r->centroids_.size() / d);
    r->payload_["centroids"] = Share(r->centroids_);
    r->progress_.state = JobProgress::State::kFinished;
    r->progress_.step = StepKind::kClusters;
    return r;
  }
  FLS_RETURN_IF_ERROR(r->AfterRound());
  return r;
}

JobProgress JobRunner::Progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

std::vector<float> JobRunner::ModelParameters() const {
  absl::MutexLock lock(&mu_);
  return model_ == nullptr ? std::vector<float>() : model_->GetParameters();
}

std::optional<sampling::FeatureSelection> JobRunner::Selection() const {
  absl::MutexLock lock(&mu_);
  if (!selector_.has_value() || !selector_->has_selection()) return std::nullopt;
  return selector_->current();
}

std::vector<double> JobRunner::Centroids() const {
  absl::MutexLock lock(&mu_);
  return centroids_;
}

}  // namespace flsailer::federation
