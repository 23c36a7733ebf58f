#include "libs/model/open_peak_weights.h"

#include <algorithm>
#include <cmath>

namespace flsailer::model::internal {

void OpenPeakWeights(const std::vector<int64_t>& offsets, float pos_weight, float cap,
                     std::vector<float>* weights) {
  const size_t n = offsets.size() - 1;
  weights->assign(n, pos_weight);
  if (cap <= 1 || n == 0) return;
  std::vector<double> open(n);
  for (size_t i = 0; i < n; ++i) {
    open[i] = std::max<double>(1.0, static_cast<double>(offsets[i + 1] - offsets[i]));
  }
  std::vector<double> sorted = open;
  std::nth_element(sorted.begin(), sorted.begin() + n / 2, sorted.end());
  const double median = sorted[n / 2];
  for (size_t i = 0; i < n; ++i) {
    const double factor = std::clamp(std::sqrt(median / open[i]), 1.0, static_cast<double>(cap));
    (*weights)[i] = pos_weight * static_cast<float>(factor);
  }
}

}  // namespace flsailer::model::internal
