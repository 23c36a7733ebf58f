// The FL-Sailer schedule as seen by both sides (DESIGN.md §2), independent of the network: what
// the coordinator asks of a client (Task) and the layout of what a client sends back. The gRPC
// services carry these; the in-process tests drive them directly.
//
// Steps, in order (each one an aggregation over its cohort of institutions):
//   kStatistics  payload: none                 contribution: [cells, cells with counts,
//                                                sum log1p(depth), sum log1p(depth)^2,
//                                                df_0 .. df_{p-1}] (depths of cells with counts)
//   kSubspace    payload: statistics, basis    contribution: T_k^T T_k Q (p x l) then
//                                                (T_k Q)^T (T_k Q) (l x l), row-major
//   kTrain       payload: statistics, selection, model
//                                              contribution: n_k (w_k - w) then
//                                                n_k * loss_k / selected peaks
//   kClusters    payload: statistics, selection, model, centroids (K x d, K may be 0)
//                                              contribution: per cluster (max(K, 1) of them)
//                                                [count, sum of z (d), sum of z z^T (d x d)]
// where z is a cell's L2-normalised encoder mean. Every contribution is a sum over the client's
// cells, never a per-cell value, and its length does not depend on the number of cells.
//
// Payload vectors: "statistics" = [N, mean log depth, sd log depth, df_0 .. df_{p-1}], the
// depth's mean and sd over the cells with counts;
// "selection" = kept peak indices (ascending); "model" = the flat parameters
// (InvariantVae::Layout); "basis" = Q (p x l, row-major); "centroids" = K x d, row-major.
#ifndef FLSAILER_LIBS_FEDERATION_PROTOCOL_H_
#define FLSAILER_LIBS_FEDERATION_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "flsailer/v1/common.pb.h"
#include "libs/model/invariant_vae.h"
#include "libs/sampling/feature_selector.h"
#include "libs/secagg/config.h"

namespace flsailer::federation {

enum class StepKind { kStatistics, kSubspace, kTrain, kClusters };
const char* StepKindName(StepKind kind);

using Payload = std::map<std::string, std::shared_ptr<const std::vector<double>>>;

// How a client delivers a step's contribution through the secure-aggregation service instead of
// to the coordinator (secure_sum.h chooses the settings). The round is (job id, step id).
struct SecureSumTask {
  std::string aggregator;       // host:port of the aggregator
  secagg::SecAggConfig config;  // vector_length is the contribution's length
  // Clients send values / divisor (and their weight unchanged); the coordinator multiplies the
  // sum back. Dividing by the job's cell count bounds every value by its per-cell maximum.
  double divisor = 1;
};

struct Task {
  enum class Kind {
    kWait,      // nothing to do now (not in this step's cohort, or already contributed)
    kWork,      // compute the contribution of `step`
    kFinished,  // the job is done: payload holds the final model, selection and centroids
    kFailed,    // the job failed or was cancelled: `reason`
  };
  Kind kind = Kind::kWait;
  int64_t step_id = 0;    // strictly increasing over a job; a contribution must name it
  StepKind step = StepKind::kStatistics;
  int32_t round = 0;      // training round (1-based) for kTrain, else the last finished round
  int32_t local_epochs = 0;
  int32_t first_epoch = 0;  // global epoch index of the round's first local epoch
  int32_t selection_version = 0;
  Payload payload;
  // Version of each payload: equal versions within a job mean equal contents, so a client may
  // keep what it downloaded before (the statistics and selection rarely change).
  std::map<std::string, uint64_t> payload_version;
  std::string reason;
  // kWork: set when the contribution goes to the secure aggregator (the coordinator then gets
  // an empty acknowledgement).
  std::optional<SecureSumTask> secure_sum;
};

// The configuration every participant derives from the job: the model over `selected` peaks and
// `institutions` batches (each institution is one batch of the decoder's covariate). Fields left
// 0 in the job's ModelConfig take the library defaults (libs/model); when the job leaves the
// hidden sizes to them, the network is adapted to the federation's `total_cells`
// (model::ScaleConfigForCells; every participant knows the count from the statistics step).
model::VaeConfig VaeConfigForJob(const v1::JobSpec& spec, int32_t selected_peaks,
                                 int64_t total_cells);
model::TrainOptions TrainOptionsForJob(const v1::JobSpec& spec);
sampling::FeatureSelectorOptions SelectorOptionsForJob(const v1::JobSpec& spec);

// Checks a job before it starts: institutions (at least one, unique, valid ids), reference
// peaks, rounds, minimum clients, rates. InvalidArgument naming the field.
absl::Status ValidateJobSpec(const v1::JobSpec& spec);

// Index of `institution` in the job (its batch code), or NotFound.
absl::StatusOr<int32_t> InstitutionIndex(const v1::JobSpec& spec, const std::string& institution);

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_PROTOCOL_H_
