#include "services/cli/embedding_run.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/embedding_tsv.h"
#include "libs/eval/categories.h"
#include "libs/eval/layout.h"
#include "libs/eval/svg_plot.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {
namespace {

// Legend panel of a per-cell string annotation; empty strings are "missing".
eval::PlotPanel AnnotationPanel(const std::string& title, const std::vector<std::string>& values) {
  eval::Categories categories = eval::EncodeCategories(values);
  eval::PlotPanel panel;
  panel.title = title;
  panel.names = categories.names;
  panel.codes = categories.codes;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) panel.codes[i] = -1;
  }
  return panel;
}

std::string Format(const std::optional<double>& value) {
  return value ? absl::StrCat(*value) : "n/a";
}

}  // namespace

absl::StatusOr<data::Dataset> LoadInputFromArgs(const Args& args) {
  FLS_ASSIGN_OR_RETURN(std::string input, args.Required("input"));
  FLS_ASSIGN_OR_RETURN(data::LoadOptions options, LoadOptionsFromArgs(args));
  return data::LoadDataset(input, options);
}

const std::set<std::string>& ReportFlagNames() {
  static const std::set<std::string>* names = new std::set<std::string>{
      "label-col", "batch-col", "seed", "out", "threads", "n-clusters", "metric"};
  return *names;
}

const char kReportFlagsHelp[] =
    "  --out DIR           where embedding.tsv, metrics.json and embedding.svg go (required)\n"
    "  --label-col COL     metadata column of cell types (default: cell_type if present)\n"
    "  --batch-col COL     metadata column of batches (default: batch if present)\n"
    "  --seed N            seed of everything random (default 0)\n"
    "  --threads N         threads (default 1)\n"
    "  --n-clusters K      Leiden clusters to tune to (default: the number of labels)\n"
    "  --metric cosine|euclidean   distance of the kNN graph (default cosine)\n";

absl::StatusOr<std::vector<std::string>> MetadataColumn(const data::CellMetadata& metadata,
                                                        const std::string& name) {
  if (name.empty()) return std::vector<std::string>{};
  const int c = metadata.Find(name);
  if (c < 0) {
    std::string known;
    for (const std::string& n : metadata.names) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
    return absl::InvalidArgumentError(absl::StrCat("no metadata column '", name, "' (columns: ",
                                                   known.empty() ? "none" : known, ")"));
  }
  return metadata.columns[c];
}

absl::StatusOr<ReportSettings> ReportSettingsFromArgs(const Args& args,
                                                      const data::CellMetadata& metadata) {
  ReportSettings settings;
  FLS_ASSIGN_OR_RETURN(settings.out_dir, args.Required("out"));
  settings.label_col = args.Get("label-col", metadata.Find("cell_type") >= 0 ? "cell_type" : "");
  settings.batch_col = args.Get("batch-col", metadata.Find("batch") >= 0 ? "batch" : "");
  FLS_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  FLS_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  FLS_ASSIGN_OR_RETURN(int64_t clusters, args.GetInt("n-clusters", 0));
  if (seed < 0 || threads < 1 || threads > 256 || clusters < 0) {
    return absl::InvalidArgumentError(
        "--seed must be >= 0, --threads in [1, 256], --n-clusters >= 0");
  }
  const std::string metric = args.Get("metric", "cosine");
  if (metric != "cosine" && metric != "euclidean") {
    return absl::InvalidArgumentError("--metric: expected cosine or euclidean");
  }
  settings.seed = static_cast<uint64_t>(seed);
  settings.threads = static_cast<int>(threads);
  settings.evaluate.seed = settings.seed;
  settings.evaluate.threads = settings.threads;
  settings.evaluate.n_clusters = static_cast<int>(clusters);
  // Cosine: LSI's Leiden ARI on granja2019_bmmc 0.58 vs 0.48 Euclidean, and 1.00 vs 0.84 on
  // buenrostro2015 (issue #3 evidence); the VAE's latent means behave alike.
  settings.evaluate.metric =
      metric == "cosine" ? eval::DistanceMetric::kCosine : eval::DistanceMetric::kEuclidean;
  // Check the columns now, before any long computation.
  FLS_RETURN_IF_ERROR(MetadataColumn(metadata, settings.label_col).status());
  FLS_RETURN_IF_ERROR(MetadataColumn(metadata, settings.batch_col).status());
  FLS_RETURN_IF_ERROR(MakeDirectories(settings.out_dir));
  return settings;
}

absl::StatusOr<eval::EvaluationMetrics> WriteEmbeddingReport(
    const ReportSettings& settings, const std::vector<std::string>& barcodes,
    const data::CellMetadata& metadata, const data::DenseMatrix& embedding,
    const std::string& method, double seconds) {
  FLS_ASSIGN_OR_RETURN(std::vector<std::string> labels,
                       MetadataColumn(metadata, settings.label_col));
  FLS_ASSIGN_OR_RETURN(std::vector<std::string> batches,
                       MetadataColumn(metadata, settings.batch_col));
  FLS_RETURN_IF_ERROR(data::WriteEmbeddingTsv(settings.out_dir + "/embedding.tsv", barcodes,
                                              embedding));
  FLS_ASSIGN_OR_RETURN(eval::Evaluation evaluation,
                       eval::Evaluate(embedding, labels, batches, settings.evaluate));
  evaluation.metrics.seconds = seconds;
  {
    FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(settings.out_dir + "/metrics.json"));
    FLS_RETURN_IF_ERROR(out->Write(eval::MetricsToJson(evaluation.metrics)));
    FLS_RETURN_IF_ERROR(out->Close());
  }

  eval::LayoutOptions layout_options;
  layout_options.seed = settings.seed;
  layout_options.threads = settings.threads;
  FLS_ASSIGN_OR_RETURN(eval::Layout layout, eval::ComputeLayout(embedding, layout_options));
  std::vector<eval::PlotPanel> panels;
  if (!labels.empty()) panels.push_back(AnnotationPanel(settings.label_col, labels));
  if (!batches.empty()) panels.push_back(AnnotationPanel(settings.batch_col, batches));
  eval::PlotPanel clusters;
  clusters.title = "Leiden clusters";
  clusters.codes = evaluation.clusters;
  for (int64_t c = 0; c < evaluation.metrics.n_clusters; ++c) {
    clusters.names.push_back(absl::StrCat(c));
  }
  panels.push_back(std::move(clusters));
  eval::SvgOptions svg;
  svg.title = absl::StrCat(method, ": ", barcodes.size(), " cells");
  svg.seed = settings.seed;
  FLS_RETURN_IF_ERROR(
      eval::WriteEmbeddingSvg(settings.out_dir + "/embedding.svg", layout, panels, svg));

  const eval::EvaluationMetrics& m = evaluation.metrics;
  std::printf("%s: %lld cells, %lld dims, %.1f s\n", method.c_str(),
              static_cast<long long>(embedding.rows), static_cast<long long>(embedding.cols),
              seconds);
  std::printf("  ARI %s  NMI %s  AMI %s  homogeneity %s  clusters %lld\n", Format(m.ari).c_str(),
              Format(m.nmi).c_str(), Format(m.ami).c_str(), Format(m.homogeneity).c_str(),
              static_cast<long long>(m.n_clusters));
  std::printf("  label ASW %s  batch ASW %s  graph connectivity %s  iLISI %s  kBET %s\n",
              Format(m.label_asw).c_str(), Format(m.batch_asw).c_str(),
              Format(m.graph_connectivity).c_str(), Format(m.ilisi).c_str(),
              Format(m.kbet).c_str());
  std::printf("  wrote %s/{embedding.tsv,metrics.json,embedding.svg}\n", settings.out_dir.c_str());
  return m;
}

}  // namespace flsailer::cli
