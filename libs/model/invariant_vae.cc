// The invariant VAE in LibTorch. The only translation unit (with muon.cc) that includes LibTorch.
//
// Where the time goes, and how this file spends it. With p peaks and hidden width h next to the
// input/output, a minibatch of B cells costs three B x h x p products in the output layer
// (logits, input gradient, weight gradient) and an Adam pass over the two p x h per-peak layers;
// everything between them is O(B h) small. So:
//   - the first encoder layer is a weighted sum of the weight rows of each cell's open peaks
//     (an embedding bag over the minibatch's CSR entries), written here rather than as a torch op
//     so that its backward pass fuses with the Adam update row by row: the gradient of a peak's
//     row is assembled from the few cells where it is open (a CSC copy of the minibatch) and
//     applied at once, with no p x h gradient buffer ever written;
//   - the output layer's weight gradient is likewise computed in row blocks that stay in cache
//     and are applied by Adam immediately;
//   - the BCE needs no dense target: the loss and gradient are computed as if every peak were
//     closed (vectorised ATen ops on the logits buffer, reused across steps) and then corrected
//     at the open peaks;
//   - the small middle of the network (BatchNorm, activations, heads, KL terms) uses autograd.
// No buffer of p-proportional size is allocated per step (fresh memory is slow on these machines).
#include "libs/model/invariant_vae.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <dlfcn.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/model/checkpoint.h"
#include "libs/model/input_dropout.h"
#include "libs/model/kernels.h"
#include "libs/model/muon.h"
#include "libs/model/open_peak_weights.h"

namespace flsailer::model {
namespace {

using internal::AdamCoefficients;
using internal::AdamUpdate;
using internal::EntryOptimizerState;
using internal::OptimizerKind;

constexpr double kBatchNormMomentum = 0.1;  // torch.nn.BatchNorm1d defaults
constexpr double kBatchNormEps = 1e-5;
constexpr int64_t kOutputBlockRows = 256;   // rows of the output-layer gradient kept in cache
constexpr int64_t kEmbedChunk = 1024;       // cells per inference chunk

// Parallelism comes from OpenBLAS alone (the matrix products are most of the work); LibTorch's
// OpenMP pool is held at one thread and element-wise work runs on the calling thread. Interleaving
// OpenMP regions with OpenBLAS calls left both pools' workers spinning against each other: two
// threads trained 8x slower than one on a 2-core machine. Both thread counts are process-wide;
// OpenBLAS's setter is looked up at run time because libblas.so.3 may be another BLAS.
void SetThreads(int threads) {
  at::set_num_threads(1);
  using SetFn = void (*)(int);
  static const SetFn openblas =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas != nullptr) openblas(threads);
}

uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  // splitmix64 finaliser: decorrelates (seed, epoch) pairs.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Runs `body` and turns any exception (LibTorch's c10::Error included) into a Status, so that
// nothing escapes the API boundary.
template <typename T, typename F>
absl::StatusOr<T> Guarded(const char* what, F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
}

absl::Status GuardedStatus(const char* what, const std::function<absl::Status()>& body) {
  absl::StatusOr<bool> r = Guarded<bool>(what, [&]() -> absl::StatusOr<bool> {
    FLS_RETURN_IF_ERROR(body());
    return true;
  });
  return r.status();
}

double Softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

// ---------------------------------------------------------------------------------------------
// Minibatches streamed from the CSR matrix.

struct Minibatch {
  int64_t size = 0;
  std::vector<int64_t> cells;     // matrix rows
  std::vector<int64_t> offsets;   // size + 1, into peaks/weights
  std::vector<int32_t> peaks;     // open peaks of each cell
  std::vector<float> weights;     // their input weights
  // The same entries grouped by peak (for the first layer's weight gradient).
  std::vector<int32_t> peak_start;  // input_dim + 1
  std::vector<int32_t> by_peak_cell;
  std::vector<float> by_peak_weight;
  // Scratch of the grouping, kept to reuse its memory.
  std::vector<uint8_t> keep;
  std::vector<int32_t> next;
};

// Groups the minibatch's entries by peak (counting sort): the encoder's input. With dropout > 0
// each entry is kept as DrawInputKeep decides (drawn from *rng) and its weight scaled by
// 1 / (1 - dropout); the reconstruction target (offsets/peaks) keeps every entry.
void GroupByPeak(int64_t input_dim, float dropout, float dropout_spread, std::mt19937_64* rng,
                 Minibatch* mb) {
  std::vector<uint8_t>& keep = mb->keep;
  const float scale = internal::DrawInputKeep(mb->offsets, dropout, dropout_spread, rng, &keep);
  mb->peak_start.assign(input_dim + 1, 0);
  for (size_t k = 0; k < keep.size(); ++k) mb->peak_start[mb->peaks[k] + 1] += keep[k];
  for (int64_t j = 0; j < input_dim; ++j) mb->peak_start[j + 1] += mb->peak_start[j];
  mb->by_peak_cell.resize(mb->peak_start[input_dim]);
  mb->by_peak_weight.resize(mb->peak_start[input_dim]);
  std::vector<int32_t>& next = mb->next;
  next.assign(mb->peak_start.begin(), mb->peak_start.end() - 1);
  for (int64_t i = 0; i < mb->size; ++i) {
    for (int64_t k = mb->offsets[i]; k < mb->offsets[i + 1]; ++k) {
      if (!keep[k]) continue;
      const int32_t slot = next[mb->peaks[k]]++;
      mb->by_peak_cell[slot] = static_cast<int32_t>(i);
      mb->by_peak_weight[slot] = mb->weights[k] * scale;
    }
  }
}

// Gathers rows [first, last) of `order` from x, with the input weights of `weighting`, and
// groups them by peak (with input dropout, see GroupByPeak).
void GatherRows(const data::CsrMatrix& x, const std::vector<int64_t>& order, int64_t first,
                int64_t last, InputWeighting weighting, const float* input_weight, float dropout,
                float dropout_spread, std::mt19937_64* rng, Minibatch* mb) {
  mb->size = last - first;
  mb->cells.assign(order.begin() + first, order.begin() + last);
  mb->offsets.assign(1, 0);
  mb->peaks.clear();
  mb->weights.clear();
  for (int64_t cell : mb->cells) {
    const int64_t begin = x.indptr[cell], end = x.indptr[cell + 1];
    const float tf = weighting == InputWeighting::kTfIdf && end > begin
                         ? 1.0f / static_cast<float>(end - begin) : 1.0f;
    for (int64_t k = begin; k < end; ++k) {
      const int32_t j = x.indices[k];
      mb->peaks.push_back(j);
      mb->weights.push_back(weighting == InputWeighting::kBinary ? 1.0f : input_weight[j] * tf);
    }
    mb->offsets.push_back(static_cast<int64_t>(mb->peaks.size()));
  }
  GroupByPeak(x.cols, dropout, dropout_spread, rng, mb);
}

// out[i, :] = sum over open peaks j of cell i of weight_ij * w1[j, :]   (B x h, no bias).
// Peak-major: each weight row the minibatch touches is read once, in order (streaming through
// w1, which is far larger than the caches) and added into the rows of the cells where the peak
// is open (B x h, small enough to stay in cache). Cell-major gathers were 3x slower.
void SparseFirstLayer(const Minibatch& mb, const float* w1, int64_t h, float* out) {
  std::fill(out, out + mb.size * h, 0.0f);
  const int64_t p = static_cast<int64_t>(mb.peak_start.size()) - 1;
  for (int64_t j = 0; j < p; ++j) {
    const int32_t s = mb.peak_start[j], e = mb.peak_start[j + 1];
    if (s == e) continue;
    internal::ScatterWeightedRow(w1 + j * h, h, mb.by_peak_cell.data() + s,
                                 mb.by_peak_weight.data() + s, e - s, out);
  }
}

// BCE with logits, summed over the cells of a minibatch, with the dense target never formed:
// every peak is first treated as closed (loss softplus(l), gradient sigmoid(l)), then the open
// peaks of cell i are corrected (loss w_i * softplus(-l), gradient -w_i * (1 - sigmoid(l))),
// w_i from internal::OpenPeakWeights (pos_weight, raised for shallow cells up to
// shallow_cell_weight_cap). `logits` ([mb.size, p]) is overwritten by the gradient; `scratch` is
// a buffer of the same shape. Returns the summed loss.
double BceInPlace(at::Tensor& logits, at::Tensor& scratch, const Minibatch& mb,
                  const VaeConfig& config) {
  std::vector<float> open_weight;
  internal::OpenPeakWeights(mb.offsets, config.pos_weight, config.shallow_cell_weight_cap,
                            &open_weight);
  at::softplus_out(scratch, logits);
  double loss = scratch.sum(at::kDouble).item<double>();
  const int64_t n = logits.size(0), p = logits.size(1);
  float* l = logits.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = mb.offsets[i]; k < mb.offsets[i + 1]; ++k) {
      const double x = l[i * p + mb.peaks[k]];
      loss += open_weight[i] * Softplus(-x) - Softplus(x);
    }
  }
  at::sigmoid_(logits);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = mb.offsets[i]; k < mb.offsets[i + 1]; ++k) {
      float& g = l[i * p + mb.peaks[k]];
      g = open_weight[i] * (g - 1.0f);
    }
  }
  return loss;
}

// mean over all ordered pairs (i, j) of KL(N(mu_i, var_i) || N(mu_j, var_j)), in O(B^2 d) time
// and O(B^2) memory (matrix products instead of a B x B x d broadcast).
at::Tensor PairwiseKlMean(const at::Tensor& mu, const at::Tensor& logvar) {
  const at::Tensor var = logvar.exp();
  const at::Tensor inv = (-logvar).exp();
  const at::Tensor mu_inv = mu * inv;
  const at::Tensor ratio = at::mm(var, inv.t());                         // var_i / var_j
  const at::Tensor sq = at::mm(mu * mu, inv.t()) - 2 * at::mm(mu, mu_inv.t()) +
                        (mu * mu_inv).sum(1).unsqueeze(0);               // (mu_i - mu_j)^2 / var_j
  const at::Tensor lv = logvar.sum(1);
  const at::Tensor logs = lv.unsqueeze(0) - lv.unsqueeze(1);             // log var_j - log var_i
  return 0.5 * ((ratio + sq + logs).mean() - static_cast<double>(mu.size(1)));
}

// mean over i of log q(z_i|x_i) - log mean_j q(z_i|x_j), z_i being cell i's sample: the
// minibatch-mixture estimate of KL(q(z|x_i) || q(z)). The Gaussian constants cancel, and the
// B x B log densities come from matrix products as above.
at::Tensor MixtureKlMean(const at::Tensor& z, const at::Tensor& mu, const at::Tensor& logvar) {
  const at::Tensor inv = (-logvar).exp();
  const at::Tensor sq = at::mm(z * z, inv.t()) - 2 * at::mm(z, (mu * inv).t()) +
                        (mu * mu * inv).sum(1).unsqueeze(0);  // (z_i - mu_j)^2 / var_j
  const at::Tensor log_density = -0.5 * (sq + logvar.sum(1).unsqueeze(0));  // log q(z_i|x_j)
  return (log_density.diagonal() - at::logsumexp(log_density, 1)).mean() +
         std::log(static_cast<double>(z.size(0)));
}

// ---------------------------------------------------------------------------------------------

class VaeImpl final : public InvariantVae {
 public:
  // A model with allocated, uninitialised parameters.
  static std::unique_ptr<VaeImpl> Allocate(const VaeConfig& config) {
    std::unique_ptr<VaeImpl> m(new VaeImpl(config));
    m->params_ = at::empty({m->layout_.size}, at::kFloat);
    m->BindViews();
    return m;
  }

  void Initialise(uint64_t seed);
  void AllocateOptimizerState() {
    if (first_moment_.defined()) return;
    first_moment_ = at::zeros({layout_.size}, at::kFloat);
    second_moment_ = at::zeros({layout_.size}, at::kFloat);
    opt_state_.assign(layout_.entries.size(), EntryOptimizerState{});
  }

  const VaeConfig& config() const override { return config_; }
  int32_t epochs_trained() const override { return epochs_trained_; }

  absl::StatusOr<TrainReport> Train(const data::CsrMatrix& x, const Covariates& covariates,
                                    const TrainOptions& options) override {
    return Guarded<TrainReport>("Train", [&] { return TrainImpl(x, covariates, options); });
  }
  absl::StatusOr<data::DenseMatrix> Embed(const data::CsrMatrix& x,
                                          int32_t threads) const override {
    return Guarded<data::DenseMatrix>("Embed", [&] { return EmbedImpl(x, threads); });
  }
  absl::StatusOr<double> ReconstructionLoss(const data::CsrMatrix& x,
                                            const Covariates& covariates,
                                            int32_t threads) const override {
    return Guarded<double>("ReconstructionLoss",
                           [&] { return ReconstructionImpl(x, covariates, threads); });
  }

  const ParameterLayout& Layout() const override { return layout_; }
  std::vector<float> GetParameters() const override {
    const float* p = params_.data_ptr<float>();
    return std::vector<float>(p, p + layout_.size);
  }
  absl::Status SetParameters(const std::vector<float>& flat) override;
  absl::Status SetInputWeights(const std::vector<float>& weights) override;
  absl::Status RemapInputFeatures(const std::vector<int32_t>& new_to_old, uint64_t seed) override;
  absl::Status SaveCheckpoint(const std::string& path) const override;

  // For LoadCheckpoint: the destinations of a checkpoint's arrays.
  internal::CheckpointArrays MutableArrays() {
    internal::CheckpointArrays a;
    a.params = params_.data_ptr<float>();
    if (first_moment_.defined()) {
      a.first_moment = first_moment_.data_ptr<float>();
      a.second_moment = second_moment_.data_ptr<float>();
    }
    return a;
  }
  void RestoreTrainingState(const internal::CheckpointHeader& h) {
    epochs_trained_ = h.epochs_trained;
    if (!h.optimizer.empty()) opt_state_ = h.optimizer;
  }

 private:
  // Indices into layout_.entries of one layer's tensors (-1: absent).
  struct Layer {
    int w = -1, b = -1, gamma = -1, beta = -1, mean = -1, var = -1;
  };

  explicit VaeImpl(const VaeConfig& config)
      : config_(config), layout_(LayoutForConfig(config)) {}

  int Index(const std::string& name) const {
    for (size_t k = 0; k < layout_.entries.size(); ++k) {
      if (layout_.entries[k].name == name) return static_cast<int>(k);
    }
    return -1;
  }
  Layer FindLayer(const std::string& prefix, bool batch_norm) const {
    Layer l;
    l.w = Index(prefix + ".weight");
    l.b = Index(prefix + ".bias");
    if (batch_norm) {
      l.gamma = Index(prefix + ".bn.weight");
      l.beta = Index(prefix + ".bn.bias");
      l.mean = Index(prefix + ".bn.running_mean");
      l.var = Index(prefix + ".bn.running_var");
    }
    return l;
  }
  void BindViews();
  const at::Tensor& V(int k) const { return views_[k]; }
  float* Data(int k) const { return params_.data_ptr<float>() + layout_.entries[k].offset; }

  absl::Status CheckData(const data::CsrMatrix& x, const Covariates* covariates) const;
  at::Tensor CovariateBlock(const Covariates& cov, const std::vector<int64_t>& cells,
                            int64_t first, int64_t n) const;
  at::Tensor HiddenLayer(const at::Tensor& in, const Layer& l, bool training) const {
    const at::Tensor y = at::linear(in, V(l.w), V(l.b));
    return at::leaky_relu(at::batch_norm(y, V(l.gamma), V(l.beta), V(l.mean), V(l.var), training,
                                         kBatchNormMomentum, kBatchNormEps, false),
                          config_.leaky_relu_slope);
  }
  // Encoder from the first layer's sparse product (B x h0, bias not yet added) to (mu, logvar).
  std::pair<at::Tensor, at::Tensor> EncodeFrom(const at::Tensor& first, bool training) const;
  // Decoder up to the last hidden activation.
  at::Tensor DecodeHidden(const at::Tensor& z, const at::Tensor& covariates, bool training) const;
  at::Tensor SparseProduct(const Minibatch& mb) const {
    const int64_t h = config_.encoder_hidden.front();
    at::Tensor out = at::empty({mb.size, h}, at::kFloat);
    SparseFirstLayer(mb, Data(encoder_[0].w), h, out.data_ptr<float>());
    return out;
  }

  // Buffers of one Train() call, reused by every step.
  struct Workspace {
    Minibatch mb;
    at::Tensor logits;           // [max batch, input_dim]: logits, then their gradient
    at::Tensor scratch;          // same shape
    at::Tensor block_grad;       // [kOutputBlockRows, decoder_hidden.back()]
    at::Tensor block_bias_grad;  // [kOutputBlockRows]
    at::Tensor start;            // parameters at entry, for FedProx (else undefined)
    // bf16_output_products only: the output weights in bfloat16 (kept in step with the float32
    // ones), this step's hidden layer and logit gradient in bfloat16, a block of weight gradient.
    at::Tensor out_w16, hidden16, grad16, block_grad16;
  };
  struct StepLoss {
    double total = 0;           // per cell
    double reconstruction = 0;  // BCE per cell
  };
  const float* StartOf(const Workspace& ws, int k) const {
    return ws.start.defined() ? ws.start.data_ptr<float>() + layout_.entries[k].offset : nullptr;
  }

  absl::StatusOr<TrainReport> TrainImpl(const data::CsrMatrix& x, const Covariates& cov,
                                        const TrainOptions& options);
  // One minibatch (ws->mb): forward, loss, backward, updates. Updates nothing when the loss is
  // not finite.
  StepLoss TrainStep(const Covariates& cov, double kl_w, float lr, const TrainOptions& options,
                     at::Generator& noise, Workspace* ws);
  void UpdateOutputLayer(const at::Tensor& grad_logits, const at::Tensor& hidden, float scale,
                         float lr, const TrainOptions& options, Workspace* ws);
  void UpdateFirstLayer(const at::Tensor& grad_h0, float lr, const TrainOptions& options,
                        const Workspace& ws);
  void UpdateHiddenLayers(float lr, const TrainOptions& options, const Workspace& ws);
  absl::StatusOr<data::DenseMatrix> EmbedImpl(const data::CsrMatrix& x, int32_t threads) const;
  absl::StatusOr<double> ReconstructionImpl(const data::CsrMatrix& x, const Covariates& cov,
                                            int32_t threads) const;

  // Optimizer helpers for one layout entry.
  AdamCoefficients NextAdamStep(int k, OptimizerKind kind, float lr, float wd, float grad_scale,
                                float prox_mu);
  float* Moment(const at::Tensor& t, int k) const {
    return t.data_ptr<float>() + layout_.entries[k].offset;
  }

  VaeConfig config_;
  ParameterLayout layout_;
  at::Tensor params_;                     // layout_.size floats; views_ alias it
  std::vector<at::Tensor> views_;         // one per layout entry, shaped
  at::Tensor first_moment_, second_moment_;  // like params_; undefined until the first Train()
  std::vector<EntryOptimizerState> opt_state_;
  int32_t epochs_trained_ = 0;

  std::vector<Layer> encoder_;            // [0] is the sparse first layer
  Layer mu_, logvar_;
  std::vector<Layer> decoder_;
  Layer out_;
  int input_weight_ = -1;
  std::vector<bool> autograd_;            // entries whose gradient autograd computes
  std::vector<bool> muon_eligible_;       // hidden matrix weights
};

void VaeImpl::BindViews() {
  views_.clear();
  for (const ParameterLayout::Entry& e : layout_.entries) {
    views_.push_back(params_.narrow(0, e.offset, e.size()).view(e.shape));
  }
  encoder_.clear();
  decoder_.clear();
  for (size_t k = 0; k < config_.encoder_hidden.size(); ++k) {
    encoder_.push_back(FindLayer(absl::StrCat("encoder.", k), true));
  }
  mu_ = FindLayer("encoder.mu", false);
  logvar_ = FindLayer("encoder.logvar", false);
  for (size_t k = 0; k < config_.decoder_hidden.size(); ++k) {
    decoder_.push_back(FindLayer(absl::StrCat("decoder.", k), true));
  }
  out_ = FindLayer("decoder.out", false);
  input_weight_ = Index("encoder.input_weight");

  autograd_.assign(layout_.entries.size(), false);
  muon_eligible_.assign(layout_.entries.size(), false);
  for (size_t k = 0; k < layout_.entries.size(); ++k) {
    const int i = static_cast<int>(k);
    if (layout_.entries[k].buffer || i == encoder_[0].w || i == out_.w || i == out_.b) continue;
    autograd_[k] = true;
    views_[k].set_requires_grad(true);
  }
  for (size_t k = 1; k < encoder_.size(); ++k) muon_eligible_[encoder_[k].w] = true;
  for (const Layer& l : decoder_) muon_eligible_[l.w] = true;
}

void VaeImpl::Initialise(uint64_t seed) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // torch.nn.Linear's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto init_linear = [&](const Layer& l, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    views_[l.w].uniform_(-bound, bound, gen);
    views_[l.b].uniform_(-bound, bound, gen);
  };
  auto init_bn = [&](const Layer& l) {
    views_[l.gamma].fill_(1);
    views_[l.beta].fill_(0);
    views_[l.mean].fill_(0);
    views_[l.var].fill_(1);
  };
  init_linear(encoder_[0], config_.input_dim);
  init_bn(encoder_[0]);
  for (size_t k = 1; k < encoder_.size(); ++k) {
    init_linear(encoder_[k], config_.encoder_hidden[k - 1]);
    init_bn(encoder_[k]);
  }
  init_linear(mu_, config_.encoder_hidden.back());
  init_linear(logvar_, config_.encoder_hidden.back());
  for (size_t k = 0; k < decoder_.size(); ++k) {
    init_linear(decoder_[k], layout_.entries[decoder_[k].w].shape[1]);
    init_bn(decoder_[k]);
  }
  init_linear(out_, config_.decoder_hidden.back());
  views_[input_weight_].fill_(1);
}

absl::Status VaeImpl::CheckData(const data::CsrMatrix& x, const Covariates* cov) const {
  if (x.cols != config_.input_dim) {
    return absl::InvalidArgumentError(absl::StrCat("the data has ", x.cols,
                                                   " peaks but the model expects ",
                                                   config_.input_dim));
  }
  if (x.rows == 0) return absl::InvalidArgumentError("the data has no cells");
  if (absl::Status s = x.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid matrix: ", s.message()));
  }
  if (cov == nullptr) return absl::OkStatus();
  if (config_.num_batches == 0) {
    if (!cov->batch.empty()) {
      return absl::InvalidArgumentError("batch covariate given but the model has num_batches 0");
    }
  } else {
    if (static_cast<int64_t>(cov->batch.size()) != x.rows) {
      return absl::InvalidArgumentError(absl::StrCat("batch covariate has ", cov->batch.size(),
                                                     " entries for ", x.rows, " cells"));
    }
    for (size_t i = 0; i < cov->batch.size(); ++i) {
      if (cov->batch[i] < 0 || cov->batch[i] >= config_.num_batches) {
        return absl::InvalidArgumentError(absl::StrCat("batch index ", cov->batch[i], " of cell ",
                                                       i, " is outside [0, ",
                                                       config_.num_batches, ")"));
      }
    }
  }
  if (!config_.depth_covariate) {
    if (!cov->log_depth.empty()) {
      return absl::InvalidArgumentError("depth covariate given but the model does not use one");
    }
  } else {
    if (static_cast<int64_t>(cov->log_depth.size()) != x.rows) {
      return absl::InvalidArgumentError(absl::StrCat("depth covariate has ",
                                                     cov->log_depth.size(), " entries for ",
                                                     x.rows, " cells"));
    }
    for (size_t i = 0; i < cov->log_depth.size(); ++i) {
      if (!std::isfinite(cov->log_depth[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("depth covariate of cell ", i, " is not finite"));
      }
    }
  }
  return absl::OkStatus();
}

// [depth, one-hot batch] of cells[first, first + n), or an undefined tensor when the decoder
// has no covariates.
at::Tensor VaeImpl::CovariateBlock(const Covariates& cov, const std::vector<int64_t>& cells,
                                   int64_t first, int64_t n) const {
  const int64_t width = (config_.depth_covariate ? 1 : 0) + config_.num_batches;
  if (width == 0) return at::Tensor();
  at::Tensor out = at::zeros({n, width}, at::kFloat);
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cell = cells[first + i];
    int64_t col = 0;
    if (config_.depth_covariate) o[i * width + col++] = cov.log_depth[cell];
    if (config_.num_batches > 0) o[i * width + col + cov.batch[cell]] = 1.0f;
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> VaeImpl::EncodeFrom(const at::Tensor& first,
                                                      bool training) const {
  const Layer& l0 = encoder_[0];
  at::Tensor a = at::leaky_relu(at::batch_norm(first + V(l0.b), V(l0.gamma), V(l0.beta),
                                               V(l0.mean), V(l0.var), training,
                                               kBatchNormMomentum, kBatchNormEps, false),
                                config_.leaky_relu_slope);
  for (size_t k = 1; k < encoder_.size(); ++k) a = HiddenLayer(a, encoder_[k], training);
  return {at::linear(a, V(mu_.w), V(mu_.b)), at::linear(a, V(logvar_.w), V(logvar_.b))};
}

at::Tensor VaeImpl::DecodeHidden(const at::Tensor& z, const at::Tensor& covariates,
                                 bool training) const {
  at::Tensor a = covariates.defined() ? at::cat({z, covariates}, 1) : z;
  for (const Layer& l : decoder_) a = HiddenLayer(a, l, training);
  return a;
}

AdamCoefficients VaeImpl::NextAdamStep(int k, OptimizerKind kind, float lr, float wd,
                                       float grad_scale, float prox_mu) {
  EntryOptimizerState& s = opt_state_[k];
  if (s.kind != kind) {
    // Moments of another optimizer (or none) mean nothing here: start afresh.
    const ParameterLayout::Entry& e = layout_.entries[k];
    first_moment_.narrow(0, e.offset, e.size()).zero_();
    second_moment_.narrow(0, e.offset, e.size()).zero_();
    s.kind = kind;
    s.step = 0;
  }
  ++s.step;
  return internal::MakeAdam(lr, wd, s.step, grad_scale, prox_mu);
}

// kl_w of minibatch `b` of `batches` in global epoch `epoch` (see TrainOptions).
double KlWeight(int32_t epoch, int64_t b, int64_t batches, const TrainOptions& options) {
  if (epoch < options.warmup_epochs) return 0;
  if (options.kl_cycle_epochs == 0) return 1;
  const double t = (epoch - options.warmup_epochs) +
                   static_cast<double>(b) / static_cast<double>(batches);
  const double phase = std::fmod(t, options.kl_cycle_epochs) / options.kl_cycle_epochs;
  return std::min(1.0, 2.0 * phase);
}

absl::StatusOr<TrainReport> VaeImpl::TrainImpl(const data::CsrMatrix& x, const Covariates& cov,
                                               const TrainOptions& options) {
  FLS_RETURN_IF_ERROR(options.Validate());
  FLS_RETURN_IF_ERROR(CheckData(x, &cov));
  // A cell with no open peak gives the encoder nothing to read; trained on, it only teaches the
  // model where an empty profile goes, which moves the shallowest real cells there (one such cell
  // added to buenrostro2015's 50 took ARI from 0.92 to 0.64; left out, 0.85, the empty cell
  // itself being the one more misplaced). Embed() still places it.
  std::vector<int64_t> cells;
  cells.reserve(static_cast<size_t>(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) {
    if (x.indptr[i + 1] > x.indptr[i]) cells.push_back(i);
  }
  if (cells.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training needs at least 2 cells with an open peak (BatchNorm); ", cells.size(), " of ",
        x.rows, " have one"));
  }
  TrainReport report;
  report.cells_left_out = x.rows - static_cast<int64_t>(cells.size());
  if (options.epochs == 0) return report;
  SetThreads(options.threads);
  AllocateOptimizerState();
  const auto start_time = std::chrono::steady_clock::now();

  const int64_t n = static_cast<int64_t>(cells.size());
  const int64_t batches = std::max<int64_t>(1, n / options.batch_size);
  const int32_t first_epoch = options.first_epoch >= 0 ? options.first_epoch : epochs_trained_;
  Workspace ws;
  const int64_t max_batch = (n + batches - 1) / batches;
  ws.logits = at::empty({max_batch, config_.input_dim}, at::kFloat);
  ws.scratch = at::empty({max_batch, config_.input_dim}, at::kFloat);
  ws.block_grad = at::empty({kOutputBlockRows, config_.decoder_hidden.back()}, at::kFloat);
  ws.block_bias_grad = at::empty({kOutputBlockRows}, at::kFloat);
  if (options.fedprox_mu > 0) ws.start = params_.clone();
  if (options.bf16_output_products) {
    ws.out_w16 = V(out_.w).to(at::kBFloat16);
    ws.block_grad16 = at::empty({kOutputBlockRows, config_.decoder_hidden.back()}, at::kBFloat16);
  }

  std::vector<int64_t> order;
  // Tail averaging: the running mean of the parameters after each step from average_from on.
  const int64_t steps = int64_t{options.epochs} * batches;
  const int64_t average_from =
      steps - static_cast<int64_t>(std::ceil(options.average_last_fraction * steps));
  at::Tensor average;
  int64_t averaged = 0, step = 0;
  double epoch_loss = 0, epoch_bce = 0;
  for (int32_t epoch = 0; epoch < options.epochs; ++epoch) {
    const int32_t global_epoch = first_epoch + epoch;
    std::mt19937_64 rng(MixSeed(options.seed, static_cast<uint64_t>(global_epoch)));
    at::Generator noise = at::make_generator<at::CPUGeneratorImpl>(
        MixSeed(options.seed ^ 0x5eed, static_cast<uint64_t>(global_epoch)));
    order = cells;
    for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates: the same order on every platform
      std::swap(order[i], order[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
    }
    const float lr = options.learning_rate *
                     static_cast<float>(std::pow(double{options.lr_decay}, global_epoch));
    epoch_loss = 0;
    epoch_bce = 0;
    int64_t first = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t size = n / batches + (b < n % batches ? 1 : 0);
      GatherRows(x, order, first, first + size, config_.input_weighting, Data(input_weight_),
                 options.input_dropout, options.input_dropout_spread, &rng, &ws.mb);
      first += size;
      const StepLoss loss =
          TrainStep(cov, KlWeight(global_epoch, b, batches, options), lr, options, noise, &ws);
      if (!std::isfinite(loss.total)) {
        return absl::InternalError(absl::StrCat(
            "the loss became ", std::isnan(loss.total) ? "NaN" : "infinite", " in epoch ",
            global_epoch, " (minibatch ", b, "); lower the learning rate"));
      }
      if (step++ >= average_from) {
        if (!average.defined()) average = at::zeros_like(params_);
        average.lerp_(params_, 1.0 / static_cast<double>(++averaged));  // in place, no copy
      }
      epoch_loss += loss.total * static_cast<double>(size);
      epoch_bce += loss.reconstruction * static_cast<double>(size);
    }
    epoch_loss /= static_cast<double>(n);
    epoch_bce /= static_cast<double>(n);
    epochs_trained_ = global_epoch + 1;
    report.epochs_run = epoch + 1;
    if (options.on_epoch) options.on_epoch(epoch, options.epochs, epoch_loss);
  }
  if (averaged > 0) params_.copy_(average);
  report.final_loss = epoch_loss;
  report.final_reconstruction = epoch_bce;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  report.cells_per_second =
      report.seconds > 0 ? static_cast<double>(n) * report.epochs_run / report.seconds : 0;
  return report;
}

VaeImpl::StepLoss VaeImpl::TrainStep(const Covariates& cov, double kl_w, float lr,
                                     const TrainOptions& options, at::Generator& noise,
                                     Workspace* ws) {
  const Minibatch& mb = ws->mb;
  const int64_t size = mb.size;
  const float lambda = config_.mi_lambda;
  StepLoss loss;

  // Forward through the small middle with autograd.
  at::Tensor h0 = SparseProduct(mb);
  h0.set_requires_grad(true);
  auto [mu, logvar] = EncodeFrom(h0, /*training=*/true);
  const at::Tensor eps = at::randn({size, config_.latent_dim}, noise, at::kFloat);
  const at::Tensor z = mu + eps * (0.5 * logvar).exp();
  const at::Tensor hidden = DecodeHidden(z, CovariateBlock(cov, mb.cells, 0, size), true);
  at::Tensor regulariser;
  double kl_value = 0, mi_value = 0;
  if (kl_w > 0) {
    const at::Tensor kl = 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum(1).mean();
    const at::Tensor mi = config_.mi_bound == MiBound::kPairwiseKl ? PairwiseKlMean(mu, logvar)
                                                                    : MixtureKlMean(z, mu, logvar);
    const double w = config_.kl_beta * kl_w;
    regulariser = w * kl + (lambda * w) * mi;
    kl_value = kl.item<double>();
    mi_value = mi.item<double>();
  }

  // Output layer and reconstruction loss by hand.
  at::NoGradGuard no_grad;
  const at::Tensor hid = hidden.detach();
  at::Tensor grad_logits = ws->logits.narrow(0, 0, size);
  at::Tensor scratch = ws->scratch.narrow(0, 0, size);
  const bool bf16 = ws->out_w16.defined();  // options.bf16_output_products
  if (bf16) {
    ws->hidden16 = hid.to(at::kBFloat16);
    grad_logits.copy_(at::mm(ws->hidden16, ws->out_w16.t())).add_(V(out_.b));
  } else {
    at::addmm_out(grad_logits, V(out_.b), hid, V(out_.w).t());
  }
  loss.reconstruction =
      BceInPlace(grad_logits, scratch, mb, config_) / static_cast<double>(size);
  const double w = config_.kl_beta * kl_w;
  loss.total = w * kl_value + (1 + lambda) * loss.reconstruction + lambda * w * mi_value;
  if (!std::isfinite(loss.total)) return loss;  // nothing is updated

  // Backward: the output layer's input gradient first (before its weights change), then
  // autograd through the middle, then every update. d loss / d logits = scale * grad_logits.
  const float scale = (1 + lambda) / static_cast<float>(size);
  if (bf16) ws->grad16 = grad_logits.to(at::kBFloat16);
  const at::Tensor grad_hidden = bf16 ? at::mm(ws->grad16, ws->out_w16).to(at::kFloat).mul_(scale)
                                      : at::mm(grad_logits, V(out_.w)).mul_(scale);
  {
    at::AutoGradMode enable(true);
    if (regulariser.defined()) {
      torch::autograd::backward({hidden, regulariser}, {grad_hidden, at::ones_like(regulariser)});
    } else {
      torch::autograd::backward({hidden}, {grad_hidden});
    }
  }
  UpdateOutputLayer(grad_logits, hid, scale, lr, options, ws);
  UpdateFirstLayer(h0.grad(), lr, options, *ws);
  UpdateHiddenLayers(lr, options, *ws);
  return loss;
}

// Output layer: the weight gradient in row blocks, each applied by Adam while in cache.
void VaeImpl::UpdateOutputLayer(const at::Tensor& grad_logits, const at::Tensor& hidden,
                                float scale, float lr, const TrainOptions& options,
                                Workspace* ws) {
  const int64_t p = config_.input_dim, h = hidden.size(1);
  const AdamCoefficients cw =
      NextAdamStep(out_.w, OptimizerKind::kAdam, lr, options.weight_decay, scale,
                   options.fedprox_mu);
  const AdamCoefficients cb =
      NextAdamStep(out_.b, OptimizerKind::kAdam, lr, options.weight_decay, scale,
                   options.fedprox_mu);
  float* w = Data(out_.w);
  float* bias = Data(out_.b);
  const float* w_start = StartOf(*ws, out_.w);
  const float* b_start = StartOf(*ws, out_.b);
  const bool bf16 = ws->out_w16.defined();  // options.bf16_output_products
  for (int64_t r0 = 0; r0 < p; r0 += kOutputBlockRows) {
    const int64_t rows = std::min(kOutputBlockRows, p - r0);
    const at::Tensor g_block = grad_logits.narrow(1, r0, rows);
    at::Tensor gw = ws->block_grad.narrow(0, 0, rows);
    at::Tensor gb = ws->block_bias_grad.narrow(0, 0, rows);
    if (bf16) {
      at::Tensor gw16 = ws->block_grad16.narrow(0, 0, rows);
      at::mm_out(gw16, ws->grad16.narrow(1, r0, rows).t(), ws->hidden16);
      gw.copy_(gw16);
    } else {
      at::mm_out(gw, g_block.t(), hidden);
    }
    at::sum_out(gb, g_block, {0});
    const int64_t off = r0 * h;
    AdamUpdate(w + off, gw.data_ptr<float>(), Moment(first_moment_, out_.w) + off,
               Moment(second_moment_, out_.w) + off,
               w_start == nullptr ? nullptr : w_start + off, rows * h, cw);
    AdamUpdate(bias + r0, gb.data_ptr<float>(), Moment(first_moment_, out_.b) + r0,
               Moment(second_moment_, out_.b) + r0,
               b_start == nullptr ? nullptr : b_start + r0, rows, cb);
    if (bf16) {  // the updated rows, while in cache
      ws->out_w16.narrow(0, r0, rows).copy_(V(out_.w).narrow(0, r0, rows));
    }
  }
}

// First layer: each peak's row gradient assembled from the cells where it is open and applied
// at once; rows of peaks closed in the whole minibatch get a zero-gradient Adam step (momentum
// and weight decay still act), exactly as a dense gradient would give them.
void VaeImpl::UpdateFirstLayer(const at::Tensor& grad_h0, float lr, const TrainOptions& options,
                               const Workspace& ws) {
  const Minibatch& mb = ws.mb;
  const int k = encoder_[0].w;
  const int64_t p = config_.input_dim, h = grad_h0.size(1);
  const AdamCoefficients c =
      NextAdamStep(k, OptimizerKind::kAdam, lr, options.weight_decay, 1.0f, options.fedprox_mu);
  const float* gh = grad_h0.data_ptr<float>();
  float* w = Data(k);
  float* m1 = Moment(first_moment_, k);
  float* m2 = Moment(second_moment_, k);
  const float* w_start = StartOf(ws, k);
  std::vector<float> row_grad(h);
  for (int64_t j = 0; j < p; ++j) {
    const int64_t off = j * h;
    const float* row_start = w_start == nullptr ? nullptr : w_start + off;
    const int32_t s = mb.peak_start[j], e = mb.peak_start[j + 1];
    if (s == e) {
      AdamUpdate(w + off, nullptr, m1 + off, m2 + off, row_start, h, c);
      continue;
    }
    std::fill(row_grad.begin(), row_grad.end(), 0.0f);
    internal::AddWeightedRows(gh, h, mb.by_peak_cell.data() + s, mb.by_peak_weight.data() + s,
                              e - s, row_grad.data());
    AdamUpdate(w + off, row_grad.data(), m1 + off, m2 + off, row_start, h, c);
  }
}

// The parameters autograd saw: MuonEq-R for hidden matrices if asked, Adam for the rest.
void VaeImpl::UpdateHiddenLayers(float lr, const TrainOptions& options, const Workspace& ws) {
  const bool use_muon = options.optimizer == LocalOptimizer::kMuonEqR;
  for (size_t k = 0; k < layout_.entries.size(); ++k) {
    if (!autograd_[k]) continue;
    const int i = static_cast<int>(k);
    const ParameterLayout::Entry& e = layout_.entries[k];
    at::Tensor& param = views_[k];
    at::Tensor grad = param.grad().defined() ? param.grad() : at::zeros_like(param);
    if (ws.start.defined()) {
      grad = grad + options.fedprox_mu *
                        (param - ws.start.narrow(0, e.offset, e.size()).view(param.sizes()));
    }
    grad = grad.contiguous();
    if (use_muon && muon_eligible_[k]) {
      if (opt_state_[k].kind != OptimizerKind::kMuon) {
        first_moment_.narrow(0, e.offset, e.size()).zero_();
        opt_state_[k] = {OptimizerKind::kMuon, 0};
      }
      ++opt_state_[k].step;
      MuonEqRStep(Data(i), grad.data_ptr<float>(), Moment(first_moment_, i), e.shape[0],
                  e.shape[1], lr, options.weight_decay);
    } else {
      const AdamCoefficients c =
          NextAdamStep(i, OptimizerKind::kAdam, lr, options.weight_decay, 1.0f, 0.0f);
      AdamUpdate(Data(i), grad.data_ptr<float>(), Moment(first_moment_, i),
                 Moment(second_moment_, i), nullptr, e.size(), c);
    }
    param.mutable_grad().reset();
  }
}

absl::StatusOr<data::DenseMatrix> VaeImpl::EmbedImpl(const data::CsrMatrix& x,
                                                     int32_t threads) const {
  if (threads < 1) return absl::InvalidArgumentError("threads must be >= 1");
  FLS_RETURN_IF_ERROR(CheckData(x, nullptr));
  SetThreads(threads);
  at::NoGradGuard no_grad;
  data::DenseMatrix out;
  out.rows = x.rows;
  out.cols = config_.latent_dim;
  out.data.resize(static_cast<size_t>(out.rows * out.cols));
  std::vector<int64_t> order(x.rows);
  for (int64_t i = 0; i < x.rows; ++i) order[i] = i;
  Minibatch mb;
  for (int64_t first = 0; first < x.rows; first += kEmbedChunk) {
    const int64_t last = std::min(x.rows, first + kEmbedChunk);
    GatherRows(x, order, first, last, config_.input_weighting, Data(input_weight_), 0, 0, nullptr,
               &mb);
    const at::Tensor mu = EncodeFrom(SparseProduct(mb), /*training=*/false).first.contiguous();
    std::memcpy(out.data.data() + first * out.cols, mu.data_ptr<float>(),
                sizeof(float) * static_cast<size_t>((last - first) * out.cols));
  }
  return out;
}

absl::StatusOr<double> VaeImpl::ReconstructionImpl(const data::CsrMatrix& x,
                                                   const Covariates& cov,
                                                   int32_t threads) const {
  if (threads < 1) return absl::InvalidArgumentError("threads must be >= 1");
  FLS_RETURN_IF_ERROR(CheckData(x, &cov));
  SetThreads(threads);
  at::NoGradGuard no_grad;
  const int64_t p = config_.input_dim;
  // Chunks keep the logits buffer near 16 MiB whatever the number of peaks.
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 22) / p, 1, 256);
  at::Tensor logits_buffer = at::empty({chunk, p}, at::kFloat);
  at::Tensor scratch_buffer = at::empty({chunk, p}, at::kFloat);
  std::vector<int64_t> order(x.rows);
  for (int64_t i = 0; i < x.rows; ++i) order[i] = i;
  Minibatch mb;
  double total = 0;
  for (int64_t first = 0; first < x.rows; first += chunk) {
    const int64_t last = std::min(x.rows, first + chunk);
    GatherRows(x, order, first, last, config_.input_weighting, Data(input_weight_), 0, 0, nullptr,
               &mb);
    const at::Tensor mu = EncodeFrom(SparseProduct(mb), false).first;
    const at::Tensor hidden = DecodeHidden(mu, CovariateBlock(cov, mb.cells, 0, mb.size), false);
    at::Tensor logits = logits_buffer.narrow(0, 0, mb.size);
    at::Tensor scratch = scratch_buffer.narrow(0, 0, mb.size);
    at::addmm_out(logits, V(out_.b), hidden, V(out_.w).t());
    total += BceInPlace(logits, scratch, mb, config_);
  }
  return total / static_cast<double>(x.rows);
}

absl::Status VaeImpl::SetParameters(const std::vector<float>& flat) {
  if (static_cast<int64_t>(flat.size()) != layout_.size) {
    return absl::InvalidArgumentError(absl::StrCat("parameter vector has ", flat.size(),
                                                   " values, the layout has ", layout_.size));
  }
  for (size_t i = 0; i < flat.size(); ++i) {
    if (!std::isfinite(flat[i])) {
      return absl::InvalidArgumentError(absl::StrCat("parameter ", i, " is not finite"));
    }
  }
  std::memcpy(params_.data_ptr<float>(), flat.data(), flat.size() * sizeof(float));
  return absl::OkStatus();
}

absl::Status VaeImpl::SetInputWeights(const std::vector<float>& weights) {
  if (static_cast<int64_t>(weights.size()) != config_.input_dim) {
    return absl::InvalidArgumentError(absl::StrCat("got ", weights.size(),
                                                   " input weights for ", config_.input_dim,
                                                   " peaks"));
  }
  for (size_t j = 0; j < weights.size(); ++j) {
    if (!std::isfinite(weights[j]) || weights[j] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("input weight ", j, " is negative or not finite"));
    }
  }
  std::memcpy(Data(input_weight_), weights.data(), weights.size() * sizeof(float));
  return absl::OkStatus();
}

absl::Status VaeImpl::RemapInputFeatures(const std::vector<int32_t>& new_to_old, uint64_t seed) {
  const int64_t old_p = config_.input_dim;
  if (new_to_old.empty()) return absl::InvalidArgumentError("the new peak set is empty");
  if (new_to_old.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("the new peak set is too large");
  }
  std::vector<bool> seen(old_p, false);
  for (size_t j = 0; j < new_to_old.size(); ++j) {
    const int32_t o = new_to_old[j];
    if (o < -1 || o >= old_p) {
      return absl::InvalidArgumentError(absl::StrCat("new peak ", j, " maps to old peak ", o,
                                                     ", outside [-1, ", old_p, ")"));
    }
    if (o >= 0) {
      if (seen[o]) {
        return absl::InvalidArgumentError(
            absl::StrCat("old peak ", o, " appears twice in the new peak set"));
      }
      seen[o] = true;
    }
  }
  VaeConfig config = config_;
  config.input_dim = static_cast<int32_t>(new_to_old.size());
  FLS_RETURN_IF_ERROR(config.Validate());
  return GuardedStatus("RemapInputFeatures", [&]() -> absl::Status {
    at::NoGradGuard no_grad;
    std::unique_ptr<VaeImpl> fresh = Allocate(config);
    fresh->Initialise(seed);  // supplies the rows of new peaks
    const bool has_state = first_moment_.defined();
    if (has_state) fresh->AllocateOptimizerState();
    const int64_t p = config.input_dim;
    for (size_t k = 0; k < layout_.entries.size(); ++k) {
      const ParameterLayout::Entry& old_entry = layout_.entries[k];
      const ParameterLayout::Entry& new_entry = fresh->layout_.entries[k];
      const int i = static_cast<int>(k);
      const bool per_peak =
          i == encoder_[0].w || i == out_.w || i == out_.b || i == input_weight_;
      if (!per_peak) {
        fresh->views_[k].copy_(views_[k]);
        if (has_state) {
          fresh->first_moment_.narrow(0, new_entry.offset, new_entry.size())
              .copy_(first_moment_.narrow(0, old_entry.offset, old_entry.size()));
          fresh->second_moment_.narrow(0, new_entry.offset, new_entry.size())
              .copy_(second_moment_.narrow(0, old_entry.offset, old_entry.size()));
          fresh->opt_state_[k] = opt_state_[k];
        }
        continue;
      }
      const int64_t width = old_entry.size() / old_p;
      const float* src = Data(i);
      float* dst = fresh->Data(i);
      for (int64_t j = 0; j < p; ++j) {
        if (new_to_old[j] < 0) continue;
        std::memcpy(dst + j * width, src + int64_t{new_to_old[j]} * width, width * sizeof(float));
      }
    }
    fresh->epochs_trained_ = epochs_trained_;
    config_ = config;
    layout_ = std::move(fresh->layout_);
    params_ = std::move(fresh->params_);
    first_moment_ = std::move(fresh->first_moment_);
    second_moment_ = std::move(fresh->second_moment_);
    opt_state_ = std::move(fresh->opt_state_);
    BindViews();
    return absl::OkStatus();
  });
}

absl::Status VaeImpl::SaveCheckpoint(const std::string& path) const {
  internal::CheckpointHeader h;
  h.config = config_;
  h.layout = layout_;
  h.epochs_trained = epochs_trained_;
  internal::CheckpointArrays a;
  a.params = params_.data_ptr<float>();
  if (first_moment_.defined()) {
    h.optimizer = opt_state_;
    a.first_moment = first_moment_.data_ptr<float>();
    a.second_moment = second_moment_.data_ptr<float>();
  }
  return internal::WriteCheckpoint(path, h, a);
}

}  // namespace

absl::StatusOr<std::unique_ptr<InvariantVae>> InvariantVae::Create(const VaeConfig& config,
                                                                   uint64_t seed) {
  FLS_RETURN_IF_ERROR(config.Validate());
  return Guarded<std::unique_ptr<InvariantVae>>(
      "Create", [&]() -> absl::StatusOr<std::unique_ptr<InvariantVae>> {
        std::unique_ptr<VaeImpl> m = VaeImpl::Allocate(config);
        m->Initialise(seed);
        return std::unique_ptr<InvariantVae>(std::move(m));
      });
}

absl::StatusOr<FirstLayerTiming> TimeFirstLayer(const data::CsrMatrix& minibatch, int32_t hidden,
                                                int32_t repeats, int32_t threads) {
  if (hidden <= 0 || repeats <= 0 || threads <= 0 || minibatch.rows == 0 || minibatch.cols == 0) {
    return absl::InvalidArgumentError("TimeFirstLayer: empty minibatch or bad sizes");
  }
  FLS_RETURN_IF_ERROR(minibatch.Validate());
  return Guarded<FirstLayerTiming>("TimeFirstLayer", [&]() -> absl::StatusOr<FirstLayerTiming> {
    SetThreads(threads);
    at::NoGradGuard no_grad;
    const int64_t b = minibatch.rows, p = minibatch.cols, h = hidden;
    std::vector<int64_t> order(b);
    for (int64_t i = 0; i < b; ++i) order[i] = i;
    Minibatch mb;
    GatherRows(minibatch, order, 0, b, InputWeighting::kBinary, nullptr, 0, 0, nullptr, &mb);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const at::Tensor w = at::empty({p, h}, at::kFloat).uniform_(-0.01, 0.01, gen);
    const at::Tensor grad_out = at::empty({b, h}, at::kFloat).normal_(0, 1, gen);
    // Every buffer is allocated and touched before timing, as in training.
    at::Tensor dense_x = at::zeros({b, p}, at::kFloat);
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t k = mb.offsets[i]; k < mb.offsets[i + 1]; ++k) {
        dense_x[i][mb.peaks[k]] = 1.0f;
      }
    }
    at::Tensor out_dense = at::zeros({b, h}, at::kFloat);
    at::Tensor out_sparse = at::zeros({b, h}, at::kFloat);
    at::Tensor grad_dense = at::zeros({p, h}, at::kFloat);
    at::Tensor grad_sparse = at::zeros({p, h}, at::kFloat);
    auto seconds_since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    std::vector<double> dense_times, sparse_times;
    for (int32_t r = 0; r < repeats; ++r) {
      auto t = std::chrono::steady_clock::now();
      at::mm_out(out_dense, dense_x, w);
      at::mm_out(grad_dense, dense_x.t(), grad_out);
      dense_times.push_back(seconds_since(t));

      t = std::chrono::steady_clock::now();
      GroupByPeak(p, 0, 0, nullptr, &mb);
      SparseFirstLayer(mb, w.data_ptr<float>(), h, out_sparse.data_ptr<float>());
      float* g = grad_sparse.data_ptr<float>();
      for (int64_t j = 0; j < p; ++j) {
        float* row = g + j * h;
        std::fill(row, row + h, 0.0f);
        const int32_t s = mb.peak_start[j], e = mb.peak_start[j + 1];
        internal::AddWeightedRows(grad_out.data_ptr<float>(), h, mb.by_peak_cell.data() + s,
                                  mb.by_peak_weight.data() + s, e - s, row);
      }
      sparse_times.push_back(seconds_since(t));
    }
    auto median = [](std::vector<double> v) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      return v[v.size() / 2];
    };
    FirstLayerTiming timing;
    timing.dense_seconds = median(dense_times);
    timing.sparse_seconds = median(sparse_times);
    timing.max_difference = std::max((out_dense - out_sparse).abs().max().item<double>(),
                                     (grad_dense - grad_sparse).abs().max().item<double>());
    return timing;
  });
}

absl::StatusOr<std::unique_ptr<InvariantVae>> InvariantVae::LoadCheckpoint(
    const std::string& path) {
  return Guarded<std::unique_ptr<InvariantVae>>(
      "LoadCheckpoint", [&]() -> absl::StatusOr<std::unique_ptr<InvariantVae>> {
        std::unique_ptr<VaeImpl> model;
        FLS_ASSIGN_OR_RETURN(
            internal::CheckpointHeader header,
            internal::ReadCheckpoint(
                path,
                [&](const internal::CheckpointHeader& h)
                    -> absl::StatusOr<internal::CheckpointArrays> {
                  model = VaeImpl::Allocate(h.config);
                  if (!h.optimizer.empty()) model->AllocateOptimizerState();
                  return model->MutableArrays();
                }));
        model->RestoreTrainingState(header);
        return std::unique_ptr<InvariantVae>(std::move(model));
      });
}

}  // namespace flsailer::model
