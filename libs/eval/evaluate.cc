#include "libs/eval/evaluate.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/eval/categories.h"
#include "libs/eval/integration_metrics.h"
#include "libs/eval/partition_metrics.h"
#include "libs/eval/silhouette.h"

namespace flsailer::eval {
namespace {

std::optional<double> Defined(double value) {
  if (std::isnan(value)) return std::nullopt;
  return value;
}

void AppendNumber(std::string* out, const std::optional<double>& value) {
  if (!value.has_value() || !std::isfinite(*value)) {
    *out += "null";
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), *value);
  out->append(buffer, result.ptr);
}

absl::Status CheckOptions(const EvaluateOptions& options) {
  if (options.n_neighbors < 1 || options.n_clusters < 0 || !(options.resolution > 0) ||
      !(options.lisi_perplexity > 0) || options.threads < 1 || options.exact_max_cells < 0 ||
      options.silhouette_max_cells < 0 || options.kbet_max_tested_cells < 0) {
    return absl::InvalidArgumentError(
        "evaluate: n_neighbors, threads, resolution and lisi_perplexity must be positive; "
        "n_clusters and the cell limits non-negative");
  }
  return absl::OkStatus();
}

}  // namespace

std::string MetricsToJson(const EvaluationMetrics& m) {
  std::string out = "{";
  const std::pair<const char*, const std::optional<double>*> fields[] = {
      {"ari", &m.ari},
      {"nmi", &m.nmi},
      {"ami", &m.ami},
      {"homogeneity", &m.homogeneity},
      {"label_asw", &m.label_asw},
      {"batch_asw", &m.batch_asw},
      {"graph_connectivity", &m.graph_connectivity},
      {"ilisi", &m.ilisi},
      {"kbet", &m.kbet},
  };
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, "\"", key, "\": ");
    AppendNumber(&out, *value);
    out += ", ";
  }
  absl::StrAppend(&out, "\"n_clusters\": ", m.n_clusters, ", \"seconds\": ");
  AppendNumber(&out, m.seconds);
  out += "}\n";
  return out;
}

absl::StatusOr<Evaluation> Evaluate(const data::DenseMatrix& embedding,
                                    const std::vector<std::string>& labels,
                                    const std::vector<std::string>& batches,
                                    const EvaluateOptions& options) {
  FLS_RETURN_IF_ERROR(CheckOptions(options));
  FLS_RETURN_IF_ERROR(ValidateEmbedding(embedding));
  if (options.metric == DistanceMetric::kCosine) {
    EvaluateOptions euclidean = options;
    euclidean.metric = DistanceMetric::kEuclidean;
    return Evaluate(NormalizeRows(embedding), labels, batches, euclidean);
  }
  const int64_t n = embedding.rows;
  if (n < 2) return absl::InvalidArgumentError("evaluate: the embedding has a single cell");
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluate: ", labels.size(), " labels for ", n, " cells"));
  }
  if (!batches.empty() && static_cast<int64_t>(batches.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluate: ", batches.size(), " batches for ", n, " cells"));
  }

  // Labels: codes with the empty string as "unlabelled" (-1).
  std::vector<int32_t> label_codes;
  int32_t num_labels = 0;
  if (!labels.empty()) {
    Categories categories = EncodeCategories(labels);
    const bool has_empty = !categories.names.empty() && categories.names.front().empty();
    label_codes = std::move(categories.codes);
    if (has_empty) {
      for (int32_t& code : label_codes) --code;  // "" sorts first: code 0 becomes -1
    }
    num_labels = static_cast<int32_t>(categories.names.size()) - (has_empty ? 1 : 0);
  }
  const bool labelled = num_labels > 0;
  std::vector<int32_t> batch_codes;
  int32_t num_batches = 0;
  if (!batches.empty()) {
    Categories categories = EncodeCategories(batches);
    batch_codes = std::move(categories.codes);
    num_batches = static_cast<int32_t>(categories.names.size());
  }
  const bool mixed = num_batches >= 2;

  // One kNN search serves clustering, graph connectivity and iLISI (which needs more neighbours).
  const int cluster_k = static_cast<int>(std::min<int64_t>(options.n_neighbors, n - 1));
  int search_k = cluster_k;
  if (mixed) {
    search_k = static_cast<int>(
        std::min<double>(std::max<double>(cluster_k, std::floor(3 * options.lisi_perplexity)),
                         static_cast<double>(n - 1)));
  }
  KnnOptions knn_options;
  knn_options.k = search_k;
  knn_options.exact_max_cells = options.exact_max_cells;
  knn_options.seed = options.seed;
  knn_options.threads = options.threads;
  FLS_ASSIGN_OR_RETURN(KnnGraph search, BuildKnnGraph(embedding, knn_options));

  Evaluation result;
  result.knn = search_k == cluster_k ? search : TruncateKnnGraph(search, cluster_k);
  const NeighborGraph graph = BuildNeighborGraph(result.knn, options.weighting);
  LeidenOptions leiden;
  leiden.resolution = options.resolution;
  leiden.seed = options.seed;
  const int target = options.n_clusters > 0 ? options.n_clusters : num_labels;
  Clustering clustering;
  if (target > 0) {
    FLS_ASSIGN_OR_RETURN(clustering, LeidenWithClusterCount(graph, target, leiden));
  } else {
    FLS_ASSIGN_OR_RETURN(clustering, Leiden(graph, leiden));
  }
  result.clusters = std::move(clustering.assignments);
  result.resolution = clustering.resolution;
  EvaluationMetrics& metrics = result.metrics;
  metrics.n_clusters = clustering.num_clusters;

  SilhouetteOptions silhouette;
  silhouette.max_cells = options.silhouette_max_cells;
  silhouette.seed = options.seed;
  silhouette.threads = options.threads;
  if (labelled) {
    FLS_ASSIGN_OR_RETURN(PartitionAgreement agreement,
                         ComparePartitions(label_codes, result.clusters));
    metrics.ari = agreement.ari;
    metrics.nmi = agreement.nmi;
    metrics.ami = agreement.ami;
    metrics.homogeneity = agreement.homogeneity;
    FLS_ASSIGN_OR_RETURN(double label_asw, LabelAsw(embedding, label_codes, silhouette));
    metrics.label_asw = Defined(label_asw);
    FLS_ASSIGN_OR_RETURN(double connectivity, GraphConnectivity(result.knn, label_codes));
    metrics.graph_connectivity = Defined(connectivity);
  }
  if (mixed) {
    FLS_ASSIGN_OR_RETURN(double ilisi,
                         Ilisi(search, batch_codes, options.lisi_perplexity, options.threads));
    metrics.ilisi = Defined(ilisi);
  }
  if (labelled && mixed) {
    FLS_ASSIGN_OR_RETURN(double batch_asw,
                         BatchAsw(embedding, label_codes, batch_codes, silhouette));
    metrics.batch_asw = Defined(batch_asw);
    KbetOptions kbet;
    kbet.alpha = options.kbet_alpha;
    kbet.max_tested_cells = options.kbet_max_tested_cells;
    kbet.seed = options.seed;
    kbet.threads = options.threads;
    FLS_ASSIGN_OR_RETURN(double kbet_rate,
                         KbetAcceptance(embedding, label_codes, batch_codes, kbet));
    metrics.kbet = Defined(kbet_rate);
  }
  return result;
}

}  // namespace flsailer::eval
