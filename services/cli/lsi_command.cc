// `flsailer lsi --input PATH --out DIR`: the LSI baseline embedding, evaluated.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/baselines/lsi.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {

int RunLsi(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer lsi --input PATH --out DIR [flags]\n"
      "LSI (TF-IDF, log(TF x IDF x 10^4), randomized SVD, depth component dropped) of any\n"
      "supported input; writes DIR/embedding.tsv, DIR/metrics.json and DIR/embedding.svg.\n"
      "  --input PATH        10x folder, .h5, .h5ad or fragments (with --reference)\n"
      "  --components K      SVD components (default 30, or cells - 1 when fewer)\n",
      kReportFlagsHelp, kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert(ReportFlagNames().begin(), ReportFlagNames().end());
  flags.insert({"input", "components"});
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("lsi", args.status(), usage);
  if (args->Has("help")) return PrintUsage("lsi", absl::OkStatus(), usage);
  if (!args->positional().empty()) {
    return PrintUsage("lsi", absl::InvalidArgumentError("unexpected arguments"), usage);
  }
  auto components = args->GetInt("components", 30);
  if (!components.ok()) return PrintUsage("lsi", components.status(), usage);

  auto ds = LoadInputFromArgs(*args);
  if (!ds.ok()) return PrintError("lsi", ds.status());
  auto settings = ReportSettingsFromArgs(*args, ds->metadata);
  if (!settings.ok()) return PrintUsage("lsi", settings.status(), usage);

  baselines::LsiOptions options;
  options.components = static_cast<int32_t>(*components);
  if (!args->Has("components")) {  // the default, within what the data can give
    const int64_t most = std::min(ds->matrix.rows, ds->matrix.cols) - 1;
    if (most >= 2 && most < options.components) {
      std::fprintf(stderr, "lsi: %lld components (%lld cells)\n", static_cast<long long>(most),
                   static_cast<long long>(ds->matrix.rows));
      options.components = static_cast<int32_t>(most);
    }
  }
  options.seed = settings->seed;
  options.threads = settings->threads;
  const auto start = std::chrono::steady_clock::now();
  auto lsi = baselines::RunLsi(ds->matrix, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!lsi.ok()) return PrintError("lsi", lsi.status());
  absl::Status report = WriteEmbeddingReport(*settings, ds->barcodes, ds->metadata,
                                             lsi->embedding, "LSI", seconds).status();
  return report.ok() ? 0 : PrintError("lsi", report);
}

}  // namespace flsailer::cli
