#include "libs/sampling/leverage.h"

#include "gtest/gtest.h"

namespace flsailer::sampling {
namespace {

TEST(LeverageTest, ScoresOfOrthonormalColumnsSumToOne) {
  RowMatrix v = RowMatrix::Zero(4, 2);
  v(0, 0) = 1;
  v(1, 1) = std::sqrt(0.5);
  v(2, 1) = std::sqrt(0.5);
  const std::vector<double> s = LeverageScores(v);
  EXPECT_DOUBLE_EQ(s[0], 0.5);
  EXPECT_DOUBLE_EQ(s[1], 0.25);
  EXPECT_DOUBLE_EQ(s[3], 0.0);
}

TEST(SelectPeaksTest, TopKeepsHighestWithIndexTieBreak) {
  const std::vector<double> scores = {0.1, 0.4, 0.1, 0.3, 0.1};
  SelectionOptions options;
  options.rate = 0.6;  // ceil(3) peaks
  EXPECT_EQ(*SelectPeaks(scores, options), (std::vector<int32_t>{0, 1, 3}));
  options.rate = 0.2;
  EXPECT_EQ(*SelectPeaks(scores, options), (std::vector<int32_t>{1}));
}

TEST(SelectPeaksTest, SamplingFollowsScoresAndIsDeterministic) {
  std::vector<double> scores(1000, 0.0);
  for (int j = 0; j < 100; ++j) scores[j] = 1.0;      // heavy
  for (int j = 100; j < 1000; ++j) scores[j] = 0.01;  // light
  SelectionOptions options;
  options.method = SelectionMethod::kSample;
  options.rate = 0.1;
  options.seed = 42;
  auto a = SelectPeaks(scores, options);
  auto b = SelectPeaks(scores, options);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 100u);
  const int heavy = std::count_if(a->begin(), a->end(), [](int32_t j) { return j < 100; });
  EXPECT_GT(heavy, 70);  // expected ~92 of 100 under weighted sampling without replacement
  EXPECT_LT(heavy, 100);
  options.seed = 43;
  EXPECT_NE(*SelectPeaks(scores, options), *a);
}

TEST(SelectPeaksTest, ZeroScoresComeLastAndBadInputFails) {
  SelectionOptions options;
  options.method = SelectionMethod::kSample;
  options.rate = 0.5;
  EXPECT_EQ(*SelectPeaks({0, 1, 0, 1}, options), (std::vector<int32_t>{1, 3}));
  options.rate = 0;
  EXPECT_FALSE(SelectPeaks({1, 2}, options).ok());
  options.rate = 1.5;
  EXPECT_FALSE(SelectPeaks({1, 2}, options).ok());
  options.rate = 0.5;
  EXPECT_FALSE(SelectPeaks({1, std::nan("")}, options).ok());
  EXPECT_FALSE(SelectPeaks({1, -1}, options).ok());
  EXPECT_FALSE(SelectPeaks({}, options).ok());
}

}  // namespace
}  // namespace flsailer::sampling
