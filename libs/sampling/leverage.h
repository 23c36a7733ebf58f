// Leverage scores of peaks in the top-k right singular subspace, and the choice of peaks to keep.
#ifndef FLSAILER_LIBS_SAMPLING_LEVERAGE_H_
#define FLSAILER_LIBS_SAMPLING_LEVERAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/sampling/subspace.h"

namespace flsailer::sampling {

// score_j = ||V[j, :]||^2 / k for V (p x k) with orthonormal columns; the scores sum to 1.
std::vector<double> LeverageScores(const RowMatrix& v);

enum class SelectionMethod {
  kTop,     // the s highest scores (ties broken by lower peak index)
  kSample,  // s peaks without replacement, probability proportional to score (Efraimidis-Spirakis)
};

struct SelectionOptions {
  double rate = 0.2;          // s = ceil(rate * p)
  SelectionMethod method = SelectionMethod::kTop;
  uint64_t seed = 1;          // for kSample
};

// Indices of the kept peaks, ascending. Fails on rate outside (0, 1], NaN or negative scores.
// With kSample, peaks of score 0 are only taken once every positive-score peak is.
absl::StatusOr<std::vector<int32_t>> SelectPeaks(const std::vector<double>& scores,
                                                 const SelectionOptions& options);

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_LEVERAGE_H_
