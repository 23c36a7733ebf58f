// A 2-D picture of an embedding: a force-directed layout of its kNN graph (what Scanpy's
// sc.tl.draw_graph does), computed with igraph's Fruchterman-Reingold algorithm.
//
// Method: the cells' kNN graph (exact below KnnOptions' threshold, UMAP-weighted edges as used for
// clustering) is laid out by igraph_layout_fruchterman_reingold with its grid approximation of the
// repulsive forces (O(cells) per iteration), starting from the first two principal components of
// the embedding, so that separate components and the global arrangement start from the
// embedding's own geometry and the result is reproducible. igraph's other layouts in Debian's
// 0.10.2 were measured far slower here: for a 5,000-node kNN-like graph DrL took ~50 s and
// igraph_layout_umap minutes, against 0.6 s for this one.
//
// Large inputs: above LayoutOptions::max_cells cells, a seeded uniform sample of max_cells cells
// (with its own kNN graph) is laid out, and only those cells are drawn; a picture of 20,000 points
// shows the structure of any dataset, and FR's cost grows with the cells.
//
// Thread safety: thread-compatible; igraph calls are serialised internally (see cluster.h).
#ifndef FLSAILER_LIBS_EVAL_LAYOUT_H_
#define FLSAILER_LIBS_EVAL_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::eval {

struct LayoutOptions {
  // Cells laid out at most (see above).
  int64_t max_cells = 20000;
  // Neighbours per cell in the layout's graph (fewer when there are fewer cells).
  int n_neighbors = 15;
  // Fruchterman-Reingold iterations (igraph's default 500).
  int iterations = 500;
  // Seeds the sample of cells and igraph's random numbers.
  uint64_t seed = 0;
  // Threads for the kNN search.
  int threads = 1;
};

struct Layout {
  std::vector<int64_t> cells;  // the cells placed, increasing (every cell unless sampled)
  std::vector<double> x, y;    // their coordinates (arbitrary units)
};

// Errors: an invalid embedding (ValidateEmbedding), bad options (InvalidArgument), igraph failure.
absl::StatusOr<Layout> ComputeLayout(const data::DenseMatrix& embedding,
                                     const LayoutOptions& options = {});

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_LAYOUT_H_
