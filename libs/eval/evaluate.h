// libs/eval public entry point: everything single-cell analysts judge an embedding by, in one call.
//
//   embedding -> kNN graph -> Leiden tuned to the label count -> clusters
//             -> ARI, NMI, AMI, homogeneity (clusters vs labels), label ASW, batch ASW,
//                graph connectivity, iLISI, kBET (scIB's definitions; see the headers below)
//
// The pieces are public too: knn.h, cluster.h, partition_metrics.h, silhouette.h,
// integration_metrics.h; pictures: layout.h and svg_plot.h.
//
// Missing values. An empty label string marks an unlabelled cell: it is clustered, but left out
// of every label-based metric and of the label count. Batch strings are taken as they are (the
// empty string is a batch like any other).
//
// Undefined metrics are absent from EvaluationMetrics (null in the JSON):
//   - without labels: ari, nmi, ami, homogeneity, label_asw, batch_asw, graph_connectivity, kbet
//     (scIB conditions batch ASW and kBET on labels);
//   - without batches or with a single batch: batch_asw, ilisi, kbet;
//   - label_asw with one label (or as many labels as cells), batch_asw / kbet when no label has
//     cells from two batches (and for kBET at least 10 cells).
//
// Cost at 10^5 cells: HNSW kNN (built on one thread), a dozen Leiden runs, silhouettes of 10,000
// sampled cells against all cells, kBET on <= 5,000 cells per label.
//
// Thread safety: thread-compatible.
#ifndef FLSAILER_LIBS_EVAL_EVALUATE_H_
#define FLSAILER_LIBS_EVAL_EVALUATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "libs/eval/cluster.h"
#include "libs/eval/knn.h"

namespace flsailer::eval {

struct EvaluateOptions {
  // Neighbours per cell of the graph that is clustered and whose connectivity is scored
  // (Scanpy's default 15).
  int n_neighbors = 15;
  // kCosine: every step (kNN, silhouettes, kBET) works on the L2-normalised rows.
  DistanceMetric metric = DistanceMetric::kEuclidean;
  EdgeWeighting weighting = EdgeWeighting::kUmap;
  // Exact kNN up to this many cells, HNSW above (see knn.h).
  int64_t exact_max_cells = 50000;
  // Clusters Leiden is tuned to; 0 = the number of distinct labels. Without labels and with 0,
  // Leiden runs once at `resolution`. The count reached is the closest the search finds (see
  // LeidenWithClusterCount); it exceeds the target when the kNN graph has more connected
  // components than the target, since Leiden never joins components.
  int n_clusters = 0;
  // Leiden's resolution (the starting point of the search when tuning).
  double resolution = 1.0;
  // iLISI perplexity; the kNN search finds 3 x perplexity neighbours when there are batches.
  double lisi_perplexity = 30;
  // kBET significance level and tested cells per label (see integration_metrics.h).
  double kbet_alpha = 0.05;
  int64_t kbet_max_tested_cells = 5000;
  // Silhouettes are computed for at most this many sampled cells per set (see silhouette.h).
  int64_t silhouette_max_cells = 10000;
  // Seeds everything random (HNSW, Leiden, samples): the same inputs and seed give the same
  // result, whatever `threads` is.
  uint64_t seed = 0;
  int threads = 1;
};

// The flat record `flsailer evaluate`, `train` and `lsi` write as metrics.json.
struct EvaluationMetrics {
  std::optional<double> ari;
  std::optional<double> nmi;
  std::optional<double> ami;
  std::optional<double> homogeneity;
  std::optional<double> label_asw;
  std::optional<double> batch_asw;
  std::optional<double> graph_connectivity;
  std::optional<double> ilisi;
  std::optional<double> kbet;
  int64_t n_clusters = 0;
  std::optional<double> seconds;  // wall time of the whole run, filled by the caller
};

// One JSON object on one line with the keys above in that order, null for absent values, numbers
// in shortest round-trip form, and a trailing newline.
std::string MetricsToJson(const EvaluationMetrics& metrics);

struct Evaluation {
  EvaluationMetrics metrics;
  std::vector<int32_t> clusters;  // per cell, numbered by decreasing cluster size
  double resolution = 0;          // Leiden resolution that produced them
  KnnGraph knn;                   // the n_neighbors graph that was clustered
};

// Evaluates `embedding` (cells x dims). `labels` and `batches` are per cell or empty.
// Errors (InvalidArgument): invalid embedding (fewer than 2 cells, NaN/Inf: ValidateEmbedding),
// labels or batches of the wrong length, bad options; and those of the steps.
absl::StatusOr<Evaluation> Evaluate(const data::DenseMatrix& embedding,
                                    const std::vector<std::string>& labels,
                                    const std::vector<std::string>& batches,
                                    const EvaluateOptions& options = {});

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_EVALUATE_H_
