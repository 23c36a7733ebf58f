#include "libs/eval/knn.h"

// hnswlib 0.6.2's SSE code paths prefetch from the element after the end of each link list, a
// heap over-read that AddressSanitizer reports; without them hnswlib is plain C++, and the
// distance below keeps the search vectorised.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/eval/exact_knn.h"
#include "libs/eval/parallel.h"

namespace flsailer::eval {
namespace {

// Squared Euclidean distance for hnswlib, in 8 independent partial sums, which the compiler
// turns into SIMD without reassociating a single sum.
float SquaredL2(const void* a_ptr, const void* b_ptr, const void* dims_ptr) {
  const float* a = static_cast<const float*>(a_ptr);
  const float* b = static_cast<const float*>(b_ptr);
  const size_t dims = *static_cast<const size_t*>(dims_ptr);
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t t = 0;
  for (; t + 8 <= dims; t += 8) {
    for (size_t l = 0; l < 8; ++l) {
      const float diff = a[t + l] - b[t + l];
      partial[l] += diff * diff;
    }
  }
  float sum = 0;
  for (; t < dims; ++t) sum += (a[t] - b[t]) * (a[t] - b[t]);
  for (float p : partial) sum += p;
  return sum;
}

class SquaredL2Space : public hnswlib::SpaceInterface<float> {
 public:
  explicit SquaredL2Space(size_t dims) : dims_(dims) {}
  size_t get_data_size() override { return dims_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &SquaredL2; }
  void* get_dist_func_param() override { return &dims_; }

 private:
  size_t dims_;
};

absl::Status HnswSearch(const float* points, int64_t n, int64_t dims, const KnnOptions& options,
                        KnnGraph* graph) {
  const int k = options.k;
  try {
    SquaredL2Space space(static_cast<size_t>(dims));
    hnswlib::HierarchicalNSW<float> index(
        &space, static_cast<size_t>(n), static_cast<size_t>(options.hnsw_m),
        static_cast<size_t>(options.hnsw_ef_construction), static_cast<size_t>(options.seed));
    for (int64_t i = 0; i < n; ++i) {
      index.addPoint(points + i * dims, static_cast<hnswlib::labeltype>(i));
    }
    index.setEf(static_cast<size_t>(std::max(options.hnsw_ef_search, k + 1)));
    std::exception_ptr failure;
    std::mutex failure_mutex;
    internal::ParallelFor(n, 256, options.threads, [&](int64_t begin, int64_t end) {
      std::vector<std::pair<float, int32_t>> found;
      for (int64_t q = begin; q < end; ++q) {
        try {
          auto queue = index.searchKnn(points + q * dims, static_cast<size_t>(k + 1));
          found.clear();
          while (!queue.empty()) {
            if (static_cast<int64_t>(queue.top().second) != q) {
              found.emplace_back(queue.top().first, static_cast<int32_t>(queue.top().second));
            }
            queue.pop();
          }
        } catch (...) {
          std::lock_guard<std::mutex> lock(failure_mutex);
          if (!failure) failure = std::current_exception();
          return;
        }
        // The queue pops farthest first; keep the k nearest (the cell itself is usually among the
        // k + 1 found and was dropped, otherwise the farthest goes).
        std::sort(found.begin(), found.end());
        found.resize(std::min(found.size(), static_cast<size_t>(k)));
        for (size_t j = 0; j < found.size(); ++j) {
          graph->indices[static_cast<size_t>(q * k) + j] = found[j].second;
          graph->distances[static_cast<size_t>(q * k) + j] = std::sqrt(found[j].first);
        }
        for (size_t j = found.size(); j < static_cast<size_t>(k); ++j) {
          // Fewer results than asked only happens when the graph cannot reach k cells, which
          // hnswlib does not allow for n > k; guard anyway so that no slot is left undefined.
          graph->indices[static_cast<size_t>(q * k) + j] = -1;
          graph->distances[static_cast<size_t>(q * k) + j] = std::numeric_limits<float>::infinity();
        }
      }
    });
    if (failure) std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW search failed: ", e.what()));
  }
  for (int32_t index : graph->indices) {
    if (index < 0) return absl::InternalError("HNSW search returned fewer than k neighbours");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEmbedding(const data::DenseMatrix& embedding) {
  if (embedding.rows < 1 || embedding.cols < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding is empty (", embedding.rows, " x ", embedding.cols, ")"));
  }
  if (embedding.rows >= std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding has ", embedding.rows, " cells; at most 2^31 - 2 are supported"));
  }
  if (embedding.cols > std::numeric_limits<int64_t>::max() / embedding.rows ||
      static_cast<int64_t>(embedding.data.size()) != embedding.rows * embedding.cols) {
    return absl::InvalidArgumentError(absl::StrCat("embedding holds ", embedding.data.size(),
                                                   " values, expected ", embedding.rows, " x ",
                                                   embedding.cols));
  }
  // Squared distances are summed in single precision: values beyond kMaxMagnitude could
  // overflow them to infinity.
  constexpr float kMaxMagnitude = 1e15f;
  for (size_t i = 0; i < embedding.data.size(); ++i) {
    if (!(std::fabs(embedding.data[i]) <= kMaxMagnitude)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "embedding value of cell ", i / static_cast<size_t>(embedding.cols), ", dimension ",
          i % static_cast<size_t>(embedding.cols), " is ", embedding.data[i],
          std::isfinite(embedding.data[i]) ? " (larger than 1e15 in magnitude)" : ""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KnnGraph> BuildKnnGraph(const data::DenseMatrix& points, const KnnOptions& options) {
  FLS_RETURN_IF_ERROR(ValidateEmbedding(points));
  if (options.k < 1 || options.k >= points.rows) {
    return absl::InvalidArgumentError(absl::StrCat("k = ", options.k, " neighbours need at least ",
                                                   int64_t{options.k} + 1, " cells and k >= 1; ",
                                                   "the embedding has ", points.rows));
  }
  if (options.hnsw_m < 2 || options.hnsw_m > 1000 || options.hnsw_ef_construction < 1 ||
      options.hnsw_ef_search < 1) {
    return absl::InvalidArgumentError("HNSW needs 2 <= M <= 1000 and ef >= 1");
  }
  const int64_t n = points.rows;
  const int64_t dims = points.cols;
  data::DenseMatrix normalized;
  const float* values = points.data.data();
  if (options.metric == DistanceMetric::kCosine) {
    normalized = NormalizeRows(points);
    values = normalized.data.data();
  }
  KnnGraph graph;
  graph.num_cells = n;
  graph.k = options.k;
  graph.indices.resize(static_cast<size_t>(n * options.k));
  graph.distances.resize(static_cast<size_t>(n * options.k));
  if (n <= options.exact_max_cells) {
    internal::ExactKnn(values, dims, n, {}, {}, options.k, options.threads, graph.indices.data(),
                       graph.distances.data());
  } else {
    FLS_RETURN_IF_ERROR(HnswSearch(values, n, dims, options, &graph));
  }
  return graph;
}

data::DenseMatrix NormalizeRows(const data::DenseMatrix& points) {
  data::DenseMatrix normalized = points;
  for (int64_t i = 0; i < points.rows; ++i) {
    float* row = normalized.data.data() + i * points.cols;
    double norm2 = 0;
    for (int64_t t = 0; t < points.cols; ++t) norm2 += double{row[t]} * row[t];
    if (norm2 > 0) {
      const float scale = static_cast<float>(1.0 / std::sqrt(norm2));
      for (int64_t t = 0; t < points.cols; ++t) row[t] *= scale;
    }
  }
  return normalized;
}

KnnGraph TruncateKnnGraph(const KnnGraph& graph, int k) {
  KnnGraph out;
  out.num_cells = graph.num_cells;
  out.k = k;
  out.indices.resize(static_cast<size_t>(graph.num_cells * k));
  out.distances.resize(static_cast<size_t>(graph.num_cells * k));
  for (int64_t i = 0; i < graph.num_cells; ++i) {
    std::copy_n(&graph.indices[static_cast<size_t>(i * graph.k)], k,
                &out.indices[static_cast<size_t>(i * k)]);
    std::copy_n(&graph.distances[static_cast<size_t>(i * graph.k)], k,
                &out.distances[static_cast<size_t>(i * k)]);
  }
  return out;
}

namespace {

// umap-learn's smooth_knn_dist and compute_membership_strengths for one cell, with the cell
// itself as umap-learn's zero-distance first neighbour: weights[j] for the k neighbours.
void UmapMemberships(const float* distances, int k, double mean_all_distances, double* weights) {
  constexpr int kIterations = 64;
  constexpr double kTolerance = 1e-5;
  constexpr double kMinScale = 1e-3;
  const double target = std::log2(static_cast<double>(k) + 1);
  double rho = 0;
  for (int j = 0; j < k; ++j) {
    if (distances[j] > 0) {
      rho = distances[j];
      break;
    }
  }
  double lo = 0, hi = std::numeric_limits<double>::infinity(), sigma = 1;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    double sum = 0;
    for (int j = 0; j < k; ++j) {
      const double d = distances[j] - rho;
      sum += d > 0 ? std::exp(-d / sigma) : 1.0;
    }
    if (std::fabs(sum - target) < kTolerance) break;
    if (sum > target) {
      hi = sigma;
      sigma = (lo + hi) / 2;
    } else {
      lo = sigma;
      sigma = std::isinf(hi) ? sigma * 2 : (lo + hi) / 2;
    }
  }
  double mean_own = 0;
  for (int j = 0; j < k; ++j) mean_own += distances[j];
  mean_own /= k + 1;  // the zero distance to itself counts, as in umap-learn
  sigma = std::max(sigma, kMinScale * (rho > 0 ? mean_own : mean_all_distances));
  for (int j = 0; j < k; ++j) {
    const double d = distances[j] - rho;
    weights[j] = (d <= 0 || sigma == 0) ? 1.0 : std::exp(-d / sigma);
  }
}

}  // namespace

NeighborGraph BuildNeighborGraph(const KnnGraph& knn, EdgeWeighting weighting) {
  const int64_t n = knn.num_cells;
  const int k = knn.k;
  // Directed weights first, one per kNN edge.
  std::vector<double> directed(knn.indices.size(), 1.0);
  if (weighting == EdgeWeighting::kUmap) {
    double mean_all = 0;
    for (float d : knn.distances) mean_all += d;
    mean_all /= static_cast<double>(n) * (k + 1);
    for (int64_t i = 0; i < n; ++i) {
      UmapMemberships(&knn.distances[static_cast<size_t>(i * k)], k, mean_all,
                      &directed[static_cast<size_t>(i * k)]);
    }
  }
  // Each undirected edge as (min, max, weight of the min->max direction, of max->min).
  struct Edge {
    int32_t a, b;
    double forward, backward;
  };
  std::vector<Edge> edges;
  edges.reserve(knn.indices.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) {
      const int32_t other = knn.neighbor(i, j);
      const double w = directed[static_cast<size_t>(i * k + j)];
      if (i < other) {
        edges.push_back({static_cast<int32_t>(i), other, w, 0.0});
      } else {
        edges.push_back({other, static_cast<int32_t>(i), 0.0, w});
      }
    }
  }
  std::sort(edges.begin(), edges.end(),
            [](const Edge& x, const Edge& y) { return std::tie(x.a, x.b) < std::tie(y.a, y.b); });
  NeighborGraph graph;
  graph.num_nodes = n;
  std::vector<int32_t> sorted_a, sorted_b;  // neighbour lists sorted, for Jaccard
  auto sorted_neighbourhood = [&](int32_t cell, std::vector<int32_t>* out) {
    out->assign(&knn.indices[static_cast<size_t>(cell) * k],
                &knn.indices[static_cast<size_t>(cell) * k] + k);
    out->push_back(cell);
    std::sort(out->begin(), out->end());
  };
  for (size_t e = 0; e < edges.size();) {
    Edge merged = edges[e];
    for (++e; e < edges.size() && edges[e].a == merged.a && edges[e].b == merged.b; ++e) {
      merged.forward += edges[e].forward;
      merged.backward += edges[e].backward;
    }
    double w = 1.0;
    if (weighting == EdgeWeighting::kUmap) {
      w = merged.forward + merged.backward - merged.forward * merged.backward;
    } else if (weighting == EdgeWeighting::kJaccard) {
      sorted_neighbourhood(merged.a, &sorted_a);
      sorted_neighbourhood(merged.b, &sorted_b);
      size_t shared = 0;
      for (size_t x = 0, y = 0; x < sorted_a.size() && y < sorted_b.size();) {
        if (sorted_a[x] == sorted_b[y]) {
          ++shared, ++x, ++y;
        } else if (sorted_a[x] < sorted_b[y]) {
          ++x;
        } else {
          ++y;
        }
      }
      w = static_cast<double>(shared) / static_cast<double>(2 * (k + 1) - shared);
      if (w < 1.0 / 15) continue;
    }
    if (!(w > 0)) continue;
    graph.from.push_back(merged.a);
    graph.to.push_back(merged.b);
    graph.weights.push_back(w);
  }
  return graph;
}

}  // namespace flsailer::eval
