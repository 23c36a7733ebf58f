#include "services/cli/quantiles.h"

#include "gtest/gtest.h"

namespace flsailer::cli {
namespace {

TEST(QuantilesTest, InterpolatesLikeNumpy) {
  // numpy.quantile([4, 1, 3, 2], [0, .25, .5, .75, 1]) = [1, 1.75, 2.5, 3.25, 4]
  const FiveNumbers q = Summarise({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(q.min, 1);
  EXPECT_DOUBLE_EQ(q.q25, 1.75);
  EXPECT_DOUBLE_EQ(q.median, 2.5);
  EXPECT_DOUBLE_EQ(q.q75, 3.25);
  EXPECT_DOUBLE_EQ(q.max, 4);
  EXPECT_DOUBLE_EQ(Quantile({5}, 0.3), 5);
}

TEST(QuantilesTest, EmptyIsAllZero) {
  const FiveNumbers q = Summarise({});
  EXPECT_EQ(q.min, 0);
  EXPECT_EQ(q.max, 0);
}

}  // namespace
}  // namespace flsailer::cli
