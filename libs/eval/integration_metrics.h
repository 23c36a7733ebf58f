// How well an embedding mixes batches while keeping cell types together: scIB's graph
// connectivity, graph iLISI and kBET (Luecken et al. 2022, Nat Methods; scib.metrics).
//
// Codes: labels and batches are integer codes per cell. A negative label marks an unlabelled cell,
// left out of the label-conditioned metrics; batches must be non-negative.
// Thread safety: thread-compatible.
#ifndef FLSAILER_LIBS_EVAL_INTEGRATION_METRICS_H_
#define FLSAILER_LIBS_EVAL_INTEGRATION_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "libs/eval/knn.h"

namespace flsailer::eval {

// scIB graph connectivity: for each label, the fraction of its cells in the largest connected
// component of the kNN graph restricted to the cells of that label (edges taken undirected, as
// Scanpy's symmetric connectivities), averaged over labels; 1 = every cell type is one connected
// piece. NaN when no cell is labelled. Errors: labels.size() != knn.num_cells (InvalidArgument).
absl::StatusOr<double> GraphConnectivity(const KnnGraph& knn, const std::vector<int32_t>& labels);

// Local inverse Simpson's index (Korsunsky et al. 2019, harmony's compute_lisi) of `categories`
// for every cell: over the cell's first min(knn.k, 3 * perplexity) neighbours, weights
// p_j ~ exp(-beta d_j) with beta bisected (at most 50 steps, |H - log(perplexity)| < 1e-5) so
// that their entropy is log(perplexity); LISI = 1 / sum_c (sum of p_j over neighbours of
// category c)^2, between 1 and the number of categories. The perplexity is lowered to k / 3 when
// the graph has fewer than 3 * perplexity neighbours (scIB does the same). Unlike compute_lisi,
// distances are shifted by the nearest before exponentiating (the same weights, no underflow), so
// no cell gets compute_lisi's -1 "undefined" value.
// Errors: categories.size() != knn.num_cells, a negative category, perplexity <= 0.
absl::StatusOr<std::vector<double>> LocalInverseSimpson(const KnnGraph& knn,
                                                        const std::vector<int32_t>& categories,
                                                        double perplexity = 30, int threads = 1);

// scIB's graph iLISI rescaled to [0, 1]: (median per-cell batch LISI - 1) / (batches - 1), where
// 1 means the median neighbourhood holds every batch in equal shares and 0 a single batch. scIB
// computes it on a 90-nearest-neighbour graph (perplexity 30). NaN with a single batch.
// Errors: as LocalInverseSimpson.
absl::StatusOr<double> Ilisi(const KnnGraph& knn, const std::vector<int32_t>& batches,
                             double perplexity = 30, int threads = 1);

struct KbetOptions {
  // Significance level of each cell's test.
  double alpha = 0.05;
  // Cells tested per label at most; a seeded uniform sample above (kBET tests 10% of the cells
  // in each of 100 random repeats: its expected rejection rate is that of testing every cell).
  int64_t max_tested_cells = 5000;
  uint64_t seed = 0;
  int threads = 1;
};

// kBET acceptance rate (Buettner et al. 2019) per label as scib.metrics.kBET runs it. For each
// label with at least 10 cells from at least 2 batches: neighbourhood size
// k0 = min(70, max(10, floor(mean cells per batch of the label / 4))); each tested cell's
// neighbourhood is itself and its k0 - 1 nearest cells of the same label (exact Euclidean kNN on
// the embedding; scIB uses diffusion distances on the label's kNN subgraph instead); Pearson's
// chi-square test of its batch counts against k0 x the label's batch frequencies, with
// (batches in the label - 1) degrees of freedom, rejects at `alpha`. Result: 1 - mean over labels
// of the rejection rate (1 = batches indistinguishable locally). Labels that are too small or
// hold one batch are skipped (NaN in scIB); scIB's extra rule that scores a label whose kNN
// subgraph splits into small components as fully rejected is not applied. NaN when every label
// is skipped (e.g. a single batch).
// Errors: invalid embedding, sizes != rows, negative batch, alpha not in (0, 1).
absl::StatusOr<double> KbetAcceptance(const data::DenseMatrix& points,
                                      const std::vector<int32_t>& labels,
                                      const std::vector<int32_t>& batches,
                                      const KbetOptions& options = {});

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_INTEGRATION_METRICS_H_
