#include "libs/sampling/leverage.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace flsailer::sampling {

std::vector<double> LeverageScores(const RowMatrix& v) {
  std::vector<double> scores(static_cast<size_t>(v.rows()));
  const double k = static_cast<double>(std::max<int64_t>(1, v.cols()));
  for (int64_t j = 0; j < v.rows(); ++j) scores[j] = v.row(j).squaredNorm() / k;
  return scores;
}

absl::StatusOr<std::vector<int32_t>> SelectPeaks(const std::vector<double>& scores,
                                                 const SelectionOptions& options) {
  if (!(options.rate > 0 && options.rate <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("selection rate ", options.rate,
                                                   " is not in (0, 1]"));
  }
  if (scores.empty()) return absl::InvalidArgumentError("selection: no peaks");
  for (size_t j = 0; j < scores.size(); ++j) {
    if (!std::isfinite(scores[j]) || scores[j] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("selection: score of peak ", j, " is ",
                                                     scores[j]));
    }
  }
  const size_t p = scores.size();
  const size_t s = std::min(p, static_cast<size_t>(std::ceil(options.rate * p - 1e-9)));
  // Sort keys descending; the key is the score itself (kTop) or log(u)/score (kSample), which
  // ranks peaks exactly as sequential weighted sampling without replacement would.
  std::vector<double> key(p);
  if (options.method == SelectionMethod::kTop) {
    key = scores;
  } else {
    std::mt19937_64 rng(options.seed);
    for (size_t j = 0; j < p; ++j) {
      const double u = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      key[j] = scores[j] > 0 ? std::log(u) / scores[j] : -HUGE_VAL;
    }
  }
  std::vector<int32_t> order(p);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + s, order.end(), [&](int32_t a, int32_t b) {
    return key[a] != key[b] ? key[a] > key[b] : a < b;
  });
  order.resize(s);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace flsailer::sampling
