// Latent semantic indexing (LSI), the reference embedding for scATAC-seq (Cusanovich et al. 2018;
// Signac's RunTFIDF + RunSVD): TF-IDF, log(1 + TF x IDF x 10^4), truncated SVD by randomized
// subspace iteration (the same code FL-Sailer's leverage scores use), cell coordinates U S = T V,
// and the component most correlated with sequencing depth dropped.
#ifndef FLSAILER_LIBS_BASELINES_LSI_H_
#define FLSAILER_LIBS_BASELINES_LSI_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/dataset.h"
#include "libs/sampling/subspace.h"
#include "libs/sampling/tfidf.h"

namespace flsailer::baselines {

struct LsiOptions {
  int32_t components = 30;
  // IDF N/df as in Signac's default (method 1); DESIGN.md's log(1 + N/df) is the alternative.
  sampling::TfIdfOptions tfidf = {sampling::IdfKind::kInverse, 1e4};
  bool drop_depth_component = true;
  int32_t oversampling = 30;
  int32_t power_iterations = 6;
  uint64_t seed = 1;
  int threads = 1;
};

struct LsiResult {
  data::DenseMatrix embedding;            // cells x (components - dropped): T V
  std::vector<double> singular_values;    // all computed components, descending
  std::vector<double> depth_correlation;  // Pearson r of each component with log depth
  int32_t dropped_component = -1;         // index into the above, or -1
};

// REQUIRES nothing of the input beyond a valid matrix; fails on no cells, no open peaks, or
// components >= min(cells, peaks).
absl::StatusOr<LsiResult> RunLsi(const data::CsrMatrix& counts, const LsiOptions& options = {});

}  // namespace flsailer::baselines

#endif  // FLSAILER_LIBS_BASELINES_LSI_H_
