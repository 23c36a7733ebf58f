// `flsailer evaluate --embedding TSV --metadata TSV --out DIR`: metrics and a picture of any
// embedding (ours or another tool's), with labels and batches joined by barcode.
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/data/cell_table.h"
#include "libs/data/embedding_tsv.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"

namespace flsailer::cli {

int RunEvaluate(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer evaluate --embedding TSV [--metadata TSV] --out DIR [flags]\n"
      "Evaluates an embedding (TSV: barcode, then one column per dimension) against the labels\n"
      "and batches of a cell metadata table (barcode + columns): kNN graph, Leiden clusters,\n"
      "scIB metrics; writes DIR/metrics.json and DIR/embedding.svg.\n",
      kReportFlagsHelp);
  std::set<std::string> flags = ReportFlagNames();
  flags.insert({"embedding", "metadata"});
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("evaluate", args.status(), usage);
  if (args->Has("help")) return PrintUsage("evaluate", absl::OkStatus(), usage);
  auto embedding_path = args->Required("embedding");
  if (!embedding_path.ok()) return PrintUsage("evaluate", embedding_path.status(), usage);

  auto table = data::ReadEmbeddingTsv(*embedding_path);
  if (!table.ok()) return PrintError("evaluate", table.status());
  data::CellMetadata metadata;
  if (args->Has("metadata")) {
    data::MetadataJoinStats stats;
    auto joined = data::ReadCellMetadata(args->Get("metadata"), table->barcodes, &stats);
    if (!joined.ok()) return PrintError("evaluate", joined.status());
    if (stats.matched == 0) {
      return PrintError("evaluate", absl::InvalidArgumentError(
                                        "no barcode of the embedding is in the metadata"));
    }
    metadata = *std::move(joined);
  }
  auto settings = ReportSettingsFromArgs(*args, metadata);
  if (!settings.ok()) return PrintUsage("evaluate", settings.status(), usage);
  absl::Status report = WriteEmbeddingReport(*settings, table->barcodes, metadata, table->values,
                                             *embedding_path, 0.0).status();
  return report.ok() ? 0 : PrintError("evaluate", report);
}

}  // namespace flsailer::cli
