// Shared fixtures of the sampling tests.
#ifndef FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_
#define FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_

#include <random>

#include "libs/data/csr_matrix.h"

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

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_SAMPLING_TEST_UTIL_H_
