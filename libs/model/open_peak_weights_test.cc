#include "libs/model/open_peak_weights.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace flsailer::model::internal {
namespace {

std::vector<int64_t> OffsetsOf(const std::vector<int64_t>& open_peaks) {
  std::vector<int64_t> offsets(1, 0);
  for (int64_t o : open_peaks) offsets.push_back(offsets.back() + o);
  return offsets;
}

TEST(OpenPeakWeightsTest, ShallowCellsWeighUpToTheCap) {
  // Open peaks 900, 100, 400, 1600, 0: upper median 400.
  const std::vector<int64_t> offsets = OffsetsOf({900, 100, 400, 1600, 0});
  std::vector<float> w;
  OpenPeakWeights(offsets, 2.0f, 4.0f, &w);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_FLOAT_EQ(w[0], 2.0f);  // deeper than the median: never below pos_weight
  EXPECT_FLOAT_EQ(w[1], 2.0f * 2.0f);  // sqrt(400 / 100)
  EXPECT_FLOAT_EQ(w[2], 2.0f);
  EXPECT_FLOAT_EQ(w[3], 2.0f);
  EXPECT_FLOAT_EQ(w[4], 2.0f * 4.0f);  // sqrt(400 / 1) = 20, capped
  OpenPeakWeights(offsets, 2.0f, 1.5f, &w);
  EXPECT_FLOAT_EQ(w[1], 3.0f);
}

TEST(OpenPeakWeightsTest, CapOneOrOneCellGivesPosWeight) {
  std::vector<float> w;
  OpenPeakWeights(OffsetsOf({5, 500, 50}), 1.0f, 1.0f, &w);
  EXPECT_EQ(w, (std::vector<float>{1.0f, 1.0f, 1.0f}));
  OpenPeakWeights(OffsetsOf({7}), 1.0f, 3.0f, &w);
  EXPECT_EQ(w, (std::vector<float>{1.0f}));
  OpenPeakWeights(OffsetsOf({}), 1.0f, 3.0f, &w);
  EXPECT_TRUE(w.empty());
}

}  // namespace
}  // namespace flsailer::model::internal
