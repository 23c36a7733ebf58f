#include "libs/eval/cluster.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/eval/igraph_bridge.h"
#include "libs/eval/parallel.h"
#include "libs/eval/random.h"

namespace flsailer::eval {
namespace {

using internal::IgraphGraph;
using internal::IgraphSession;

// Renumbers clusters by decreasing size, ties by their first cell, so that numbering does not
// depend on igraph's internal order.
int32_t CanonicalNumbering(std::vector<int32_t>* assignments) {
  int32_t max_label = -1;
  for (int32_t a : *assignments) max_label = std::max(max_label, a);
  const size_t labels = static_cast<size_t>(max_label) + 1;
  std::vector<int64_t> size(labels, 0), first(labels, std::numeric_limits<int64_t>::max());
  for (size_t i = 0; i < assignments->size(); ++i) {
    const size_t a = static_cast<size_t>((*assignments)[i]);
    ++size[a];
    first[a] = std::min(first[a], static_cast<int64_t>(i));
  }
  std::vector<int32_t> order;
  for (size_t a = 0; a < labels; ++a) {
    if (size[a] > 0) order.push_back(static_cast<int32_t>(a));
  }
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    return size[x] != size[y] ? size[x] > size[y] : first[x] < first[y];
  });
  std::vector<int32_t> renumber(labels, -1);
  for (size_t r = 0; r < order.size(); ++r) renumber[order[r]] = static_cast<int32_t>(r);
  for (int32_t& a : *assignments) a = renumber[static_cast<size_t>(a)];
  return static_cast<int32_t>(order.size());
}

// Renumbers clusters in order of first appearance, so that equal partitions compare equal.
void FirstAppearanceNumbering(std::vector<int32_t>* assignments) {
  absl::flat_hash_map<int32_t, int32_t> renumber;
  for (int32_t& a : *assignments) {
    a = renumber.emplace(a, static_cast<int32_t>(renumber.size())).first->second;
  }
}

// Passes at most when LeidenOptions::iterations is negative ("until stable").
constexpr int kMaxPassesUntilStable = 50;

// A graph loaded into igraph once, clustered at several resolutions.
class LeidenRunner {
 public:
  explicit LeidenRunner(const LeidenOptions& options) : options_(options), session_(options.seed) {}
  ~LeidenRunner() {
    if (has_strength_) igraph_vector_destroy(&strength_);
  }

  absl::Status Init(const NeighborGraph& graph) {
    if (graph.num_nodes < 1) return absl::InvalidArgumentError("Leiden: the graph has no nodes");
    num_nodes_ = graph.num_nodes;
    FLS_RETURN_IF_ERROR(graph_.Init(graph));
    FLS_RETURN_IF_ERROR(
        IgraphSession::Check(igraph_vector_init(&strength_, 0), "Leiden: strength vector"));
    has_strength_ = true;
    FLS_RETURN_IF_ERROR(
        IgraphSession::Check(igraph_strength(graph_.graph(), &strength_, igraph_vss_all(),
                                             IGRAPH_ALL, /*loops=*/true, graph_.weights()),
                             "Leiden: node strengths"));
    total_strength_ = igraph_vector_sum(&strength_);
    return absl::OkStatus();
  }

  absl::StatusOr<Clustering> Run(double resolution) {
    if (!(resolution >= 0) || !std::isfinite(resolution)) {
      return absl::InvalidArgumentError(absl::StrCat("Leiden: bad resolution ", resolution));
    }
    Clustering result;
    result.resolution = resolution;
    if (!(total_strength_ > 0)) {
      // No edges: every cell is its own cluster (and igraph would divide by 2m = 0).
      result.assignments.resize(static_cast<size_t>(num_nodes_));
      std::iota(result.assignments.begin(), result.assignments.end(), 0);
      result.num_clusters = CanonicalNumbering(&result.assignments);
      return result;
    }
    // Reseed before every run: a given (graph, resolution, seed) always gives the same clusters,
    // whatever ran before.
    igraph_rng_seed(igraph_rng_default(), static_cast<igraph_uint_t>(options_.seed));
    igraph_vector_int_t membership;
    FLS_RETURN_IF_ERROR(
        IgraphSession::Check(igraph_vector_int_init(&membership, 0), "Leiden: membership"));
    // Passes are run one at a time, each starting from the previous partition, rather than with
    // igraph's own "until stable" mode (n_iterations < 0), which in igraph 0.10.2 can cycle
    // forever (seen on two nodes at resolution 2).
    const int passes = options_.iterations > 0 ? options_.iterations : kMaxPassesUntilStable;
    std::vector<int32_t> previous;
    igraph_error_t code = IGRAPH_SUCCESS;
    for (int pass = 0; pass < passes; ++pass) {
      igraph_integer_t clusters = 0;
      igraph_real_t quality = 0;
      code = igraph_community_leiden(
          graph_.graph(), graph_.weights(), &strength_, resolution / total_strength_, options_.beta,
          /*start=*/pass > 0, /*n_iterations=*/1, &membership, &clusters, &quality);
      if (code != IGRAPH_SUCCESS) break;
      result.assignments.resize(static_cast<size_t>(num_nodes_));
      for (int64_t i = 0; i < num_nodes_; ++i) {
        result.assignments[static_cast<size_t>(i)] = static_cast<int32_t>(VECTOR(membership)[i]);
      }
      FirstAppearanceNumbering(&result.assignments);
      if (options_.iterations < 0 && result.assignments == previous) break;
      previous = result.assignments;
    }
    igraph_vector_int_destroy(&membership);
    FLS_RETURN_IF_ERROR(IgraphSession::Check(code, "Leiden"));
    result.num_clusters = CanonicalNumbering(&result.assignments);
    return result;
  }

 private:
  LeidenOptions options_;
  IgraphSession session_;
  IgraphGraph graph_;
  igraph_vector_t strength_;
  bool has_strength_ = false;
  double total_strength_ = 0;
  int64_t num_nodes_ = 0;
};

absl::Status CheckLeidenOptions(const LeidenOptions& options) {
  if (!(options.beta > 0) || !std::isfinite(options.beta)) {
    return absl::InvalidArgumentError(absl::StrCat("Leiden: beta must be > 0, got ", options.beta));
  }
  if (options.iterations == 0) return absl::InvalidArgumentError("Leiden: iterations is 0");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Clustering> Leiden(const NeighborGraph& graph, const LeidenOptions& options) {
  FLS_RETURN_IF_ERROR(CheckLeidenOptions(options));
  LeidenRunner runner(options);
  FLS_RETURN_IF_ERROR(runner.Init(graph));
  return runner.Run(options.resolution);
}

absl::StatusOr<Clustering> LeidenWithClusterCount(const NeighborGraph& graph, int target,
                                                  const LeidenOptions& options,
                                                  const ResolutionSearchOptions& search) {
  FLS_RETURN_IF_ERROR(CheckLeidenOptions(options));
  if (target < 1 || target > graph.num_nodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("Leiden: cannot make ", target, " clusters of ", graph.num_nodes, " cells"));
  }
  if (search.max_runs < 1 || !(search.max_resolution > 0) || !(search.tolerance > 0)) {
    return absl::InvalidArgumentError(
        "Leiden: resolution search needs max_runs >= 1, max_resolution > 0 and tolerance > 0");
  }
  LeidenRunner runner(options);
  FLS_RETURN_IF_ERROR(runner.Init(graph));
  double resolution =
      options.resolution > 0 ? std::min(options.resolution, search.max_resolution) : 1.0;
  double lo = 0, hi = -1;  // hi < 0: no run with too many clusters yet
  Clustering best;
  int64_t best_gap = std::numeric_limits<int64_t>::max();
  for (int run = 0; run < search.max_runs; ++run) {
    FLS_ASSIGN_OR_RETURN(Clustering current, runner.Run(resolution));
    const int64_t gap = std::llabs(int64_t{current.num_clusters} - target);
    const bool too_few = current.num_clusters < target;
    if (gap < best_gap) {
      best_gap = gap;
      best = std::move(current);
    }
    if (gap == 0) break;
    if (too_few) {
      lo = resolution;
      if (hi < 0) {
        if (resolution >= search.max_resolution) break;
        resolution = std::min(2 * resolution, search.max_resolution);
        continue;
      }
    } else {
      hi = resolution;
    }
    if (hi - lo < search.tolerance) break;
    resolution = (lo + hi) / 2;
  }
  return best;
}

namespace {

double SquaredDistance(const float* a, const float* b, int64_t dims) {
  double sum = 0;
  for (int64_t t = 0; t < dims; ++t) {
    const double diff = double{a[t]} - b[t];
    sum += diff * diff;
  }
  return sum;
}

// Chunk size of the parallel assignment: fixed, so sums do not depend on the thread count.
constexpr int64_t kAssignGrain = 1024;

struct LloydState {
  std::vector<double> centroids;  // k x dims
  std::vector<int32_t> assignments;
  std::vector<double> distance2;  // each cell's squared distance to its centroid
  double inertia = 0;
};

// Assigns each cell to its nearest centroid; returns the number of changed assignments.
int64_t Assign(const data::DenseMatrix& points, int k, int threads, LloydState* state) {
  const int64_t dims = points.cols;
  std::vector<float> centroids(state->centroids.begin(), state->centroids.end());
  std::vector<int64_t> changed_per_chunk(
      static_cast<size_t>((points.rows + kAssignGrain - 1) / kAssignGrain), 0);
  internal::ParallelFor(points.rows, kAssignGrain, threads, [&](int64_t begin, int64_t end) {
    int64_t changed = 0;
    for (int64_t i = begin; i < end; ++i) {
      const float* x = &points.data[static_cast<size_t>(i * dims)];
      double best = std::numeric_limits<double>::infinity();
      int32_t best_c = 0;
      for (int c = 0; c < k; ++c) {
        const double d2 = SquaredDistance(x, &centroids[static_cast<size_t>(c * dims)], dims);
        if (d2 < best) {
          best = d2;
          best_c = c;
        }
      }
      changed += state->assignments[static_cast<size_t>(i)] != best_c;
      state->assignments[static_cast<size_t>(i)] = best_c;
      state->distance2[static_cast<size_t>(i)] = best;
    }
    changed_per_chunk[static_cast<size_t>(begin / kAssignGrain)] = changed;
  });
  state->inertia = 0;
  for (double d2 : state->distance2) state->inertia += d2;
  return std::accumulate(changed_per_chunk.begin(), changed_per_chunk.end(), int64_t{0});
}

// Centroids = means of their cells; an empty cluster takes the cell farthest from its centroid.
// Returns the summed squared movement of the centroids.
double Update(const data::DenseMatrix& points, int k, LloydState* state) {
  const int64_t dims = points.cols;
  std::vector<double> sums(static_cast<size_t>(k * dims), 0.0);
  std::vector<int64_t> counts(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < points.rows; ++i) {
    const int32_t c = state->assignments[static_cast<size_t>(i)];
    ++counts[static_cast<size_t>(c)];
    for (int64_t t = 0; t < dims; ++t) {
      sums[static_cast<size_t>(c * dims + t)] += points.data[static_cast<size_t>(i * dims + t)];
    }
  }
  std::vector<int64_t> far_first;  // cells by decreasing distance, computed only when needed
  size_t next_far = 0;
  double shift = 0;
  for (int c = 0; c < k; ++c) {
    double* centroid = &state->centroids[static_cast<size_t>(c * dims)];
    if (counts[static_cast<size_t>(c)] == 0) {
      if (far_first.empty()) {
        far_first.resize(static_cast<size_t>(points.rows));
        std::iota(far_first.begin(), far_first.end(), 0);
        std::stable_sort(far_first.begin(), far_first.end(), [&](int64_t a, int64_t b) {
          return state->distance2[static_cast<size_t>(a)] >
                 state->distance2[static_cast<size_t>(b)];
        });
      }
      const int64_t cell = far_first[next_far++];
      for (int64_t t = 0; t < dims; ++t) {
        const double value = points.data[static_cast<size_t>(cell * dims + t)];
        shift += (value - centroid[t]) * (value - centroid[t]);
        centroid[t] = value;
      }
      continue;
    }
    for (int64_t t = 0; t < dims; ++t) {
      const double value = sums[static_cast<size_t>(c * dims + t)] /
                           static_cast<double>(counts[static_cast<size_t>(c)]);
      shift += (value - centroid[t]) * (value - centroid[t]);
      centroid[t] = value;
    }
  }
  return shift;
}

// Greedy k-means++ as scikit-learn's _kmeans_plusplus.
std::vector<double> KMeansPlusPlus(const data::DenseMatrix& points, int k,
                                   internal::Random* random) {
  const int64_t n = points.rows;
  const int64_t dims = points.cols;
  const int trials = 2 + static_cast<int>(std::log(k));
  std::vector<double> centroids;
  auto add_centroid = [&](int64_t cell) {
    for (int64_t t = 0; t < dims; ++t) {
      centroids.push_back(points.data[static_cast<size_t>(cell * dims + t)]);
    }
  };
  const int64_t first = static_cast<int64_t>(random->Below(static_cast<uint64_t>(n)));
  add_centroid(first);
  std::vector<double> closest(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    closest[static_cast<size_t>(i)] =
        SquaredDistance(&points.data[static_cast<size_t>(i * dims)],
                        &points.data[static_cast<size_t>(first * dims)], dims);
  }
  std::vector<double> cumulative(static_cast<size_t>(n)), candidate_closest(static_cast<size_t>(n)),
      best_closest(static_cast<size_t>(n));
  for (int c = 1; c < k; ++c) {
    std::partial_sum(closest.begin(), closest.end(), cumulative.begin());
    const double potential = cumulative.back();
    double best_potential = std::numeric_limits<double>::infinity();
    int64_t best_cell = 0;
    for (int trial = 0; trial < trials; ++trial) {
      const double r = random->Uniform() * potential;
      int64_t cell = std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin();
      cell = std::min(cell, n - 1);
      double candidate_potential = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double d2 = SquaredDistance(&points.data[static_cast<size_t>(i * dims)],
                                          &points.data[static_cast<size_t>(cell * dims)], dims);
        candidate_closest[static_cast<size_t>(i)] = std::min(closest[static_cast<size_t>(i)], d2);
        candidate_potential += candidate_closest[static_cast<size_t>(i)];
      }
      if (candidate_potential < best_potential) {
        best_potential = candidate_potential;
        best_cell = cell;
        best_closest.swap(candidate_closest);
      }
    }
    add_centroid(best_cell);
    closest.swap(best_closest);
  }
  return centroids;
}

}  // namespace

absl::StatusOr<KMeansResult> KMeans(const data::DenseMatrix& points, const KMeansOptions& options) {
  FLS_RETURN_IF_ERROR(ValidateEmbedding(points));
  if (options.k < 1 || options.k > points.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("k-means: k = ", options.k, " must be in [1, ", points.rows, "]"));
  }
  if (options.restarts < 1 || options.max_iterations < 1 || !(options.tolerance >= 0)) {
    return absl::InvalidArgumentError(
        "k-means: restarts and max_iterations must be >= 1 and tolerance >= 0");
  }
  const int64_t n = points.rows;
  const int64_t dims = points.cols;
  // scikit-learn scales the tolerance by the mean per-dimension variance.
  double mean_variance = 0;
  for (int64_t t = 0; t < dims; ++t) {
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = points.data[static_cast<size_t>(i * dims + t)];
      sum += v;
      sum2 += v * v;
    }
    mean_variance += std::max(0.0, sum2 / n - (sum / n) * (sum / n));
  }
  const double tolerance = options.tolerance * mean_variance / static_cast<double>(dims);

  internal::Random random(options.seed);
  LloydState best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int restart = 0; restart < options.restarts; ++restart) {
    LloydState state;
    state.centroids = KMeansPlusPlus(points, options.k, &random);
    state.assignments.assign(static_cast<size_t>(n), -1);
    state.distance2.resize(static_cast<size_t>(n));
    Assign(points, options.k, options.threads, &state);
    // Each pass ends with an assignment, so the labels always match the centroids returned.
    for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
      const double shift = Update(points, options.k, &state);
      const int64_t changed = Assign(points, options.k, options.threads, &state);
      if (changed == 0 || shift <= tolerance) break;
    }
    if (state.inertia < best.inertia) best = std::move(state);
  }
  KMeansResult result;
  result.centroids.rows = options.k;
  result.centroids.cols = dims;
  result.centroids.data.assign(best.centroids.begin(), best.centroids.end());
  result.assignments = std::move(best.assignments);
  result.inertia = best.inertia;
  return result;
}

}  // namespace flsailer::eval
