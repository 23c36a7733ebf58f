// The torch-free parts of the model API: configuration checks, the parameter layout and the
// per-cell / per-peak statistics the model is fed with.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/model/invariant_vae.h"

namespace flsailer::model {
namespace {

// Keeps every layer size and the total parameter count far from int64 overflow and from sizes
// no machine holds; a checkpoint header claiming more is rejected before anything is allocated.
constexpr int64_t kMaxLayerWidth = int64_t{1} << 24;
constexpr int64_t kMaxParameters = int64_t{1} << 36;
constexpr int32_t kMaxLayers = 16;

absl::Status CheckSizes(const char* name, const std::vector<int32_t>& sizes) {
  if (sizes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " must not be empty"));
  if (sizes.size() > kMaxLayers) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " has ", sizes.size(), " layers; at most ", kMaxLayers));
  }
  for (int32_t s : sizes) {
    if (s <= 0 || s > kMaxLayerWidth) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " sizes must be in [1, ", kMaxLayerWidth, "], got ", s));
    }
  }
  return absl::OkStatus();
}

bool FiniteNonNegative(float v) { return std::isfinite(v) && v >= 0; }

}  // namespace

absl::Status VaeConfig::Validate() const {
  if (input_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("input_dim must be > 0, got ", input_dim));
  }
  if (input_dim > kMaxLayerWidth * 64) {
    return absl::InvalidArgumentError(absl::StrCat("input_dim ", input_dim, " is too large"));
  }
  if (absl::Status s = CheckSizes("encoder_hidden", encoder_hidden); !s.ok()) return s;
  if (absl::Status s = CheckSizes("decoder_hidden", decoder_hidden); !s.ok()) return s;
  if (latent_dim <= 0 || latent_dim > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("latent_dim must be in [1, 4096], got ", latent_dim));
  }
  if (num_batches < 0 || num_batches > 1 << 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_batches must be in [0, 2^20], got ", num_batches));
  }
  if (!std::isfinite(leaky_relu_slope)) {
    return absl::InvalidArgumentError("leaky_relu_slope must be finite");
  }
  if (!std::isfinite(pos_weight) || pos_weight <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("pos_weight must be > 0, got ", pos_weight));
  }
  if (!FiniteNonNegative(mi_lambda)) {
    return absl::InvalidArgumentError(absl::StrCat("mi_lambda must be >= 0, got ", mi_lambda));
  }
  if (!FiniteNonNegative(kl_beta)) {
    return absl::InvalidArgumentError(absl::StrCat("kl_beta must be >= 0, got ", kl_beta));
  }
  if (!std::isfinite(shallow_cell_weight_cap) || shallow_cell_weight_cap < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shallow_cell_weight_cap must be >= 1, got ", shallow_cell_weight_cap));
  }
  switch (input_weighting) {
    case InputWeighting::kBinary:
    case InputWeighting::kIdf:
    case InputWeighting::kTfIdf:
      break;
    default:
      return absl::InvalidArgumentError("unknown input_weighting");
  }
  if (mi_bound != MiBound::kPairwiseKl && mi_bound != MiBound::kMinibatchMixture) {
    return absl::InvalidArgumentError("unknown mi_bound");
  }
  // The two per-peak layers dominate; bound the total so that sizes never overflow.
  const int64_t widest = std::max(encoder_hidden.front(), decoder_hidden.back());
  if (int64_t{input_dim} * (widest + 3) * 2 > kMaxParameters) {
    return absl::InvalidArgumentError(absl::StrCat("model too large: ", input_dim, " peaks x ",
                                                   widest, " hidden units"));
  }
  return absl::OkStatus();
}

absl::Status TrainOptions::Validate() const {
  if (epochs < 0) return absl::InvalidArgumentError(absl::StrCat("epochs must be >= 0"));
  if (batch_size < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 2 (BatchNorm needs two cells), got ", batch_size));
  }
  if (!std::isfinite(learning_rate) || learning_rate <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate must be > 0, got ", learning_rate));
  }
  if (!FiniteNonNegative(weight_decay)) {
    return absl::InvalidArgumentError(absl::StrCat("weight_decay must be >= 0"));
  }
  if (!std::isfinite(lr_decay) || lr_decay <= 0 || lr_decay > 1) {
    return absl::InvalidArgumentError(absl::StrCat("lr_decay must be in (0, 1], got ", lr_decay));
  }
  if (warmup_epochs < 0 || kl_cycle_epochs < 0) {
    return absl::InvalidArgumentError("warmup_epochs and kl_cycle_epochs must be >= 0");
  }
  if (!std::isfinite(input_dropout) || input_dropout < 0 || input_dropout >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_dropout must be in [0, 1), got ", input_dropout));
  }
  if (!std::isfinite(input_dropout_spread) || input_dropout_spread < 0 ||
      input_dropout_spread > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_dropout_spread must be in [0, 1], got ", input_dropout_spread));
  }
  if (optimizer != LocalOptimizer::kAdam && optimizer != LocalOptimizer::kMuonEqR) {
    return absl::InvalidArgumentError("unknown optimizer");
  }
  if (!FiniteNonNegative(fedprox_mu)) {
    return absl::InvalidArgumentError("fedprox_mu must be >= 0");
  }
  if (!std::isfinite(average_last_fraction) || average_last_fraction < 0 ||
      average_last_fraction >= 1) {
    return absl::InvalidArgumentError(absl::StrCat("average_last_fraction must be in [0, 1), got ",
                                                   average_last_fraction));
  }
  if (threads < 1 || threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("threads must be in [1, 1024], got ", threads));
  }
  return absl::OkStatus();
}

int32_t RecommendedEpochs(int64_t cells, int32_t batch_size) {
  constexpr int64_t kSteps = 1200;
  const int64_t steps_per_epoch = std::max<int64_t>(1, cells / std::max(batch_size, 1));
  return static_cast<int32_t>(std::clamp<int64_t>((kSteps + steps_per_epoch - 1) / steps_per_epoch,
                                                  30, 1000));
}

void ScaleConfigForCells(int64_t cells, VaeConfig* config) {
  if (cells <= 0) return;
  // outer: the index of the layer next to the peaks, capped at n units; the others at n / 2.
  auto cap = [cells](std::vector<int32_t>* sizes, size_t outer) {
    for (size_t k = 0; k < sizes->size(); ++k) {
      const int64_t limit = std::max<int64_t>(2, k == outer ? cells : cells / 2);
      (*sizes)[k] = static_cast<int32_t>(std::min<int64_t>((*sizes)[k], limit));
    }
  };
  const bool narrowed = !config->encoder_hidden.empty() && cells < config->encoder_hidden.front();
  if (!config->encoder_hidden.empty()) cap(&config->encoder_hidden, 0);
  if (!config->decoder_hidden.empty()) {
    cap(&config->decoder_hidden, config->decoder_hidden.size() - 1);
  }
  const double ratio = static_cast<double>(config->input_dim) / (8.0 * static_cast<double>(cells));
  if (ratio > 1) {
    config->kl_beta *= static_cast<float>(ratio);
    config->shallow_cell_weight_cap = static_cast<float>(std::sqrt(ratio));
  }
  // Few cells for the network and many peaks per cell: memorisation is the risk. The pairwise
  // bound's cost grows with each cell's distance from the others, so it resists that; the
  // mixture estimate stops at log(minibatch) nats per cell.
  if (ratio > 1 && narrowed) config->mi_bound = MiBound::kPairwiseKl;
}

LogDepthSums SumLogDepths(const std::vector<double>& depths) {
  LogDepthSums sums;
  for (double depth : depths) {
    if (!(depth > 0)) continue;
    const double log_depth = std::log1p(depth);
    sums.cells += 1;
    sums.sum += log_depth;
    sums.sum_of_squares += log_depth * log_depth;
  }
  return sums;
}

LogDepthMoments MomentsOf(const LogDepthSums& sums) {
  LogDepthMoments moments;
  if (!(sums.cells > 0)) return moments;
  moments.mean = sums.sum / sums.cells;
  const double variance = sums.sum_of_squares / sums.cells - moments.mean * moments.mean;
  moments.sd = std::sqrt(std::max(0.0, variance));  // one-pass rounding can dip below 0
  return moments;
}

std::vector<float> StandardisedLogDepth(const std::vector<double>& depths, double mean,
                                        double sd) {
  if (sd <= 0) {
    const LogDepthMoments moments = MomentsOf(SumLogDepths(depths));
    mean = moments.mean;
    sd = moments.sd;
  }
  std::vector<float> out(depths.size(), 0.0f);
  if (sd <= 0) return out;
  for (size_t i = 0; i < depths.size(); ++i) {
    out[i] = static_cast<float>((std::log1p(depths[i]) - mean) / sd);
  }
  return out;
}

std::vector<float> InverseDocumentFrequency(const data::CsrMatrix& counts) {
  std::vector<int64_t> df = counts.ColumnNnz();
  std::vector<float> idf(df.size());
  const double n = static_cast<double>(counts.rows);
  for (size_t j = 0; j < df.size(); ++j) {
    idf[j] = static_cast<float>(std::log1p(n / (1.0 + static_cast<double>(df[j]))));
  }
  return idf;
}

int64_t ParameterLayout::Entry::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const ParameterLayout::Entry* ParameterLayout::Find(const std::string& name) const {
  for (const Entry& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

ParameterLayout LayoutForConfig(const VaeConfig& config) {
  ParameterLayout layout;
  auto add = [&layout](std::string name, std::vector<int64_t> shape, bool buffer) {
    ParameterLayout::Entry e;
    e.name = std::move(name);
    e.shape = std::move(shape);
    e.offset = layout.size;
    e.buffer = buffer;
    layout.size += e.size();
    layout.entries.push_back(std::move(e));
  };
  const int64_t p = config.input_dim;
  auto add_layer = [&](const std::string& prefix, std::vector<int64_t> weight_shape, int64_t out,
                       bool batch_norm) {
    add(prefix + ".weight", std::move(weight_shape), false);
    add(prefix + ".bias", {out}, false);
    if (batch_norm) {
      add(prefix + ".bn.weight", {out}, false);
      add(prefix + ".bn.bias", {out}, false);
    }
  };
  int64_t in = p;
  for (size_t k = 0; k < config.encoder_hidden.size(); ++k) {
    const int64_t out = config.encoder_hidden[k];
    add_layer(absl::StrCat("encoder.", k),
              k == 0 ? std::vector<int64_t>{p, out} : std::vector<int64_t>{out, in}, out, true);
    in = out;
  }
  add_layer("encoder.mu", {config.latent_dim, in}, config.latent_dim, false);
  add_layer("encoder.logvar", {config.latent_dim, in}, config.latent_dim, false);
  in = int64_t{config.latent_dim} + (config.depth_covariate ? 1 : 0) + config.num_batches;
  for (size_t k = 0; k < config.decoder_hidden.size(); ++k) {
    const int64_t out = config.decoder_hidden[k];
    add_layer(absl::StrCat("decoder.", k), {out, in}, out, true);
    in = out;
  }
  add_layer("decoder.out", {p, in}, p, false);
  for (size_t k = 0; k < config.encoder_hidden.size(); ++k) {
    add(absl::StrCat("encoder.", k, ".bn.running_mean"), {config.encoder_hidden[k]}, true);
    add(absl::StrCat("encoder.", k, ".bn.running_var"), {config.encoder_hidden[k]}, true);
  }
  for (size_t k = 0; k < config.decoder_hidden.size(); ++k) {
    add(absl::StrCat("decoder.", k, ".bn.running_mean"), {config.decoder_hidden[k]}, true);
    add(absl::StrCat("decoder.", k, ".bn.running_var"), {config.decoder_hidden[k]}, true);
  }
  add("encoder.input_weight", {p}, true);
  return layout;
}

}  // namespace flsailer::model
