#include "libs/baselines/lsi.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "libs/data/dataset.h"

namespace flsailer::baselines {
namespace {

// Leave-one-out k-nearest-neighbour label accuracy of an embedding under cosine distance (how
// LSI embeddings are compared): a simple, assumption-light measure of whether types sit together.
double KnnAccuracy(data::DenseMatrix e, const std::vector<std::string>& labels, int k) {
  for (int64_t i = 0; i < e.rows; ++i) {
    double norm = 0;
    for (int64_t c = 0; c < e.cols; ++c) norm += std::pow(e.data[i * e.cols + c], 2);
    for (int64_t c = 0; c < e.cols; ++c) e.data[i * e.cols + c] /= std::sqrt(norm);
  }
  int correct = 0;
  std::vector<std::pair<double, int64_t>> dist(e.rows);
  for (int64_t i = 0; i < e.rows; ++i) {
    for (int64_t j = 0; j < e.rows; ++j) {
      double d = 0;
      for (int64_t c = 0; c < e.cols; ++c) {
        const double diff = e.data[i * e.cols + c] - e.data[j * e.cols + c];
        d += diff * diff;
      }
      dist[j] = {i == j ? HUGE_VAL : d, j};
    }
    std::partial_sort(dist.begin(), dist.begin() + k, dist.end());
    std::map<std::string, int> votes;
    for (int n = 0; n < k; ++n) ++votes[labels[dist[n].second]];
    const auto best = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) {
      return a.second < b.second;
    });
    correct += best->first == labels[i];
  }
  return static_cast<double>(correct) / e.rows;
}

data::Dataset LoadOrDie(const std::string& name) {
  auto ds = data::LoadDataset("../shared/data/" + name);
  EXPECT_TRUE(ds.ok()) << ds.status();
  return ds.ok() ? *std::move(ds) : data::Dataset{};
}

TEST(LsiTest, SeparatesCellTypesOnRealData) {
  const data::Dataset ds = LoadOrDie("granja2019_bmmc");
  if (ds.matrix.rows == 0) GTEST_SKIP();
  auto lsi = RunLsi(ds.matrix);
  ASSERT_TRUE(lsi.ok()) << lsi.status();
  EXPECT_EQ(lsi->embedding.rows, 600);
  EXPECT_EQ(lsi->embedding.cols, 29);  // 30 components, depth component dropped
  const auto& labels = ds.metadata.columns[ds.metadata.Find("cell_type")];
  // Chance is 1/6; LSI places most cells among their own type (measured 0.745; the four
  // progenitor types of this dataset are close to each other).
  EXPECT_GT(KnnAccuracy(lsi->embedding, labels, 15), 0.7);
}

TEST(LsiTest, TwoCellLinesAreTrivial) {
  const data::Dataset ds = LoadOrDie("buenrostro2015_gm12878_h1");
  if (ds.matrix.rows == 0) GTEST_SKIP();
  LsiOptions options;
  options.components = 10;
  auto lsi = RunLsi(ds.matrix, options);
  ASSERT_TRUE(lsi.ok()) << lsi.status();
  EXPECT_EQ(KnnAccuracy(lsi->embedding, ds.metadata.columns[ds.metadata.Find("cell_type")], 5),
            1.0);
}

TEST(LsiTest, DropsTheDepthComponentAndKeepsSingularValueScale) {
  const data::Dataset ds = LoadOrDie("granja2019_bmmc");
  if (ds.matrix.rows == 0) GTEST_SKIP();
  auto lsi = RunLsi(ds.matrix);
  ASSERT_TRUE(lsi.ok());
  ASSERT_GE(lsi->dropped_component, 0);
  for (double r : lsi->depth_correlation) {
    EXPECT_LE(std::abs(r), std::abs(lsi->depth_correlation[lsi->dropped_component]));
  }
  // As in scATAC-seq practice, the first component is the depth one.
  EXPECT_EQ(lsi->dropped_component, 0);
  EXPECT_GT(std::abs(lsi->depth_correlation[0]), 0.8);
  // Column c of U S has squared norm sigma_c^2.
  for (int64_t c = 0; c < lsi->embedding.cols; ++c) {
    double sq = 0;
    for (int64_t r = 0; r < lsi->embedding.rows; ++r) sq += std::pow(lsi->embedding.data[r * 29 + c], 2);
    const double sigma = lsi->singular_values[c + 1];  // component 0 was dropped
    EXPECT_NEAR(std::sqrt(sq), sigma, 1e-3 * sigma) << c;
  }
  EXPECT_TRUE(std::is_sorted(lsi->singular_values.rbegin(), lsi->singular_values.rend()));

  LsiOptions keep;
  keep.drop_depth_component = false;
  auto all = RunLsi(ds.matrix, keep);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->embedding.cols, 30);
  EXPECT_EQ(all->dropped_component, -1);
}

TEST(LsiTest, RejectsImpossibleRequests) {
  data::CsrBuilder b(5, /*binary=*/true);
  b.Add(1, 1);
  b.FinishRow();
  b.FinishRow();
  b.Add(3, 1);
  b.FinishRow();
  const data::CsrMatrix m = std::move(b).Finish();
  LsiOptions options;
  options.components = 3;  // >= min(3 cells, 5 peaks)
  EXPECT_FALSE(RunLsi(m, options).ok());
  options.components = 1;
  EXPECT_FALSE(RunLsi(m, options).ok());
  EXPECT_FALSE(RunLsi(data::CsrMatrix{}, options).ok());
  // Two cells can give no valid component count: the error says what the data lack.
  options.components = 2;
  const absl::Status two_cells = RunLsi(m.SelectRows({0, 2}), options).status();
  EXPECT_EQ(two_cells.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(two_cells.message()).find("needs at least 3 cells"), std::string::npos)
      << two_cells;
}

}  // namespace
}  // namespace flsailer::baselines
