// Silhouette-based scores of an embedding (Rousseeuw 1987), as scib.metrics.silhouette and
// scib.metrics.silhouette_batch define them on top of scikit-learn's silhouette_samples with
// Euclidean distances.
//
// Label codes: a negative label marks an unlabelled cell, which is left out (neither scored nor
// used as a reference).
//
// Cost: each scored cell is compared with every cell of its reference set (all labelled cells for
// label ASW; the cells of its label for batch ASW), O(scored x reference x dims). scIB scores every
// cell; above SilhouetteOptions::max_cells scored cells per set, a seeded uniform sample is scored
// (still against all reference cells), whose mean estimates the full mean without bias (standard
// error about sd(s) / sqrt(max_cells), below 0.005 at the default).
//
// Thread safety: thread-compatible.
#ifndef FLSAILER_LIBS_EVAL_SILHOUETTE_H_
#define FLSAILER_LIBS_EVAL_SILHOUETTE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::eval {

struct SilhouetteOptions {
  // Scored cells per reference set at most (see above); 0 scores every cell.
  int64_t max_cells = 10000;
  uint64_t seed = 0;
  int threads = 1;
};

// scikit-learn's silhouette_samples for the cells `scored` (every labelled cell when empty):
// s = (b - a) / max(a, b), a = mean distance to the other cells of its label, b = the smallest mean
// distance to the cells of another label; 0 for a cell alone in its label (and when a = b = 0).
// REQUIRES: every scored cell is labelled. Errors: invalid embedding, labels.size() != rows, a
// scored index out of range or unlabelled (InvalidArgument).
absl::StatusOr<std::vector<double>> SilhouetteSamples(const data::DenseMatrix& points,
                                                      const std::vector<int32_t>& labels,
                                                      const std::vector<int64_t>& scored,
                                                      int threads = 1);

// scIB's label ASW: (mean silhouette of the labels + 1) / 2, in [0, 1], higher = labels better
// separated. NaN when undefined, as scikit-learn refuses: fewer than 2 labels, or as many labels
// as labelled cells. Errors: as SilhouetteSamples.
absl::StatusOr<double> LabelAsw(const data::DenseMatrix& points, const std::vector<int32_t>& labels,
                                const SilhouetteOptions& options = {});

// scIB's batch ASW: within each label, the silhouette of the batches on the cells of that label,
// scored 1 - |s| per cell (1 = batches mixed); averaged over the cells of a label, then over
// labels. Labels whose cells come from one batch, or from as many batches as cells, are skipped
// (scIB skips them too); NaN when every label is skipped (e.g. a single batch).
// Errors: as SilhouetteSamples, batches.size() != rows, a negative batch code.
absl::StatusOr<double> BatchAsw(const data::DenseMatrix& points, const std::vector<int32_t>& labels,
                                const std::vector<int32_t>& batches,
                                const SilhouetteOptions& options = {});

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_SILHOUETTE_H_
