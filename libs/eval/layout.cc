#include "libs/eval/layout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/eval/igraph_bridge.h"
#include "libs/eval/knn.h"
#include "libs/eval/random.h"

namespace flsailer::eval {
namespace {

using internal::IgraphGraph;
using internal::IgraphSession;

// The first two principal-component scores of the rows of `points` (power iteration with
// deflation on the covariance matrix, from a fixed start: deterministic).
void PrincipalPlane(const data::DenseMatrix& points, std::vector<double>* x,
                    std::vector<double>* y) {
  const size_t n = static_cast<size_t>(points.rows), d = static_cast<size_t>(points.cols);
  const std::vector<float>& data = points.data;
  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t t = 0; t < d; ++t) mean[t] += data[i * d + t];
  }
  for (double& m : mean) m /= static_cast<double>(n);
  std::vector<double> cov(d * d, 0.0), row(d);
  for (size_t i = 0; i < n; ++i) {
    for (size_t t = 0; t < d; ++t) row[t] = data[i * d + t] - mean[t];
    for (size_t a = 0; a < d; ++a) {
      for (size_t b = 0; b < d; ++b) cov[a * d + b] += row[a] * row[b];
    }
  }
  std::vector<std::vector<double>> axes;
  for (int component = 0; component < 2; ++component) {
    std::vector<double> v(d), next(d);
    for (size_t t = 0; t < d; ++t) v[t] = 1.0 + 0.1 * static_cast<double>(t % 7);
    for (int iteration = 0; iteration < 300; ++iteration) {
      for (const std::vector<double>& axis : axes) {  // deflate: stay orthogonal to found axes
        double dot = 0;
        for (size_t t = 0; t < d; ++t) dot += v[t] * axis[t];
        for (size_t t = 0; t < d; ++t) v[t] -= dot * axis[t];
      }
      double norm = 0;
      for (size_t a = 0; a < d; ++a) {
        next[a] = 0;
        for (size_t b = 0; b < d; ++b) next[a] += cov[a * d + b] * v[b];
        norm += next[a] * next[a];
      }
      if (!(norm > 0)) break;  // no variance left in this direction
      norm = std::sqrt(norm);
      for (size_t t = 0; t < d; ++t) v[t] = next[t] / norm;
    }
    axes.push_back(v);
  }
  x->assign(n, 0.0);
  y->assign(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t t = 0; t < d; ++t) {
      const double centred = data[i * d + t] - mean[t];
      (*x)[i] += centred * axes[0][t];
      (*y)[i] += centred * axes[1][t];
    }
  }
}

}  // namespace

absl::StatusOr<Layout> ComputeLayout(const data::DenseMatrix& embedding,
                                     const LayoutOptions& options) {
  FLS_RETURN_IF_ERROR(ValidateEmbedding(embedding));
  if (options.max_cells < 1 || options.n_neighbors < 1 || options.iterations < 1) {
    return absl::InvalidArgumentError("layout: max_cells, n_neighbors and iterations must be >= 1");
  }
  Layout layout;
  layout.cells = internal::SampleIndices(embedding.rows, options.max_cells, options.seed);
  const int64_t n = static_cast<int64_t>(layout.cells.size());
  data::DenseMatrix sample;
  sample.rows = n;
  sample.cols = embedding.cols;
  sample.data.resize(static_cast<size_t>(n * embedding.cols));
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(
        &embedding.data[static_cast<size_t>(layout.cells[static_cast<size_t>(i)] * embedding.cols)],
        embedding.cols, &sample.data[static_cast<size_t>(i * embedding.cols)]);
  }
  PrincipalPlane(sample, &layout.x, &layout.y);
  if (n < 3) return layout;  // nothing for a force-directed layout to improve

  // Start from the principal plane scaled to FR's natural size (edges of length ~1, so a
  // layout spans ~sqrt(n)).
  double spread = 0;
  for (int64_t i = 0; i < n; ++i) {
    spread = std::max({spread, std::fabs(layout.x[static_cast<size_t>(i)]),
                       std::fabs(layout.y[static_cast<size_t>(i)])});
  }
  const double scale = spread > 0 ? std::sqrt(static_cast<double>(n)) / spread : 1.0;

  KnnOptions knn_options;
  knn_options.k = static_cast<int>(std::min<int64_t>(options.n_neighbors, n - 1));
  knn_options.threads = options.threads;
  FLS_ASSIGN_OR_RETURN(KnnGraph knn, BuildKnnGraph(sample, knn_options));
  const NeighborGraph graph = BuildNeighborGraph(knn, EdgeWeighting::kUmap);

  IgraphSession session(options.seed);
  IgraphGraph igraph;
  FLS_RETURN_IF_ERROR(igraph.Init(graph));
  igraph_matrix_t positions;
  FLS_RETURN_IF_ERROR(IgraphSession::Check(igraph_matrix_init(&positions, n, 2), "layout matrix"));
  for (int64_t i = 0; i < n; ++i) {
    MATRIX(positions, i, 0) = layout.x[static_cast<size_t>(i)] * scale;
    MATRIX(positions, i, 1) = layout.y[static_cast<size_t>(i)] * scale;
  }
  const igraph_error_t code = igraph_layout_fruchterman_reingold(
      igraph.graph(), &positions, /*use_seed=*/true, options.iterations,
      /*start_temp=*/std::sqrt(static_cast<double>(n)) / 10, IGRAPH_LAYOUT_GRID, igraph.weights(),
      nullptr, nullptr, nullptr, nullptr);
  if (code == IGRAPH_SUCCESS) {
    for (int64_t i = 0; i < n; ++i) {
      layout.x[static_cast<size_t>(i)] = MATRIX(positions, i, 0);
      layout.y[static_cast<size_t>(i)] = MATRIX(positions, i, 1);
    }
  }
  igraph_matrix_destroy(&positions);
  FLS_RETURN_IF_ERROR(IgraphSession::Check(code, "Fruchterman-Reingold layout"));
  return layout;
}

}  // namespace flsailer::eval
