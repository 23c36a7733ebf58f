#include "libs/federation/client.h"

#include <cmath>
#include <limits>
#include <utility>

#include "Eigen/Dense"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/sampling/subspace.h"
#include "libs/sampling/tfidf.h"

namespace flsailer::federation {
namespace {

absl::StatusOr<std::shared_ptr<const std::vector<double>>> Need(const Task& task,
                                                                const std::string& name,
                                                                int64_t min_size = 0) {
  auto it = task.payload.find(name);
  if (it == task.payload.end() || it->second == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("task lacks the '", name, "' payload"));
  }
  if (static_cast<int64_t>(it->second->size()) < min_size) {
    return absl::InvalidArgumentError(absl::StrCat("payload '", name, "' has ",
                                                   it->second->size(), " values, expected at least ",
                                                   min_size));
  }
  return it->second;
}

}  // namespace

ClientCore::ClientCore(const v1::JobSpec& spec, int32_t index, const data::CsrMatrix& counts,
                       int threads)
    : spec_(spec),
      index_(index),
      counts_(counts.Binarized()),
      depths_(counts.RowSums()),
      threads_(threads) {}

absl::StatusOr<std::unique_ptr<ClientCore>> ClientCore::Create(const v1::JobSpec& spec,
                                                               const std::string& institution,
                                                               data::CsrMatrix counts,
                                                               int threads) {
  FLS_RETURN_IF_ERROR(ValidateJobSpec(spec));
  FLS_ASSIGN_OR_RETURN(int32_t index, InstitutionIndex(spec, institution));
  FLS_RETURN_IF_ERROR(counts.Validate());
  if (counts.cols != static_cast<int64_t>(spec.reference_peaks().num_peaks())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the local data has ", counts.cols, " peaks; the job's reference has ",
        spec.reference_peaks().num_peaks(), " (map the data onto the reference peaks first)"));
  }
  if (threads < 1) return absl::InvalidArgumentError("threads must be >= 1");
  return std::unique_ptr<ClientCore>(
      new ClientCore(spec, index, counts, threads));
}

absl::StatusOr<Contribution> ClientCore::Work(const Task& task) {
  if (task.kind != Task::Kind::kWork) {
    return absl::InvalidArgumentError("ClientCore::Work needs a work task");
  }
  switch (task.step) {
    case StepKind::kStatistics: return Statistics();
    case StepKind::kSubspace: return Subspace(task);
    case StepKind::kTrain: return Train(task);
    case StepKind::kClusters: return Clusters(task);
  }
  return absl::InvalidArgumentError("unknown step");
}

absl::StatusOr<Contribution> ClientCore::Statistics() const {
  Contribution c;
  const int64_t p = counts_.cols;
  c.values.assign(static_cast<size_t>(p + 4), 0.0);
  c.values[0] = static_cast<double>(counts_.rows);
  const model::LogDepthSums depth = model::SumLogDepths(depths_);
  c.values[1] = depth.cells;
  c.values[2] = depth.sum;
  c.values[3] = depth.sum_of_squares;
  const sampling::TfIdfSums sums = sampling::LocalTfIdfSums(counts_);
  for (int64_t j = 0; j < p; ++j) c.values[4 + j] = sums.document_frequency[j];
  c.weight = static_cast<double>(counts_.rows);
  return c;
}

absl::StatusOr<Contribution> ClientCore::Subspace(const Task& task) {
  const int64_t p = counts_.cols;
  FLS_ASSIGN_OR_RETURN(auto statistics, Need(task, "statistics", p + 3));
  FLS_ASSIGN_OR_RETURN(auto basis, Need(task, "basis", p));
  if (statistics != tfidf_for_) {
    sampling::TfIdfSums sums;
    sums.cells = std::llround((*statistics)[0]);
    sums.document_frequency.assign(statistics->begin() + 3, statistics->end());
    FLS_ASSIGN_OR_RETURN(sampling::TfIdf tfidf,
                         sampling::TfIdf::FromSums(sums, SelectorOptionsForJob(spec_).tfidf));
    FLS_ASSIGN_OR_RETURN(tfidf_, tfidf.Transform(counts_));
    tfidf_for_ = statistics;
  }
  if (basis->size() % static_cast<size_t>(p) != 0) {
    return absl::InvalidArgumentError("the basis is not a whole number of peak rows");
  }
  const int64_t l = static_cast<int64_t>(basis->size()) / p;
  const sampling::RowMatrix q = Eigen::Map<const sampling::RowMatrix>(basis->data(), p, l);
  FLS_ASSIGN_OR_RETURN(sampling::SubspaceSums sums,
                       sampling::LocalSubspaceSums(tfidf_, q, threads_));
  Contribution c;
  c.values.assign(sums.power.data(), sums.power.data() + sums.power.size());
  c.values.insert(c.values.end(), sums.gram.data(), sums.gram.data() + sums.gram.size());
  c.weight = static_cast<double>(counts_.rows);
  return c;
}

absl::Status ClientCore::Prepare(const Task& task) {
  const int64_t p = counts_.cols;
  FLS_ASSIGN_OR_RETURN(auto statistics, Need(task, "statistics", p + 3));
  FLS_ASSIGN_OR_RETURN(auto selection, Need(task, "selection", 1));
  FLS_ASSIGN_OR_RETURN(auto weights, Need(task, "model", 1));
  if (selection != selection_for_) {
    std::vector<int32_t> peaks;
    peaks.reserve(selection->size());
    for (double j : *selection) {
      if (!(j >= 0 && j < static_cast<double>(p)) || (!peaks.empty() && j <= peaks.back())) {
        return absl::InvalidArgumentError("the selection is not ascending peak indices");
      }
      peaks.push_back(static_cast<int32_t>(j));
    }
    selected_ = counts_.SelectColumns(peaks);
    selection_for_ = selection;
  }
  const model::VaeConfig config = VaeConfigForJob(
      spec_, static_cast<int32_t>(selected_.cols), std::llround((*statistics)[0]));
  if (covariates_.batch.empty() && covariates_.log_depth.empty()) {
    if (config.num_batches > 0) covariates_.batch.assign(static_cast<size_t>(counts_.rows), index_);
    if (config.depth_covariate) {
      // Depth over all reference peaks, standardised with the federation's mean and sd.
      covariates_.log_depth =
          model::StandardisedLogDepth(depths_, (*statistics)[1], (*statistics)[2]);
    }
  }
  // A fresh local model for every task: like FedAvg's clients, each round starts from the
  // global weights with no optimizer memory. Adam moments kept from this client's previous round
  // point along its own trajectory, away from the averaged model: on granja2019_bmmc in 3
  // institutions they cost ARI 0.53 -> 0.37 (seed 0) and 0.53 -> 0.41 (seed 1).
  FLS_ASSIGN_OR_RETURN(model_, model::InvariantVae::Create(config, spec_.seed()));
  if (static_cast<int64_t>(weights->size()) != model_->Layout().size) {
    return absl::InvalidArgumentError(absl::StrCat("the model has ", weights->size(),
                                                   " parameters, expected ",
                                                   model_->Layout().size));
  }
  return model_->SetParameters(std::vector<float>(weights->begin(), weights->end()));
}

absl::StatusOr<Contribution> ClientCore::Train(const Task& task) {
  FLS_RETURN_IF_ERROR(Prepare(task));
  const std::vector<float> start = model_->GetParameters();
  Contribution c;  // weight 0 until trained
  c.values.assign(start.size() + 1, 0.0);
  if (counts_.rows == 0) return c;  // an institution without cells adds nothing
  model::TrainOptions options = TrainOptionsForJob(spec_);
  options.epochs = task.local_epochs;
  options.first_epoch = task.first_epoch;
  options.seed = spec_.seed() * 1000003 + static_cast<uint64_t>(task.step_id) * 131 + index_;
  options.threads = threads_;
  FLS_ASSIGN_OR_RETURN(model::TrainReport report, model_->Train(selected_, covariates_, options));
  // Weighted by the cells trained on: those without an open selected peak were left out.
  const double n = static_cast<double>(counts_.rows - report.cells_left_out);
  c.weight = n;
  const std::vector<float> trained = model_->GetParameters();
  for (size_t i = 0; i < trained.size(); ++i) {
    c.values[i] = n * (static_cast<double>(trained[i]) - start[i]);
  }
  // Per selected peak, so that it lies in the same small range as the updates (secure_sum.h).
  c.values[start.size()] = n * report.final_loss / model_->config().input_dim;
  return c;
}

absl::StatusOr<data::DenseMatrix> ClientCore::NormalisedEmbedding() const {
  FLS_ASSIGN_OR_RETURN(data::DenseMatrix z, model_->Embed(selected_, threads_));
  for (int64_t i = 0; i < z.rows; ++i) {
    float* row = z.data.data() + i * z.cols;
    double norm = 0;
    for (int64_t k = 0; k < z.cols; ++k) norm += static_cast<double>(row[k]) * row[k];
    if (norm > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (int64_t k = 0; k < z.cols; ++k) row[k] *= inv;
    }
  }
  return z;
}

namespace {

// Index of the centroid (K x d, row-major) nearest to `point`, 0 when there is none.
int32_t Nearest(const float* point, const std::vector<double>& centroids, int64_t d) {
  const int64_t k = static_cast<int64_t>(centroids.size()) / d;
  int32_t best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < k; ++c) {
    double distance = 0;
    for (int64_t t = 0; t < d; ++t) {
      const double diff = point[t] - centroids[c * d + t];
      distance += diff * diff;
    }
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<int32_t>(c);
    }
  }
  return best;
}

}  // namespace

absl::StatusOr<Contribution> ClientCore::Clusters(const Task& task) {
  FLS_RETURN_IF_ERROR(Prepare(task));
  FLS_ASSIGN_OR_RETURN(auto centroids, Need(task, "centroids"));
  const int64_t d = model_->config().latent_dim;
  if (centroids->size() % static_cast<size_t>(d) != 0) {
    return absl::InvalidArgumentError("the centroids are not a whole number of latent vectors");
  }
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(centroids->size()) / d);
  const int64_t stride = 1 + d + d * d;
  Contribution c;
  c.values.assign(static_cast<size_t>(k * stride), 0.0);
  c.weight = static_cast<double>(counts_.rows);
  if (counts_.rows == 0) return c;
  FLS_ASSIGN_OR_RETURN(data::DenseMatrix z, NormalisedEmbedding());
  for (int64_t i = 0; i < z.rows; ++i) {
    const float* point = z.data.data() + i * d;
    double* stats = c.values.data() + Nearest(point, *centroids, d) * stride;
    stats[0] += 1;
    for (int64_t a = 0; a < d; ++a) {
      stats[1 + a] += point[a];
      for (int64_t b = 0; b < d; ++b) stats[1 + d + a * d + b] += double(point[a]) * point[b];
    }
  }
  return c;
}

absl::StatusOr<LocalResults> ClientCore::Results(const Task& finished) {
  if (finished.kind != Task::Kind::kFinished) {
    return absl::FailedPreconditionError("the job has not finished");
  }
  FLS_RETURN_IF_ERROR(Prepare(finished));
  FLS_ASSIGN_OR_RETURN(auto centroids, Need(finished, "centroids"));
  LocalResults results;
  FLS_ASSIGN_OR_RETURN(results.embedding, model_->Embed(selected_, threads_));
  FLS_ASSIGN_OR_RETURN(data::DenseMatrix z, NormalisedEmbedding());
  const int64_t d = z.cols;
  results.clusters.resize(static_cast<size_t>(z.rows));
  for (int64_t i = 0; i < z.rows; ++i) {
    results.clusters[i] = Nearest(z.data.data() + i * d, *centroids, d);
  }
  return results;
}

}  // namespace flsailer::federation
