// Clustering of an embedding: Leiden on the neighbour graph (what Scanpy users run), with a search
// of the resolution that yields a given number of clusters ("Leiden tuned to the label count", as
// SAILER's and SCALE's evaluations do), and k-means with k-means++ initialisation.
//
// Thread safety: every function is thread-compatible. The Leiden functions share igraph, whose
// state is process-wide in Debian's build; calls from several threads are serialised internally.
#ifndef FLSAILER_LIBS_EVAL_CLUSTER_H_
#define FLSAILER_LIBS_EVAL_CLUSTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "libs/eval/knn.h"

namespace flsailer::eval {

struct LeidenOptions {
  // Resolution gamma of the modularity objective (Reichardt & Bornholdt's configuration model,
  // leidenalg's RBConfigurationVertexPartition, Scanpy's sc.tl.leiden): higher gives more, smaller
  // clusters. It is passed to igraph's Leiden (whose objective is CPM) as node weights = weighted
  // degrees and resolution gamma / (2m), which turns CPM into modularity.
  double resolution = 1.0;
  // Randomness of the refinement step (igraph's and leidenalg's default).
  double beta = 0.01;
  // Passes of the algorithm, each refining the previous partition. The default is that of
  // Scanpy's igraph flavour (sc.tl.leiden(flavor="igraph")); further passes rarely change the
  // quality on kNN graphs but a few boundary cells may keep flipping, each pass costing as much
  // as the first. Negative repeats until the partition no longer changes (leidenalg's
  // n_iterations = -1), at most 50 passes.
  int iterations = 2;
  // Seeds igraph's random number generator for each run: the same graph and seed give the same
  // clusters.
  uint64_t seed = 0;
};

struct Clustering {
  // Cluster of each cell, numbered by decreasing size (0 = largest; ties by first cell).
  std::vector<int32_t> assignments;
  int32_t num_clusters = 0;
  // The resolution that produced it.
  double resolution = 0;
};

// Leiden on `graph` with its edge weights. Error: an empty graph (InvalidArgument), an igraph
// failure (Internal / ResourceExhausted).
absl::StatusOr<Clustering> Leiden(const NeighborGraph& graph, const LeidenOptions& options);

struct ResolutionSearchOptions {
  // Runs of Leiden at most (each costs about as much as one Leiden call).
  int max_runs = 30;
  // Largest resolution tried while looking for enough clusters.
  double max_resolution = 256;
  // The search also stops once the bracketing interval of resolutions is narrower than this
  // (e.g. when the graph has more connected components than the target: every resolution then
  // gives too many clusters).
  double tolerance = 1e-4;
};

// Leiden tuned to `target` clusters. Starts at options.resolution; while there are too few
// clusters, the resolution doubles; once the target is bracketed, it bisects [lo, hi] (as SAILER's
// getNClusters). Stops at the first run with exactly `target` clusters, after max_runs, or when
// the interval is narrower than `tolerance`; then returns the run closest to the target (ties: the
// earliest). The cluster count is not monotone in the resolution, so an exact match is likely,
// not guaranteed; check num_clusters.
// Errors: target < 1 or target > number of nodes (InvalidArgument), as Leiden().
absl::StatusOr<Clustering> LeidenWithClusterCount(const NeighborGraph& graph, int target,
                                                  const LeidenOptions& options,
                                                  const ResolutionSearchOptions& search = {});

struct KMeansOptions {
  int k = 8;
  // Independent k-means++ initialisations; the result with the lowest inertia is kept
  // (scikit-learn's n_init before version 1.4).
  int restarts = 10;
  int max_iterations = 300;
  // Converged when the summed squared movement of the centroids is at most tolerance x the mean
  // per-dimension variance of the data, or when no assignment changes (scikit-learn's rule).
  double tolerance = 1e-4;
  uint64_t seed = 0;
  // Threads for the assignment step (results do not depend on it).
  int threads = 1;
};

struct KMeansResult {
  data::DenseMatrix centroids;  // k x dims
  std::vector<int32_t> assignments;
  // Sum of squared distances of the cells to their centroids.
  double inertia = 0;
};

// Lloyd's k-means with greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with scikit-learn's
// 2 + ln k candidates per step). A cluster that empties is re-seeded with the cell farthest from
// its centroid. Errors: invalid embedding (ValidateEmbedding), k < 1 or k > rows, restarts < 1,
// max_iterations < 1, tolerance < 0 (InvalidArgument).
absl::StatusOr<KMeansResult> KMeans(const data::DenseMatrix& points, const KMeansOptions& options);

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_CLUSTER_H_
