// `flsailer embed --model DIR --input PATH --out DIR`: a trained model (central or federated)
// embeds a new institution's cells without retraining. The encoder sees no batch covariate, so
// only the peaks must be brought onto the model's (by interval overlap).
#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/model/invariant_vae.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {

int RunEmbed(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer embed --model DIR --input PATH --out DIR [flags]\n"
      "Embeds the cells of PATH with the model in DIR (written by `flsailer train`), after\n"
      "mapping them onto the model's peaks; writes DIR/embedding.tsv, metrics.json, embedding.svg.\n"
      "  --model DIR         holds model.ckpt and model_peaks.bed\n"
      "  --input PATH        10x folder, .h5, .h5ad or fragments\n",
      kReportFlagsHelp, kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert(ReportFlagNames().begin(), ReportFlagNames().end());
  flags.insert({"input", "model"});
  flags.erase("reference");  // the model's peaks are the reference
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("embed", args.status(), usage);
  if (args->Has("help")) return PrintUsage("embed", absl::OkStatus(), usage);
  auto model_dir = args->Required("model");
  auto input = args->Required("input");
  if (!model_dir.ok() || !input.ok()) {
    return PrintUsage("embed", !model_dir.ok() ? model_dir.status() : input.status(), usage);
  }

  auto vae = model::InvariantVae::LoadCheckpoint(*model_dir + "/model.ckpt");
  if (!vae.ok()) return PrintError("embed", vae.status());
  auto options = LoadOptionsFromArgs(*args);
  if (!options.ok()) return PrintUsage("embed", options.status(), usage);
  options->reference_bed = *model_dir + "/model_peaks.bed";
  auto ds = data::LoadDataset(*input, *options);
  if (!ds.ok()) return PrintError("embed", ds.status());
  auto settings = ReportSettingsFromArgs(*args, ds->metadata);
  if (!settings.ok()) return PrintUsage("embed", settings.status(), usage);

  const auto start = std::chrono::steady_clock::now();
  auto embedding = (*vae)->Embed(ds->matrix, settings->threads);
  if (!embedding.ok()) return PrintError("embed", embedding.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::Status written = WriteEmbeddingReport(*settings, ds->barcodes, ds->metadata, *embedding,
                                              "invariant VAE (embedded)", seconds).status();
  return written.ok() ? 0 : PrintError("embed", written);
}

}  // namespace flsailer::cli
