#include "libs/federation/central.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/federation/protocol.h"

namespace flsailer::federation {

absl::StatusOr<CentralResult> TrainCentrally(
    const v1::JobSpec& spec, const data::CsrMatrix& counts,
    const std::vector<int32_t>& institution_of_cell, int threads,
    std::function<void(int32_t, int32_t, double)> on_epoch) {
  FLS_RETURN_IF_ERROR(ValidateJobSpec(spec));
  FLS_RETURN_IF_ERROR(counts.Validate());
  if (counts.cols != static_cast<int64_t>(spec.reference_peaks().num_peaks())) {
    return absl::InvalidArgumentError(absl::StrCat("the data has ", counts.cols,
                                                   " peaks; the job's reference has ",
                                                   spec.reference_peaks().num_peaks()));
  }
  if (static_cast<int64_t>(institution_of_cell.size()) != counts.rows) {
    return absl::InvalidArgumentError("one institution per cell is needed");
  }
  for (int32_t i : institution_of_cell) {
    if (i < 0 || i >= spec.institutions_size()) {
      return absl::InvalidArgumentError(absl::StrCat("institution index ", i, " is not in the job"));
    }
  }
  const data::CsrMatrix binary = counts.Binarized();

  CentralResult result;
  FLS_ASSIGN_OR_RETURN(result.selection,
                       sampling::SelectCentrally(binary, SelectorOptionsForJob(spec), threads));
  const data::CsrMatrix selected = binary.SelectColumns(result.selection.peaks);

  const model::VaeConfig config =
      VaeConfigForJob(spec, static_cast<int32_t>(selected.cols), counts.rows);
  model::Covariates covariates;
  if (config.num_batches > 0) covariates.batch = institution_of_cell;
  if (config.depth_covariate) covariates.log_depth = model::StandardisedLogDepth(counts.RowSums());
  model::TrainOptions options = TrainOptionsForJob(spec);
  options.epochs = static_cast<int32_t>(spec.rounds()) * options.epochs;
  // As `flsailer train` does: a single run's last iterate is noisier than a federated model,
  // which is itself an average of the institutions' models every round.
  options.average_last_fraction = 0.5f;
  options.threads = threads;
  options.on_epoch = std::move(on_epoch);
  FLS_ASSIGN_OR_RETURN(auto vae, model::InvariantVae::Create(config, spec.seed()));
  FLS_ASSIGN_OR_RETURN(result.training, vae->Train(selected, covariates, options));
  FLS_ASSIGN_OR_RETURN(result.embedding, vae->Embed(selected, threads));
  return result;
}

}  // namespace flsailer::federation
