#include "libs/eval/layout.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

TEST(LayoutTest, SeparatedBlobsStaySeparated) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(3, 100, 8, 8.0, 21, &labels);
  auto layout = ComputeLayout(points);
  ASSERT_TRUE(layout.ok()) << layout.status();
  ASSERT_EQ(layout->cells.size(), 300u);
  ASSERT_EQ(layout->x.size(), 300u);
  // Centroid and spread of each blob in the picture.
  double cx[3] = {0, 0, 0}, cy[3] = {0, 0, 0};
  for (size_t i = 0; i < 300; ++i) {
    cx[labels[i]] += layout->x[i] / 100;
    cy[labels[i]] += layout->y[i] / 100;
  }
  double spread = 0;
  for (size_t i = 0; i < 300; ++i) {
    spread += std::hypot(layout->x[i] - cx[labels[i]], layout->y[i] - cy[labels[i]]) / 300;
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = a + 1; b < 3; ++b) {
      EXPECT_GT(std::hypot(cx[a] - cx[b], cy[a] - cy[b]), 3 * spread) << a << " " << b;
    }
  }
  auto again = ComputeLayout(points);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(layout->x, again->x);
}

TEST(LayoutTest, LargeInputsAreSampled) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(2, 150, 4, 5.0, 22, &labels);
  LayoutOptions options;
  options.max_cells = 120;
  options.iterations = 50;
  auto layout = ComputeLayout(points, options);
  ASSERT_TRUE(layout.ok());
  ASSERT_EQ(layout->cells.size(), 120u);
  EXPECT_TRUE(std::is_sorted(layout->cells.begin(), layout->cells.end()));
  EXPECT_LT(layout->cells.back(), 300);
  for (double v : layout->x) EXPECT_TRUE(std::isfinite(v));
}

TEST(LayoutTest, TinyInputs) {
  auto one = ComputeLayout(data::DenseMatrix{1, 2, {1, 2}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->x.size(), 1u);
  auto three = ComputeLayout(data::DenseMatrix{3, 1, {0, 1, 5}});
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->y.size(), 3u);
  // Identical points: no variance, still a layout.
  auto same = ComputeLayout(data::DenseMatrix{4, 2, {1, 1, 1, 1, 1, 1, 1, 1}});
  ASSERT_TRUE(same.ok());
  for (double v : same->x) EXPECT_TRUE(std::isfinite(v));
}

TEST(LayoutTest, BadInputIsAnError) {
  EXPECT_FALSE(ComputeLayout(data::DenseMatrix{}).ok());
  data::DenseMatrix nan{2, 1, {0, std::numeric_limits<float>::quiet_NaN()}};
  EXPECT_FALSE(ComputeLayout(nan).ok());
  LayoutOptions options;
  options.iterations = 0;
  EXPECT_FALSE(ComputeLayout(data::DenseMatrix{3, 1, {0, 1, 2}}, options).ok());
}

}  // namespace
}  // namespace flsailer::eval
