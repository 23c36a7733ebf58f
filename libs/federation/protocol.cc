#include "libs/federation/protocol.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "libs/pki/pki.h"

namespace flsailer::federation {

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kStatistics: return "statistics";
    case StepKind::kSubspace: return "subspace";
    case StepKind::kTrain: return "train";
    case StepKind::kClusters: return "clusters";
  }
  return "unknown";
}

model::VaeConfig VaeConfigForJob(const v1::JobSpec& spec, int32_t selected_peaks,
                                 int64_t total_cells) {
  model::VaeConfig c;
  const v1::ModelConfig& m = spec.model();
  c.input_dim = selected_peaks;
  if (m.encoder_hidden_size() > 0) c.encoder_hidden.assign(m.encoder_hidden().begin(),
                                                           m.encoder_hidden().end());
  if (m.decoder_hidden_size() > 0) c.decoder_hidden.assign(m.decoder_hidden().begin(),
                                                           m.decoder_hidden().end());
  if (m.latent_dim() > 0) c.latent_dim = static_cast<int32_t>(m.latent_dim());
  if (m.has_mi_lambda()) c.mi_lambda = static_cast<float>(m.mi_lambda());
  if (m.pos_weight() > 0) c.pos_weight = static_cast<float>(m.pos_weight());
  c.num_batches = spec.institutions_size() > 1 ? spec.institutions_size() : 0;
  // Federated jobs keep SAILER's pairwise bound unless they ask for the mixture: the mixture
  // clusters well only with tail averaging, and a mean of the global models over the last rounds
  // still left it below the pairwise bound on the bundled demo (libs/model/README.md).
  c.mi_bound = model::MiBound::kPairwiseKl;
  if (m.encoder_hidden_size() == 0 && m.decoder_hidden_size() == 0) {
    model::ScaleConfigForCells(total_cells, &c);
  }
  switch (m.mi_bound()) {  // after the small-data rule: a job's own choice stands
    case v1::MI_BOUND_UNSPECIFIED: break;
    case v1::MI_BOUND_MINIBATCH_MIXTURE: c.mi_bound = model::MiBound::kMinibatchMixture; break;
    case v1::MI_BOUND_PAIRWISE_KL: c.mi_bound = model::MiBound::kPairwiseKl; break;
    default: c.mi_bound = static_cast<model::MiBound>(-1);  // VaeConfig::Validate refuses it
  }
  return c;
}

model::TrainOptions TrainOptionsForJob(const v1::JobSpec& spec) {
  model::TrainOptions o;
  const v1::ModelConfig& m = spec.model();
  if (m.learning_rate() > 0) o.learning_rate = static_cast<float>(m.learning_rate());
  if (m.weight_decay() > 0) o.weight_decay = static_cast<float>(m.weight_decay());
  if (m.batch_size() > 0) o.batch_size = static_cast<int32_t>(m.batch_size());
  o.warmup_epochs = static_cast<int32_t>(m.warmup_epochs());
  o.epochs = spec.local_epochs() > 0 ? static_cast<int32_t>(spec.local_epochs()) : 1;
  if (spec.server_optimizer() == v1::SERVER_OPTIMIZER_FEDPROX) {
    o.fedprox_mu = spec.fedprox_mu() > 0 ? static_cast<float>(spec.fedprox_mu()) : 0.01f;
  }
  o.seed = spec.seed();
  return o;
}

sampling::FeatureSelectorOptions SelectorOptionsForJob(const v1::JobSpec& spec) {
  sampling::FeatureSelectorOptions o;
  const v1::SamplingConfig& s = spec.sampling();
  if (s.rank() > 0) o.subspace.rank = static_cast<int32_t>(s.rank());
  o.rank_at_most_data = s.rank() <= 0;  // the default 30, lowered for a job on fewer cells
  if (s.oversampling() > 0) o.subspace.oversampling = static_cast<int32_t>(s.oversampling());
  if (s.power_iterations() > 0) {
    o.subspace.power_iterations = static_cast<int32_t>(s.power_iterations());
  }
  o.subspace.seed = spec.seed();
  o.refresh_interval = static_cast<int32_t>(s.refresh_every_rounds());
  o.selection.rate = s.rate() > 0 ? s.rate() : 0.2;
  o.selection.method = s.method() == v1::SELECTION_METHOD_SAMPLE ? sampling::SelectionMethod::kSample
                                                                 : sampling::SelectionMethod::kTop;
  o.selection.seed = spec.seed();
  if (s.method() == v1::SELECTION_METHOD_ALL) o.selection.rate = 1.0;
  return o;
}

absl::Status ValidateJobSpec(const v1::JobSpec& spec) {
  if (spec.institutions_size() == 0) {
    return absl::InvalidArgumentError("job: no institutions");
  }
  std::set<std::string> seen;
  for (const v1::InstitutionId& id : spec.institutions()) {
    if (absl::Status valid = pki::ValidateId(id.value()); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("job: institution: ", valid.message()));
    }
    if (!seen.insert(id.value()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("job: institution '", id.value(), "' listed twice"));
    }
  }
  if (spec.reference_peaks().num_peaks() < 2) {
    return absl::InvalidArgumentError("job: reference_peaks.num_peaks must be at least 2");
  }
  if (spec.rounds() < 1) return absl::InvalidArgumentError("job: rounds must be at least 1");
  if (spec.min_clients_per_round() > static_cast<uint32_t>(spec.institutions_size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job: min_clients_per_round ", spec.min_clients_per_round(), " exceeds the ",
        spec.institutions_size(), " institutions"));
  }
  const double rate = spec.sampling().rate();
  if (!(rate >= 0 && rate <= 1)) {
    return absl::InvalidArgumentError("job: sampling.rate must be in [0, 1] (0: default 0.2)");
  }
  const model::VaeConfig config = VaeConfigForJob(spec, 1, /*total_cells=*/0);
  if (absl::Status s = config.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("job: model: ", s.message()));
  }
  return TrainOptionsForJob(spec).Validate();
}

absl::StatusOr<int32_t> InstitutionIndex(const v1::JobSpec& spec, const std::string& institution) {
  for (int i = 0; i < spec.institutions_size(); ++i) {
    if (spec.institutions(i).value() == institution) return i;
  }
  return absl::NotFoundError(absl::StrCat("institution '", institution, "' is not in the job"));
}

}  // namespace flsailer::federation
