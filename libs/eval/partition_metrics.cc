#include "libs/eval/partition_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/eval/categories.h"

namespace flsailer::eval {
namespace {

// Dense codes of `values` (non-negative) and the size of each.
std::vector<int32_t> Densify(const std::vector<int32_t>& values, std::vector<int64_t>* sizes) {
  std::vector<int32_t> dense;
  sizes->assign(static_cast<size_t>(DenseCodes(values, &dense)), 0);
  for (int32_t code : dense) ++(*sizes)[static_cast<size_t>(code)];
  return dense;
}

// scikit-learn's entropy(): -sum p log p over the sizes.
double Entropy(const std::vector<int64_t>& sizes, double n) {
  if (sizes.size() == 1) return 0.0;
  double h = 0;
  for (int64_t s : sizes) {
    if (s > 0) h -= (static_cast<double>(s) / n) * (std::log(static_cast<double>(s)) - std::log(n));
  }
  return h;
}

// scikit-learn's expected_mutual_information(), term by term.
double ExpectedMutualInformation(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                 int64_t n_samples) {
  if (a.size() == 1 || b.size() == 1) return 0.0;
  const double n = static_cast<double>(n_samples);
  const double log_n = std::log(n);
  const double lgamma_n1 = std::lgamma(n + 1);
  double emi = 0;
  for (int64_t ai : a) {
    const double gln_a = std::lgamma(ai + 1.0) + std::lgamma(n - ai + 1);
    for (int64_t bj : b) {
      const double gln_ab = gln_a + std::lgamma(bj + 1.0) + std::lgamma(n - bj + 1) - lgamma_n1;
      const double log_ab = std::log(static_cast<double>(ai)) + std::log(static_cast<double>(bj));
      const int64_t start = std::max<int64_t>(1, ai + bj - n_samples);
      const int64_t end = std::min(ai, bj);
      for (int64_t nij = start; nij <= end; ++nij) {
        const double term1 = static_cast<double>(nij) / n;
        const double term2 = log_n + std::log(static_cast<double>(nij)) - log_ab;
        const double gln = gln_ab - std::lgamma(nij + 1.0) - std::lgamma(ai - nij + 1.0) -
                           std::lgamma(bj - nij + 1.0) -
                           std::lgamma(static_cast<double>(n_samples - ai - bj + nij) + 1);
        emi += term1 * term2 * std::exp(gln);
      }
    }
  }
  return emi;
}

}  // namespace

absl::StatusOr<PartitionAgreement> ComparePartitions(const std::vector<int32_t>& all_labels,
                                                     const std::vector<int32_t>& all_clusters) {
  if (all_labels.size() != all_clusters.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("comparing partitions of different lengths: ", all_labels.size(), " labels, ",
                     all_clusters.size(), " clusters"));
  }
  std::vector<int32_t> labels, clusters;
  for (size_t i = 0; i < all_labels.size(); ++i) {
    if (all_clusters[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("negative cluster code at cell ", i));
    }
    if (all_labels[i] >= 0) {
      labels.push_back(all_labels[i]);
      clusters.push_back(all_clusters[i]);
    }
  }
  if (labels.empty()) {
    return absl::InvalidArgumentError("comparing partitions of no labelled cells");
  }
  const int64_t n_samples = static_cast<int64_t>(labels.size());
  const double n = static_cast<double>(n_samples);
  std::vector<int64_t> a, b;  // label sizes, cluster sizes
  const std::vector<int32_t> row = Densify(labels, &a);
  const std::vector<int32_t> col = Densify(clusters, &b);

  // Non-zero cells of the contingency table.
  std::vector<std::pair<int32_t, int32_t>> pairs(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) pairs[i] = {row[i], col[i]};
  std::sort(pairs.begin(), pairs.end());
  struct Cell {
    int32_t i, j;
    int64_t count;
  };
  std::vector<Cell> table;
  for (const auto& p : pairs) {
    if (!table.empty() && table.back().i == p.first && table.back().j == p.second) {
      ++table.back().count;
    } else {
      table.push_back({p.first, p.second, 1});
    }
  }

  PartitionAgreement result;
  // ARI from the pair confusion matrix (ordered pairs), as scikit-learn.
  int64_t sum_squares = 0, sum_a2 = 0, sum_b2 = 0;
  for (const Cell& c : table) sum_squares += c.count * c.count;
  for (int64_t s : a) sum_a2 += s * s;
  for (int64_t s : b) sum_b2 += s * s;
  const long double tp = sum_squares - n_samples;
  const long double fp = sum_b2 - sum_squares;  // same cluster, different labels
  const long double fn = sum_a2 - sum_squares;  // same label, different clusters
  const long double tn = static_cast<long double>(n_samples) * n_samples - fp - fn - sum_squares;
  if (fn == 0 && fp == 0) {
    result.ari = 1.0;
  } else {
    result.ari = static_cast<double>(2.0L * (tp * tn - fn * fp) /
                                     ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)));
  }

  // Mutual information, as scikit-learn's mutual_info_score (terms below eps count as 0).
  double mi = 0;
  if (a.size() > 1 && b.size() > 1) {
    for (const Cell& c : table) {
      const double nij = static_cast<double>(c.count);
      const double term = (nij / n) * (std::log(nij) - std::log(n)) +
                          (nij / n) * (-std::log(static_cast<double>(a[static_cast<size_t>(c.i)]) *
                                                 static_cast<double>(b[static_cast<size_t>(c.j)])) +
                                       2 * std::log(n));
      if (std::fabs(term) >= std::numeric_limits<double>::epsilon()) mi += term;
    }
    mi = std::max(mi, 0.0);
  }
  const double h_labels = Entropy(a, n);
  const double h_clusters = Entropy(b, n);
  const double mean_h = (h_labels + h_clusters) / 2;
  const bool both_trivial = a.size() == 1 && b.size() == 1;

  result.nmi = both_trivial ? 1.0 : (mi == 0 ? 0.0 : mi / mean_h);
  if (both_trivial) {
    result.ami = 1.0;
  } else {
    const double emi = ExpectedMutualInformation(a, b, n_samples);
    double denominator = mean_h - emi;
    constexpr double kEps = std::numeric_limits<double>::epsilon();
    denominator = denominator < 0 ? std::min(denominator, -kEps) : std::max(denominator, kEps);
    result.ami = (mi - emi) / denominator;
  }
  result.homogeneity = h_labels > 0 ? mi / h_labels : 1.0;
  return result;
}

}  // namespace flsailer::eval
