// Five-number summaries for the commands that describe a distribution (`inspect`,
// `select-features`).
#ifndef FLSAILER_SERVICES_CLI_QUANTILES_H_
#define FLSAILER_SERVICES_CLI_QUANTILES_H_

#include <algorithm>
#include <vector>

namespace flsailer::cli {

struct FiveNumbers {
  double min = 0, q25 = 0, median = 0, q75 = 0, max = 0;
};

// Quantile q of ascending `sorted` by linear interpolation between order statistics (numpy's
// default); 0 for no values.
inline double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

// Min, quartiles and max of `values` (any order; all 0 when empty).
inline FiveNumbers Summarise(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {Quantile(values, 0), Quantile(values, 0.25), Quantile(values, 0.5),
          Quantile(values, 0.75), Quantile(values, 1)};
}

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_QUANTILES_H_
