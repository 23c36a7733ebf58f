// Shared fixtures of the sampling tests: synthetic matrices and the exact references the
// randomized results are checked against.
#ifndef FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_
#define FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>
#include <vector>

#include "Eigen/SVD"
#include "gtest/gtest.h"
#include "libs/data/csr_matrix.h"
#include "libs/sampling/leverage.h"
#include "libs/sampling/subspace.h"
#include "libs/sampling/tfidf.h"

namespace flsailer::sampling {

// A random binary cells x peaks matrix with `groups` blocks of co-accessible peaks, so that it
// has a clear low-rank structure plus noise.
inline data::CsrMatrix BlockMatrix(int cells, int peaks, int groups, double density,
                                   uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  data::CsrBuilder b(peaks, /*binary=*/true);
  for (int i = 0; i < cells; ++i) {
    const int g = i % groups;
    for (int j = 0; j < peaks; ++j) {
      const bool in_block = j % groups == g;
      if (unit(rng) < (in_block ? 4 * density : density / 2)) b.Add(j, 1);
    }
    b.FinishRow();
  }
  return std::move(b).Finish();
}

// Rows [begin, end) of m.
inline data::CsrMatrix Rows(const data::CsrMatrix& m, int64_t begin, int64_t end) {
  std::vector<int64_t> rows;
  for (int64_t r = begin; r < end; ++r) rows.push_back(r);
  return m.SelectRows(rows);
}

// TF-IDF of x with its own statistics (the centralised transform).
inline data::CsrMatrix TfIdfOf(const data::CsrMatrix& x) {
  auto tfidf = TfIdf::FromSums(LocalTfIdfSums(x));
  EXPECT_TRUE(tfidf.ok());
  return *tfidf->Transform(x);
}

inline Eigen::MatrixXd Dense(const data::CsrMatrix& m) {
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(m.rows, m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) d(r, m.indices[k]) = m.value(k);
  }
  return d;
}

// Leverage scores from an exact SVD (Eigen BDCSVD) of the densified matrix.
inline std::vector<double> ExactLeverage(const Eigen::MatrixXd& t, int k) {
  Eigen::BDCSVD<Eigen::MatrixXd> svd(t, Eigen::ComputeThinV);
  RowMatrix v = svd.matrixV().leftCols(k);
  return LeverageScores(v);
}
inline std::vector<double> ExactLeverage(const data::CsrMatrix& t, int k) {
  return ExactLeverage(Dense(t), k);
}

// Average ranks (ties share the mean rank), as scipy.stats.rankdata.
inline std::vector<double> Ranks(const std::vector<double>& x) {
  std::vector<int> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    for (size_t m = i; m <= j; ++m) rank[order[m]] = (i + j) / 2.0;
    i = j + 1;
  }
  return rank;
}

inline double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = Ranks(a), rb = Ranks(b);
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / ra.size();
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / rb.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Fraction of the peaks two sorted index lists share, relative to the first.
inline double Overlap(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return static_cast<double>(both.size()) / a.size();
}

// Overlap of the top `rate` fractions of two score vectors.
inline double TopOverlap(const std::vector<double>& a, const std::vector<double>& b, double rate) {
  SelectionOptions options;
  options.rate = rate;
  return Overlap(*SelectPeaks(a, options), *SelectPeaks(b, options));
}

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_
