// k-nearest-neighbour graphs of an embedding: the structure every clustering, batch-mixing metric
// and layout in libs/eval is computed on.
//
// Search. Below KnnOptions::exact_max_cells cells the search is exact (brute force over tiles of
// points, multithreaded over queries). Above it, an HNSW index (hnswlib, Malkov & Yashunin 2018)
// is built with M = hnsw_m links per node and ef_construction = hnsw_ef_construction, and queried
// with ef = max(hnsw_ef_search, k + 1). The index is built on one thread, inserting cells in order
// with hnswlib's level generator seeded from KnnOptions::seed, because concurrent insertion makes
// the graph depend on thread timing; queries then run on `threads` threads. With the defaults,
// measured recall of the 90 nearest neighbours on 15 Gaussian clusters of 20,000 cells was 0.999
// in 10 and 0.993 in 50 dimensions (ef_construction = 200 costs 1.6x the build time for little
// gain).
//
// Thread safety: every function here is thread-compatible (no shared state).
#ifndef FLSAILER_LIBS_EVAL_KNN_H_
#define FLSAILER_LIBS_EVAL_KNN_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::eval {

enum class DistanceMetric {
  kEuclidean,
  // Rows are L2-normalised first, and distances are Euclidean between the normalised rows,
  // sqrt(2 - 2 cos), which ranks neighbours exactly as cosine similarity does. An all-zero row
  // stays at the origin (distance 1 to every other normalised row).
  kCosine,
};

struct KnnOptions {
  // Neighbours per cell, the cell itself excluded (Scanpy's n_neighbors = 15 counts the cell
  // itself, i.e. 14 others).
  int k = 15;
  DistanceMetric metric = DistanceMetric::kEuclidean;
  // Exact search up to this many cells, HNSW above.
  int64_t exact_max_cells = 50000;
  // HNSW links per node and candidate-list sizes at construction and at query time.
  int hnsw_m = 16;
  int hnsw_ef_construction = 100;
  int hnsw_ef_search = 100;
  // Seeds HNSW's level generator (the exact search is deterministic by itself).
  uint64_t seed = 0;
  // Threads for the exact search and for HNSW queries.
  int threads = 1;
};

// For each cell its k nearest other cells, nearest first (ties by index in the exact search).
struct KnnGraph {
  int64_t num_cells = 0;
  int k = 0;
  std::vector<int32_t> indices;  // num_cells * k, row-major
  std::vector<float> distances;  // num_cells * k, Euclidean (after normalisation for kCosine)

  int32_t neighbor(int64_t cell, int j) const { return indices[static_cast<size_t>(cell * k + j)]; }
  float distance(int64_t cell, int j) const { return distances[static_cast<size_t>(cell * k + j)]; }
};

// OK iff the matrix is non-empty (rows, cols >= 1), data.size() == rows * cols, rows < 2^31 - 1
// and every value is finite and at most 1e15 in magnitude (so that squared distances cannot
// overflow). The message names the first offending cell.
absl::Status ValidateEmbedding(const data::DenseMatrix& embedding);

// The k-nearest-neighbour graph of the rows of `points`.
// Errors: an invalid embedding (see ValidateEmbedding), k < 1 or k >= rows (InvalidArgument),
// bad HNSW parameters, or an HNSW failure (Internal).
absl::StatusOr<KnnGraph> BuildKnnGraph(const data::DenseMatrix& points, const KnnOptions& options);

// `points` with each row scaled to unit Euclidean length (all-zero rows stay zero).
data::DenseMatrix NormalizeRows(const data::DenseMatrix& points);

// The first k neighbours of each cell of `graph`. REQUIRES: 1 <= k <= graph.k.
KnnGraph TruncateKnnGraph(const KnnGraph& graph, int k);

// How the symmetric, weighted graph handed to Leiden is made from a kNN graph.
enum class EdgeWeighting {
  // Scanpy's default (sc.pp.neighbors, method "umap"; McInnes et al. 2018): directed weights
  // w_ij = exp(-(d_ij - rho_i) / sigma_i), rho_i the distance to the nearest neighbour and sigma_i
  // solved so that sum_j w_ij = log2(k + 1), symmetrised by fuzzy union w + w^T - w * w^T.
  kUmap,
  // Shared nearest neighbours (Seurat, PhenoGraph): each kNN edge i-j weighs the Jaccard index of
  // the neighbourhoods of i and j, each including the cell itself; edges below 1/15 are pruned as
  // in Seurat's FindNeighbors.
  kJaccard,
  // Every edge of the union of kNN edges (i in kNN(j) or j in kNN(i)) weighs 1.
  kUnit,
};

// An undirected graph with positive edge weights, each edge once (from < to), sorted by
// (from, to).
struct NeighborGraph {
  int64_t num_nodes = 0;
  std::vector<int32_t> from;
  std::vector<int32_t> to;
  std::vector<double> weights;

  int64_t num_edges() const { return static_cast<int64_t>(from.size()); }
};

// The symmetric graph of `knn` weighted by `weighting`. Its edges are the union of the kNN edges
// (for kJaccard minus the pruned ones).
NeighborGraph BuildNeighborGraph(const KnnGraph& knn, EdgeWeighting weighting);

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_KNN_H_
