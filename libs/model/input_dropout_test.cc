#include "libs/model/input_dropout.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace flsailer::model::internal {
namespace {

// `cells` cells of `entries` open peaks each, then one empty cell.
std::vector<int64_t> Offsets(int64_t cells, int64_t entries) {
  std::vector<int64_t> offsets(1, 0);
  for (int64_t i = 0; i < cells; ++i) offsets.push_back(offsets.back() + entries);
  offsets.push_back(offsets.back());
  return offsets;
}

std::vector<double> KeptFractions(const std::vector<int64_t>& offsets,
                                  const std::vector<uint8_t>& keep) {
  std::vector<double> out;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (offsets[i + 1] == offsets[i]) continue;
    int64_t kept = 0;
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) kept += keep[k];
    out.push_back(static_cast<double>(kept) / static_cast<double>(offsets[i + 1] - offsets[i]));
  }
  return out;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

TEST(InputDropoutTest, WithoutSpreadEveryCellKeepsTheSameFraction) {
  const std::vector<int64_t> offsets = Offsets(200, 2000);
  std::mt19937_64 rng(1);
  std::vector<uint8_t> keep;
  EXPECT_FLOAT_EQ(DrawInputKeep(offsets, 0.7f, 0.0f, &rng, &keep), 1.0f / 0.3f);
  ASSERT_EQ(keep.size(), 400000u);
  const std::vector<double> f = KeptFractions(offsets, keep);
  EXPECT_GT(*std::min_element(f.begin(), f.end()), 0.25);
  EXPECT_LT(*std::max_element(f.begin(), f.end()), 0.35);
}

TEST(InputDropoutTest, SpreadGivesCellsDifferentDepthsAroundTheSameMean) {
  const std::vector<int64_t> offsets = Offsets(1000, 1000);
  std::mt19937_64 rng(2);
  std::vector<uint8_t> keep;
  EXPECT_FLOAT_EQ(DrawInputKeep(offsets, 0.7f, 0.9f, &rng, &keep), 1.0f / 0.3f);
  const std::vector<double> f = KeptFractions(offsets, keep);
  // Rates are uniform on [0.03, 0.57].
  EXPECT_LT(*std::min_element(f.begin(), f.end()), 0.07);
  EXPECT_GT(*std::max_element(f.begin(), f.end()), 0.52);
  EXPECT_LT(*std::max_element(f.begin(), f.end()), 0.60);
  EXPECT_NEAR(Mean(f), 0.3, 0.02);  // the mean of 1,000 rates: s.d. 0.005
  int64_t shallow = 0;
  for (double x : f) shallow += x < 0.15;
  EXPECT_GT(shallow, 150);  // ~22% of the cells
  EXPECT_LT(shallow, 300);
}

TEST(InputDropoutTest, RatesAboveOneAreClipped) {
  const std::vector<int64_t> offsets = Offsets(300, 500);
  std::mt19937_64 rng(3);
  std::vector<uint8_t> keep;
  DrawInputKeep(offsets, 0.2f, 1.0f, &rng, &keep);  // rates uniform on [0, 1.6], clipped
  const std::vector<double> f = KeptFractions(offsets, keep);
  int64_t full = 0;
  for (double x : f) full += x == 1.0;
  EXPECT_GT(full, 60);  // P(rate >= 1) = 3/8
  EXPECT_LT(*std::min_element(f.begin(), f.end()), 0.05);
}

TEST(InputDropoutTest, NoDropoutKeepsEverything) {
  const std::vector<int64_t> offsets = Offsets(10, 50);
  std::mt19937_64 rng(4);
  std::vector<uint8_t> keep;
  EXPECT_EQ(DrawInputKeep(offsets, 0.0f, 0.9f, &rng, &keep), 1.0f);
  EXPECT_EQ(std::count(keep.begin(), keep.end(), 1), 500);
}

TEST(InputDropoutTest, SameSeedSameMask) {
  const std::vector<int64_t> offsets = Offsets(50, 100);
  std::vector<uint8_t> a, b, c;
  std::mt19937_64 r1(5), r2(5), r3(6);
  DrawInputKeep(offsets, 0.7f, 0.9f, &r1, &a);
  DrawInputKeep(offsets, 0.7f, 0.9f, &r2, &b);
  DrawInputKeep(offsets, 0.7f, 0.9f, &r3, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace flsailer::model::internal
