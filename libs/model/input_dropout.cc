#include "libs/model/input_dropout.h"

#include <algorithm>

namespace flsailer::model::internal {

float DrawInputKeep(const std::vector<int64_t>& offsets, float dropout, float spread,
                    std::mt19937_64* rng, std::vector<uint8_t>* keep) {
  keep->assign(static_cast<size_t>(offsets.back()), 1);
  if (dropout <= 0) return 1.0f;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const float mean_keep = 1.0f - dropout;
  if (spread <= 0) {
    // The draws of the former fixed-rate dropout, so results for a seed are unchanged.
    for (uint8_t& k : *keep) k = u(*rng) >= dropout;
  } else {
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      const float rate =
          std::min(1.0f, mean_keep * (1.0f + spread * (2.0f * u(*rng) - 1.0f)));
      for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) (*keep)[k] = u(*rng) < rate;
    }
  }
  return 1.0f / mean_keep;
}

}  // namespace flsailer::model::internal
