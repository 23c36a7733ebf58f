// `flsailer train --input PATH --out DIR`: the invariant VAE trained on one dataset (the
// centralised reference for the federation) on the peaks of highest leverage, its embedding
// evaluated, the model saved.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/peaks.h"
#include "libs/eval/categories.h"
#include "libs/model/invariant_vae.h"
#include "libs/sampling/feature_selector.h"
#include "libs/sampling/selection_bed.h"
#include "libs/telemetry/progress.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {
namespace {

absl::Status SaveModel(const std::string& dir, const model::InvariantVae& vae,
                       const data::Dataset& ds, const eval::Categories& batches) {
  FLS_RETURN_IF_ERROR(vae.SaveCheckpoint(dir + "/model.ckpt"));
  FLS_RETURN_IF_ERROR(data::WriteBed(dir + "/model_peaks.bed", ds.peaks));
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(dir + "/model_batches.txt"));
  for (const std::string& name : batches.names) FLS_RETURN_IF_ERROR(out->Write(name + "\n"));
  return out->Close();
}

// Keeps the peaks of highest leverage (FL-Sailer's selection at `rate`, computed centrally) in
// `ds` and writes them with their scores to DIR/selected_peaks.bed. On granja2019_bmmc the VAE's
// ARI rises from 0.466 on all peaks to 0.547 on 20% of them (3 seeds; bench/selection_quality.sh),
// synthetic data with institution effects keeps 0.999, and training is ~3x faster.
absl::Status KeepLeveragePeaks(double rate, const ReportSettings& settings, data::Dataset* ds) {
  sampling::FeatureSelectorOptions options;
  options.selection.rate = rate;
  options.selection.seed = settings.seed;
  options.subspace.seed = settings.seed;
  options.rank_at_most_data = true;  // fewer cells than the default rank: all the data has
  FLS_ASSIGN_OR_RETURN(sampling::FeatureSelection selection,
                       sampling::SelectCentrally(ds->matrix, options, settings.threads));
  if (static_cast<int32_t>(selection.singular_values.size()) < options.subspace.rank) {
    std::fprintf(stderr, "train: selection rank %zu (what %lld cells allow)\n",
                 selection.singular_values.size(), static_cast<long long>(ds->matrix.rows));
  }
  FLS_RETURN_IF_ERROR(sampling::WriteSelectionBed(
      settings.out_dir + "/selected_peaks.bed", ds->peaks, selection.scores, selection.peaks,
      absl::StrCat("leverage-score selection, rate ", rate)));
  std::vector<data::Peak> kept;
  kept.reserve(selection.peaks.size());
  for (int32_t j : selection.peaks) kept.push_back(ds->peaks[j]);
  ds->peaks = std::move(kept);
  ds->matrix = ds->matrix.SelectColumns(selection.peaks);
  std::fprintf(stderr, "train: %zu of %zu peaks kept by leverage score\n", ds->peaks.size(),
               selection.scores.size());
  return absl::OkStatus();
}

}  // namespace

int RunTrain(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer train --input PATH --out DIR [flags]\n"
      "Trains the invariant VAE (batch-conditioned decoder, MI penalty) on one dataset; writes\n"
      "DIR/embedding.tsv, DIR/metrics.json, DIR/embedding.svg and the model (DIR/model.ckpt,\n"
      "DIR/model_peaks.bed, DIR/model_batches.txt) for `flsailer embed`.\n"
      "  --input PATH        10x folder, .h5, .h5ad or fragments (with --reference)\n"
      "  --epochs N          training epochs (default: ~1,200 optimizer steps, 30 to 1,000)\n"
      "  --batch-size N      cells per minibatch (default 50; a federated job's is 100)\n"
      "  --rate R            fraction of peaks the model sees, chosen by leverage score as in a\n"
      "                      federated job (default 0.2; 1 = all peaks); also DIR/selected_peaks.bed\n"
      "  --lambda X          weight of the mutual-information penalty (default 1)\n"
      "  --mi-bound mixture|pairwise   its estimate: the minibatch mixture or SAILER's pairwise\n"
      "                      KL (default: mixture; pairwise for few cells with many peaks)\n"
      "  --average-tail F    the model is the mean of the parameters over the last fraction F\n"
      "                      of the optimizer steps (default 0.5; 0 = the last step's)\n"
      "  --kl-beta X         weight of the KL terms (beta-VAE; default 1; scaled up for few\n"
      "                      cells with many peaks, as the network is narrowed for them)\n"
      "  --optimizer adam|muon   local optimizer (muon: MuonEq-R for hidden matrices)\n"
      "  --dropout D         probability that the encoder does not see an open peak in a step\n"
      "                      (denoising; default 0.7)\n"
      "  --dropout-spread S  each cell's keep rate in a step is drawn from (1 - D)(1 +- S), so\n"
      "                      deep cells are also seen as shallow ones (default 0 = off; try 0.67)\n"
      "  --bf16              bfloat16 operands for the output layer's products (float32\n"
      "                      weights): ~1.5x faster training at SAILER's size with one thread\n"
      "                      on CPUs with AVX512-BF16 or AMX; slower on others\n",
      kReportFlagsHelp, kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert(ReportFlagNames().begin(), ReportFlagNames().end());
  flags.insert(
      {"input", "epochs", "batch-size", "lambda", "optimizer", "rate", "kl-beta", "mi-bound",
       "average-tail", "dropout", "dropout-spread"});
  auto args = Args::Parse(argc, argv, flags, {"help", "bf16"});
  if (!args.ok()) return PrintUsage("train", args.status(), usage);
  if (args->Has("help")) return PrintUsage("train", absl::OkStatus(), usage);

  model::VaeConfig config;
  model::TrainOptions options;
  auto epochs = args->GetInt("epochs", -1);
  // Half SAILER's 100: the same ~1,200 steps of smaller minibatches cluster granja2019 better
  // (ARI 0.589 against 0.560 over 7 seeds) and mix the synthetic institutions more, with
  // snareseq2019 unchanged (the README of libs/model has the table). A federated job keeps 100:
  // its rounds' local epochs were set with it.
  auto batch_size = args->GetInt("batch-size", 50);
  auto lambda = args->GetDouble("lambda", config.mi_lambda);
  auto rate = args->GetDouble("rate", 0.2);
  auto beta = args->GetDouble("kl-beta", config.kl_beta);
  auto average_tail = args->GetDouble("average-tail", 0.5);
  auto dropout = args->GetDouble("dropout", options.input_dropout);
  auto dropout_spread = args->GetDouble("dropout-spread", options.input_dropout_spread);
  const std::string optimizer = args->Get("optimizer", "adam");
  const std::string mi_bound = args->Get("mi-bound", "mixture");
  if (!epochs.ok() || !batch_size.ok() || !lambda.ok() || !rate.ok() || !beta.ok() ||
      !average_tail.ok() || !dropout.ok() || !dropout_spread.ok() ||
      !(*rate > 0 && *rate <= 1) || !(*average_tail >= 0 && *average_tail < 1) ||
      (optimizer != "adam" && optimizer != "muon") ||
      (mi_bound != "mixture" && mi_bound != "pairwise")) {
    return PrintUsage("train", absl::InvalidArgumentError(
                                   "--epochs, --batch-size, --lambda and --dropout* must be "
                                   "numbers, --rate in (0, 1], "
                                   "--average-tail in [0, 1), --optimizer adam|muon, "
                                   "--mi-bound mixture|pairwise"),
                      usage);
  }
  options.batch_size = static_cast<int32_t>(std::clamp<int64_t>(*batch_size, -1, 1 << 30));
  options.input_dropout = static_cast<float>(*dropout);
  options.input_dropout_spread = static_cast<float>(*dropout_spread);
  // Their ranges, before the data are loaded (TrainOptions::Validate is the one check).
  if (absl::Status s = options.Validate(); !s.ok()) return PrintUsage("train", s, usage);
  auto ds = LoadInputFromArgs(*args);
  if (!ds.ok()) return PrintError("train", ds.status());
  auto settings = ReportSettingsFromArgs(*args, ds->metadata);
  if (!settings.ok()) return PrintUsage("train", settings.status(), usage);

  auto batch_values = MetadataColumn(ds->metadata, settings->batch_col);
  if (!batch_values.ok()) return PrintError("train", batch_values.status());
  const eval::Categories batches = eval::EncodeCategories(*batch_values);
  model::Covariates covariates;
  // Depth over all peaks, before the selection (as a federated job computes it).
  if (config.depth_covariate) {
    covariates.log_depth = model::StandardisedLogDepth(ds->matrix.RowSums());
  }
  const auto start = std::chrono::steady_clock::now();
  if (*rate < 1) {
    if (absl::Status s = KeepLeveragePeaks(*rate, *settings, &*ds); !s.ok()) {
      return PrintError("train", s);
    }
  }
  config.input_dim = static_cast<int32_t>(ds->matrix.cols);
  config.num_batches = batches.names.size() > 1 ? static_cast<int32_t>(batches.names.size()) : 0;
  config.mi_lambda = static_cast<float>(*lambda);
  config.kl_beta = static_cast<float>(*beta);
  // Small data: a narrower network and a stronger KL (see ScaleConfigForCells).
  model::ScaleConfigForCells(ds->matrix.rows, &config);
  if (args->Has("mi-bound")) {
    config.mi_bound =
        mi_bound == "pairwise" ? model::MiBound::kPairwiseKl : model::MiBound::kMinibatchMixture;
  }
  std::fprintf(stderr,
               "train: %lld cells x %d peaks: hidden %d/%d, kl_beta %.3g, %s MI bound, "
               "shallow-cell weight up to %.3g\n",
               static_cast<long long>(ds->matrix.rows), config.input_dim,
               config.encoder_hidden.front(), config.encoder_hidden.back(), config.kl_beta,
               config.mi_bound == model::MiBound::kPairwiseKl ? "pairwise" : "mixture",
               config.shallow_cell_weight_cap);
  if (config.num_batches > 0) covariates.batch = batches.codes;
  options.epochs = *epochs > 0 ? static_cast<int32_t>(*epochs)
                              : model::RecommendedEpochs(ds->matrix.rows, options.batch_size);
  options.seed = settings->seed;
  options.average_last_fraction = static_cast<float>(*average_tail);
  options.threads = settings->threads;
  options.bf16_output_products = args->Has("bf16");
  options.optimizer =
      optimizer == "muon" ? model::LocalOptimizer::kMuonEqR : model::LocalOptimizer::kAdam;
  // "train: epoch 12/100, ETA 3 min 48 s  loss 812.30  31.2 s elapsed" every epoch.
  options.on_epoch = [progress = telemetry::ProgressTimer()](int32_t epoch, int32_t epochs,
                                                             double loss) {
    std::fprintf(stderr, "train: %s  loss %.2f  %.1f s elapsed\n",
                 progress.Format("epoch", epoch + 1, epochs).c_str(), loss,
                 progress.ElapsedSeconds());
  };

  auto vae = model::InvariantVae::Create(config, settings->seed);
  if (!vae.ok()) return PrintError("train", vae.status());
  if (config.input_weighting != model::InputWeighting::kBinary) {
    if (absl::Status s = (*vae)->SetInputWeights(model::InverseDocumentFrequency(ds->matrix));
        !s.ok()) {
      return PrintError("train", s);
    }
  }
  auto report = (*vae)->Train(ds->matrix, covariates, options);
  if (!report.ok()) return PrintError("train", report.status());
  auto embedding = (*vae)->Embed(ds->matrix, settings->threads);
  if (!embedding.ok()) return PrintError("train", embedding.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "train: %d epochs, %.0f cells/s\n", report->epochs_run,
               report->cells_per_second);
  if (report->cells_left_out > 0) {
    std::fprintf(stderr,
                 "train: %lld of %lld cells have no open peak among the %d kept: not trained "
                 "on; they share the embedding of an empty profile\n",
                 static_cast<long long>(report->cells_left_out),
                 static_cast<long long>(ds->matrix.rows), config.input_dim);
  }
  if (absl::Status s = SaveModel(settings->out_dir, **vae, *ds, batches); !s.ok()) {
    return PrintError("train", s);
  }
  absl::Status written = WriteEmbeddingReport(*settings, ds->barcodes, ds->metadata, *embedding,
                                              "invariant VAE", seconds).status();
  return written.ok() ? 0 : PrintError("train", written);
}

}  // namespace flsailer::cli
