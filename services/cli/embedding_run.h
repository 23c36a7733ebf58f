// What every command that produces an embedding shares (`lsi`, `train`, `embed`, `evaluate`):
// loading the input with its labels and batches, and writing the report - DIR/embedding.tsv,
// DIR/metrics.json (flat keys, see libs/eval/evaluate.h) and DIR/embedding.svg.
#ifndef FLSAILER_SERVICES_CLI_EMBEDDING_RUN_H_
#define FLSAILER_SERVICES_CLI_EMBEDDING_RUN_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "libs/eval/evaluate.h"
#include "services/cli/args.h"

namespace flsailer::cli {

// --input plus the input-selection flags of load_flags.h.
absl::StatusOr<data::Dataset> LoadInputFromArgs(const Args& args);

// --label-col, --batch-col, --seed, --out, --threads, --n-clusters, --metric.
const std::set<std::string>& ReportFlagNames();
extern const char kReportFlagsHelp[];

// The per-cell annotations and evaluation settings of a run.
struct ReportSettings {
  std::string label_col;            // "" = no labels
  std::string batch_col;            // "" = no batches
  std::string out_dir;
  uint64_t seed = 0;
  int threads = 1;
  eval::EvaluateOptions evaluate;
};

// Reads the report flags; the label and batch columns default to "cell_type" and "batch" when
// `metadata` has them. Creates --out.
absl::StatusOr<ReportSettings> ReportSettingsFromArgs(const Args& args,
                                                      const data::CellMetadata& metadata);

// Column `name` of `metadata`, or an empty vector for name == "". Error if absent.
absl::StatusOr<std::vector<std::string>> MetadataColumn(const data::CellMetadata& metadata,
                                                        const std::string& name);

// Evaluates `embedding` (one row per barcode), writes the three report files, prints the metrics
// and returns them. `seconds` is the method's wall time, recorded in metrics.json.
absl::StatusOr<eval::EvaluationMetrics> WriteEmbeddingReport(const ReportSettings& settings,
                                  const std::vector<std::string>& barcodes,
                                  const data::CellMetadata& metadata,
                                  const data::DenseMatrix& embedding, const std::string& method,
                                  double seconds);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_EMBEDDING_RUN_H_
