// The invariant VAE of FL-Sailer (DESIGN.md §2, Phase 2): a SAILER-style variational autoencoder
// whose encoder sees only a cell's accessibility profile and whose decoder is conditioned on
// technical covariates (batch one-hot, standardised log depth), with a mutual-information penalty
// between z and the covariates that pushes batch effects out of the latent space.
//
// Model. Encoder: p -> encoder_hidden... -> (mu, logvar) of z; decoder: [z, log depth, one-hot
// batch] -> decoder_hidden... -> p logits. Every hidden layer is Linear + BatchNorm +
// LeakyReLU(leaky_relu_slope). The first encoder layer is computed from the open peaks only (a
// weighted sum of the weight rows of a cell's open peaks), never from a dense p-wide input.
//
// Loss per minibatch of B cells, every term a mean over cells (per-cell nats):
//   beta * kl_w * KL(q(z|x) || N(0, I))
//   + (1 + lambda) * BCE(logits, x; pos_weight)          (summed over the p peaks of a cell)
//   + lambda * beta * kl_w * MI
// where MI estimates E_x KL(q(z|x) || q(z)), the compression term of Moyer et al. 2018's
// non-adversarial bound on I(z; covariates), over the minibatch (MiBound says how). kl_w follows a
// cyclical schedule after warm-up epochs of reconstruction only.
//
// LibTorch is an implementation detail (linked PRIVATE): this header exposes plain vectors only.
//
// Thread safety: an InvariantVae is not thread-safe; use one per thread. Train(), Embed() and
// ReconstructionLoss() set process-wide state: LibTorch's intra-op pool to one thread and
// OpenBLAS's to the requested count (both are global in those libraries).
#ifndef FLSAILER_LIBS_MODEL_INVARIANT_VAE_H_
#define FLSAILER_LIBS_MODEL_INVARIANT_VAE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/dataset.h"

namespace flsailer::model {

// How an open peak enters the first encoder layer. The matrix is binarised either way.
enum class InputWeighting {
  kBinary,  // every open peak contributes its weight row once (SAILER)
  kIdf,     // scaled by the peak's input weight (set with SetInputWeights, e.g. IDF)
  kTfIdf,   // scaled by the input weight divided by the cell's number of open peaks
};

// How the MI term estimates KL(q(z|x_i) || q(z)), q(z) being the aggregate posterior.
enum class MiBound {
  // mean_j KL(q(z|x_i) || q(z|x_j)) over all B^2 ordered pairs (i == j gives 0): SAILER's bound.
  // It is Jensen's upper bound and grows with each latent dimension's signal-to-noise ratio
  // where the information grows with its logarithm, so it favours many weakly used dimensions;
  // on data with strong institution effects those keep the batch (libs/model/README.md).
  kPairwiseKl = 0,
  // E_{z ~ q(z|x_i)} [log q(z|x_i) - log mean_j q(z|x_j)], one sample per cell (the one the
  // decoder sees), q(z) being the mixture of the minibatch's posteriors: an estimate of the
  // information itself, at most log B per cell.
  kMinibatchMixture = 1,
};

// Architecture. Defaults are the project's, chosen on real data (libs/model/README.md has the
// evidence); SAILER's own are noted where they differ. SAILER's network (1000/100, 10, pos_weight
// 30) overfits small sparse datasets and clusters them worse than LSI.
struct VaeConfig {
  int32_t input_dim = 0;                              // peaks the model sees (REQUIRED > 0)
  std::vector<int32_t> encoder_hidden = {256, 128};   // REQUIRED non-empty; SAILER {1000, 100}
  std::vector<int32_t> decoder_hidden = {128, 256};   // REQUIRED non-empty; SAILER {100, 1000}
  int32_t latent_dim = 32;                            // SAILER 10
  int32_t num_batches = 0;                        // width of the one-hot batch covariate (0: none)
  bool depth_covariate = true;                    // standardised log depth fed to the decoder
  float leaky_relu_slope = 0.2f;
  float pos_weight = 1.0f;                        // BCE weight of open peaks; SAILER 30
  float mi_lambda = 1.0f;                         // weight of the MI bound
  // SAILER kPairwiseKl; so are federated jobs that do not choose (libs/federation protocol.cc).
  MiBound mi_bound = MiBound::kMinibatchMixture;
  // beta of a beta-VAE: multiplies the KL and MI terms (1 in SAILER).
  float kl_beta = 1.0f;
  // Open peaks of a cell with fewer open peaks than its minibatch's median weigh
  // sqrt(median / open) times more in the BCE, at most this factor (>= 1; 1: off, SAILER's).
  // The KL term pulls every cell's latent mean towards the origin alike, while a cell's
  // reconstruction pulls in proportion to its open peaks, so a raised kl_beta drowns shallow
  // cells' evidence first; ScaleConfigForCells sets this to the square root of its KL factor.
  float shallow_cell_weight_cap = 1.0f;
  InputWeighting input_weighting = InputWeighting::kBinary;

  // OK, or InvalidArgument naming the first bad field.
  absl::Status Validate() const;
};

enum class LocalOptimizer {
  kAdam,      // Adam with decoupled weight decay (AdamW) for every parameter
  kMuonEqR,   // MuonEq-R for hidden matrix weights, AdamW for the rest (DESIGN.md §2)
};

struct TrainOptions {
  int32_t epochs = 100;             // see RecommendedEpochs
  // Cells per minibatch. The cells of an epoch are split into max(1, n / batch_size) minibatches
  // whose sizes differ by at most one, so no cell is dropped and no minibatch is tiny.
  int32_t batch_size = 100;
  float learning_rate = 1e-3f;
  float weight_decay = 5e-4f;       // decoupled: w -= lr * weight_decay * w every step
  float lr_decay = 1.0f;            // learning rate times lr_decay^epoch
  // Schedules (warm-up, cyclical KL weight, lr decay) run on a global epoch index that continues
  // across Train() calls (and checkpoints), so that federated rounds of a few local epochs each
  // follow one schedule. first_epoch >= 0 overrides the index of this call's first epoch.
  int32_t first_epoch = -1;
  int32_t warmup_epochs = 0;        // first global epochs: reconstruction loss only
  // Cyclical KL weight after warm-up: over each cycle of kl_cycle_epochs epochs, kl_w rises
  // linearly from 0 to 1 in the first half and stays 1 in the second (SAILER: 100). 0: kl_w = 1.
  int32_t kl_cycle_epochs = 0;
  // Denoising: each open peak is hidden from the encoder with this probability (the rest scaled
  // by 1 / (1 - input_dropout)) while the decoder still reconstructs the whole profile. SAILER 0.
  float input_dropout = 0.7f;
  // Depth augmentation: each cell's keep rate in a step is drawn uniformly from
  // [(1 - input_dropout)(1 - s), (1 - input_dropout)(1 + s)] (s = input_dropout_spread, in
  // [0, 1]; clipped to 1), so deep cells are also seen as shallow ones and the encoder learns
  // less of depth as a cue (s = 0.67 with the default dropout: rates from 0.1 to 0.5, mean 0.3).
  // 0 (the default): every cell keeps 1 - input_dropout. Off by default because it helped some
  // datasets and hurt others (the README of libs/model has the evidence).
  float input_dropout_spread = 0.0f;
  LocalOptimizer optimizer = LocalOptimizer::kAdam;
  float fedprox_mu = 0.0f;          // proximal term mu/2 |w - w_start|^2 to the weights at entry
  // Tail averaging (Polyak; SWA without restarts): the model this call leaves is the mean of the
  // parameters after each of its last ceil(average_last_fraction x steps) optimizer steps, the
  // BatchNorm running statistics included, instead of the last iterate. In [0, 1); 0: off. The
  // optimizer moments stay those of the last step. `flsailer train` uses 0.5 (the README of
  // libs/model has the evidence).
  float average_last_fraction = 0.0f;
  // Mixed precision: the output layer's three products (logits, the hidden layer's gradient, the
  // weight gradient) take bfloat16 operands and accumulate in float32 (oneDNN), but their results
  // are rounded to bfloat16; the weights, Adam's moments and everything else stay float32. About
  // 2x faster products on CPUs with native bfloat16 (AVX512-BF16, AMX), slower elsewhere. These
  // products run on one thread whatever `threads` says (LibTorch's pool is held at one).
  bool bf16_output_products = false;
  uint64_t seed = 1;                // shuffling and reparameterisation noise
  int32_t threads = 1;              // for the matrix products (OpenBLAS); the rest is serial
  // Called after every epoch with (epoch index within this call, epochs, mean loss per cell).
  std::function<void(int32_t, int32_t, double)> on_epoch;

  absl::Status Validate() const;
};

// Epochs that give about 1,200 optimizer steps for `cells` cells in minibatches of
// `batch_size`, within [30, 1000]: small datasets need more epochs (the best embeddings came
// after 1,000-1,500 steps on 50-600 cells; larger data keeps improving slowly).
int32_t RecommendedEpochs(int64_t cells, int32_t batch_size = 100);

// Adapts the default network to the data: `cells` cells (all of a federation's) and
// config->input_dim peaks seen. With few cells the per-peak rows of the first and last layers
// (one weight per hidden unit) can store every cell's profile, and the reconstruction term (a sum
// over input_dim peaks) outweighs the KL terms (O(latent_dim) nats) by far: the model memorises
// cells and z becomes a cell code rather than a cell-type code (buenrostro2015, 50 cells x 5,854
// kept peaks: train BCE under 60 nats per cell against 2,297 for the per-cell-line mean profiles;
// 6% of the latent variance between the two cell lines). So the hidden widths are capped at
// `cells` next to the peaks and `cells` / 2 inside, and when input_dim > 8 cells, kl_beta is
// multiplied by r = input_dim / (8 cells) and shallow_cell_weight_cap set to sqrt(r) (on
// buenrostro2015 the cell the KL pulls to the origin, GM12878 with 62 open kept peaks against a
// median of 932, then lands among its own: ARI 1.00 on 7 of seeds 0-9, 0.92 on the rest, against
// 0.92 on 9 of them without); when both happen (the network is narrowed and
// input_dim > 8 cells) the MI term uses the pairwise-KL bound, which resists memorisation (on
// buenrostro2015 ARI 0.92 on each of 3 seeds against 0.51-0.92 with the mixture). Data with
// >= 256 cells and input_dim <= 8 cells is left unchanged (granja2019_bmmc, snareseq2019, the
// synthetic benchmark, the bundled demo). cells <= 0: unchanged.
void ScaleConfigForCells(int64_t cells, VaeConfig* config);

// Per-cell covariates, aligned with the matrix rows.
struct Covariates {
  std::vector<int32_t> batch;       // in [0, num_batches), or empty when num_batches == 0
  std::vector<float> log_depth;     // standardised log depth, or empty when !depth_covariate
};

// Sums of log(1 + depth) over the cells with counts (depth > 0): what the depth covariate's mean
// and sd come from, whether over one matrix or summed over institutions. An empty cell is never
// trained on, and its log 1 = 0 would pull the mean of real depths down, so it is left out.
struct LogDepthSums {
  double cells = 0;           // cells with counts
  double sum = 0;             // of log(1 + depth)
  double sum_of_squares = 0;  // of log(1 + depth)^2
};
LogDepthSums SumLogDepths(const std::vector<double>& depths);

struct LogDepthMoments {
  double mean = 0;
  double sd = 0;  // population sd; 0 when sums.cells == 0
};
LogDepthMoments MomentsOf(const LogDepthSums& sums);

// Standardised log(1 + depth) of each cell, its depth being its total counts (CsrMatrix::RowSums
// of the counts, not of the binarised matrix), with the given mean and sd (from federated sums),
// or with MomentsOf(SumLogDepths(depths)) when sd <= 0 (an empty cell gets a value but does not
// shift the others'). A constant depth standardises to 0.
std::vector<float> StandardisedLogDepth(const std::vector<double>& depths, double mean = 0,
                                        double sd = 0);

// Inverse document frequency of each peak, log(1 + cells / (1 + cells with the peak open)):
// the usual input weights for InputWeighting::kIdf / kTfIdf.
std::vector<float> InverseDocumentFrequency(const data::CsrMatrix& counts);

struct TrainReport {
  int32_t epochs_run = 0;
  double final_loss = 0;             // mean loss per cell in the last epoch
  double final_reconstruction = 0;   // its BCE part (per cell, without the (1 + lambda) factor)
  double seconds = 0;
  double cells_per_second = 0;
  int64_t cells_left_out = 0;        // cells with no open peak, not trained on (see Train)
};

// Description of the flat parameter vector: stable order, versioned.
//
// Order: encoder layers from the input, the mu and logvar heads, decoder layers, the output
// layer; within a layer weight, bias, then BatchNorm weight and bias; all BatchNorm running
// statistics and the input weights last, marked buffer = true (not trained by gradient; FedBN
// keeps running statistics local). Weights are [out, in] like torch.nn.Linear, except the first
// encoder layer "encoder.0.weight", stored [input_dim, hidden] so that both per-peak layers
// (it and "decoder.out.weight" [input_dim, hidden]) have one row per peak.
struct ParameterLayout {
  static constexpr int32_t kCurrentVersion = 1;
  int32_t version = kCurrentVersion;
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0;   // in floats
    bool buffer = false;  // running statistic or input weights rather than a trained parameter
    int64_t size() const;
  };
  std::vector<Entry> entries;
  int64_t size = 0;       // total floats

  // The entry called `name`, or nullptr.
  const Entry* Find(const std::string& name) const;
};

// The layout a model with this (valid) configuration has.
ParameterLayout LayoutForConfig(const VaeConfig& config);

class InvariantVae {
 public:
  // Builds a freshly initialised model (deterministic for `seed`; torch.nn.Linear's default
  // initialisation, BatchNorm at identity, input weights 1).
  static absl::StatusOr<std::unique_ptr<InvariantVae>> Create(const VaeConfig& config,
                                                              uint64_t seed);
  virtual ~InvariantVae() = default;

  virtual const VaeConfig& config() const = 0;
  // Epochs trained so far (the global epoch index the next Train() call continues from).
  virtual int32_t epochs_trained() const = 0;

  // Trains on `x` (cells x config().input_dim; binarised: stored values are ignored) for
  // options.epochs epochs, streaming minibatches from the CSR rows (rows shuffled per epoch from
  // options.seed). Cells with no open peak are left out (counted in TrainReport::cells_left_out).
  // Optimizer state persists across calls. With one thread, the same model, data and options
  // give bit-identical parameters.
  // Errors: InvalidArgument for mismatched data/covariates/options or fewer than 2 cells with an
  // open peak; Internal when the loss becomes NaN/Inf (naming the epoch; the parameters are then
  // unspecified: reload them).
  virtual absl::StatusOr<TrainReport> Train(const data::CsrMatrix& x, const Covariates& covariates,
                                            const TrainOptions& options) = 0;

  // Encoder means (cells x latent_dim), BatchNorm in inference mode. Needs no covariates, so a
  // trained model embeds a new institution's cells (mapped onto its peaks) without retraining.
  virtual absl::StatusOr<data::DenseMatrix> Embed(const data::CsrMatrix& x,
                                                  int32_t threads = 1) const = 0;

  // Mean reconstruction BCE per cell (as in TrainReport::final_reconstruction) of `x` with the
  // decoder fed the encoder means, in inference mode: a held-out score for model selection.
  virtual absl::StatusOr<double> ReconstructionLoss(const data::CsrMatrix& x,
                                                    const Covariates& covariates,
                                                    int32_t threads = 1) const = 0;

  // The unit of federated exchange.
  virtual const ParameterLayout& Layout() const = 0;
  virtual std::vector<float> GetParameters() const = 0;
  // REQUIRES nothing: a vector of the wrong size or with non-finite values is InvalidArgument
  // and leaves the model unchanged. Optimizer state is kept.
  virtual absl::Status SetParameters(const std::vector<float>& flat) = 0;

  // Sets the per-peak input weights used by InputWeighting::kIdf / kTfIdf (the buffer
  // "encoder.input_weight"). REQUIRES: input_dim finite non-negative values.
  virtual absl::Status SetInputWeights(const std::vector<float>& weights) = 0;

  // New peak selection: new_to_old[j] is the old input index of new peak j, or -1 for a new peak.
  // First-layer and last-layer rows (and output biases, input weights) of kept peaks keep their
  // values; new peaks get a fresh initialisation drawn from `seed` (input weight 1). input_dim
  // becomes new_to_old.size(). Optimizer state of those two layers is reset. An old index may
  // appear at most once.
  virtual absl::Status RemapInputFeatures(const std::vector<int32_t>& new_to_old,
                                          uint64_t seed) = 0;

  // Model + optimizer state + epoch count, written atomically. Format (little-endian): magic
  // "FLSVAE\r\n", format version, configuration, layout, training state, parameters, Adam/Muon
  // moments, CRC-32 (zlib) of everything before it.
  virtual absl::Status SaveCheckpoint(const std::string& path) const = 0;
  // Loading checks magic, version, configuration, that the stored layout equals the one the
  // configuration implies, sizes against the file length, finiteness and the CRC; any failure is
  // an error naming the cause and the file.
  static absl::StatusOr<std::unique_ptr<InvariantVae>> LoadCheckpoint(const std::string& path);
};

// Times the first encoder layer's forward and backward pass (the full p x hidden weight gradient
// written out) on `minibatch` (cells x peaks, binary) with `hidden` units, computed from the
// open peaks as in training and, for comparison, as a dense minibatch x weight product. Reports
// the median of `repeats` runs of each and the largest difference between their results. For
// bench/model_bench.cc.
struct FirstLayerTiming {
  double sparse_seconds = 0;
  double dense_seconds = 0;
  double max_difference = 0;
};
absl::StatusOr<FirstLayerTiming> TimeFirstLayer(const data::CsrMatrix& minibatch, int32_t hidden,
                                                int32_t repeats, int32_t threads);

}  // namespace flsailer::model

#endif  // FLSAILER_LIBS_MODEL_INVARIANT_VAE_H_
