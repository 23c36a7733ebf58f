// Internal to libs/eval: seeded random numbers that are the same on every platform.
#ifndef FLSAILER_LIBS_EVAL_RANDOM_H_
#define FLSAILER_LIBS_EVAL_RANDOM_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace flsailer::eval::internal {

// std::mt19937_64's output is fixed by the C++ standard; the std:: distributions are not, so the
// draws below are our own.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform in [0, n) without modulo bias. REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % n;
  }

  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i > 1; --i) std::swap((*items)[i - 1], (*items)[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// `m` distinct indices drawn uniformly from [0, n), in increasing order (all of them if m >= n).
inline std::vector<int64_t> SampleIndices(int64_t n, int64_t m, uint64_t seed) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  if (m >= n) return all;
  Random random(seed);
  // Partial Fisher-Yates: the first m slots become a uniform sample.
  for (int64_t i = 0; i < m; ++i) {
    const int64_t j = i + static_cast<int64_t>(random.Below(static_cast<uint64_t>(n - i)));
    std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(j)]);
  }
  all.resize(static_cast<size_t>(m));
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_RANDOM_H_
