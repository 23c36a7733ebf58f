#include "libs/eval/integration_metrics.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/categories.h"
#include "libs/eval/chi_square.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

KnnGraph Knn(const data::DenseMatrix& points, int k) {
  KnnOptions options;
  options.k = k;
  auto graph = BuildKnnGraph(points, options);
  return graph.ok() ? *graph : KnnGraph{};
}

class IntegrationMetricsTest : public testing::BlobsFixture {};

TEST_F(IntegrationMetricsTest, GraphConnectivityMatchesScib) {
  auto k15 = GraphConnectivity(Knn(blobs_.embedding, 15), labels_);
  ASSERT_TRUE(k15.ok());
  EXPECT_NEAR(*k15, expected_["graph_connectivity_k15"], 1e-12);
  auto k3 = GraphConnectivity(Knn(blobs_.embedding, 3), labels_);
  ASSERT_TRUE(k3.ok());
  EXPECT_NEAR(*k3, expected_["graph_connectivity_k3"], 1e-12);
}

TEST_F(IntegrationMetricsTest, LisiMatchesHarmony) {
  auto fixture = testing::ReadFixture("blobs_lisi.tsv");
  ASSERT_TRUE(fixture.ok());
  const KnnGraph knn = Knn(blobs_.embedding, 90);
  auto lisi = LocalInverseSimpson(knn, batches_, 30);
  ASSERT_TRUE(lisi.ok()) << lisi.status();
  ASSERT_EQ(lisi->size(), fixture->size());
  for (size_t i = 0; i < lisi->size(); ++i) {
    EXPECT_NEAR((*lisi)[i], std::stod((*fixture)[i][1]), 1e-4);
    EXPECT_GE((*lisi)[i], 1 - 1e-9);
    EXPECT_LE((*lisi)[i], 3 + 1e-9);
  }
  auto ilisi = Ilisi(knn, batches_, 30, /*threads=*/2);
  ASSERT_TRUE(ilisi.ok());
  EXPECT_NEAR(*ilisi, expected_["ilisi"], 1e-4);
}

TEST_F(IntegrationMetricsTest, KbetMatchesTheReference) {
  auto kbet = KbetAcceptance(blobs_.embedding, labels_, batches_);
  ASSERT_TRUE(kbet.ok()) << kbet.status();
  EXPECT_NEAR(*kbet, expected_["kbet"], 1e-12);
  KbetOptions options;
  options.threads = 2;
  options.max_tested_cells = 30;
  auto sampled = KbetAcceptance(blobs_.embedding, labels_, batches_, options);
  ASSERT_TRUE(sampled.ok());
  EXPECT_NEAR(*sampled, expected_["kbet"], 0.15);
}

TEST_F(IntegrationMetricsTest, OneBatchLeavesBatchMetricsUndefined) {
  const std::vector<int32_t> one(labels_.size(), 0);
  auto ilisi = Ilisi(Knn(blobs_.embedding, 20), one);
  ASSERT_TRUE(ilisi.ok());
  EXPECT_TRUE(std::isnan(*ilisi));
  auto kbet = KbetAcceptance(blobs_.embedding, labels_, one);
  ASSERT_TRUE(kbet.ok());
  EXPECT_TRUE(std::isnan(*kbet));
  auto lisi = LocalInverseSimpson(Knn(blobs_.embedding, 20), one);
  ASSERT_TRUE(lisi.ok());
  for (double v : *lisi) EXPECT_NEAR(v, 1.0, 1e-12);
}

TEST(IntegrationEdgeTest, GraphConnectivityByHand) {
  // Two labels on a line: label 0 at 0, 1 and 10, 11 (two pieces), label 1 at 5, 6.
  data::DenseMatrix points{6, 1, {0, 1, 10, 11, 5, 6}};
  auto gc = GraphConnectivity(Knn(points, 1), {0, 0, 0, 0, 1, 1});
  ASSERT_TRUE(gc.ok());
  EXPECT_DOUBLE_EQ(*gc, (0.5 + 1.0) / 2);
  auto singleton = GraphConnectivity(Knn(points, 1), {0, 1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(*singleton, 1.0);
  auto unlabelled = GraphConnectivity(Knn(points, 1), {-1, -1, -1, -1, -1, -1});
  EXPECT_TRUE(std::isnan(*unlabelled));
}

TEST(IntegrationEdgeTest, MixedAndSeparatedBatches) {
  // One cloud whose cells alternate between two batches: neighbourhoods are mixed.
  std::vector<int32_t> blob;
  const data::DenseMatrix cloud = testing::GaussianBlobs(1, 400, 3, 0.0, 31, &blob);
  std::vector<int32_t> alternating;
  for (int i = 0; i < 400; ++i) alternating.push_back(i % 2);
  const std::vector<int32_t> one_label(400, 0);
  auto ilisi = Ilisi(Knn(cloud, 90), alternating);
  ASSERT_TRUE(ilisi.ok());
  EXPECT_GT(*ilisi, 0.7);
  auto kbet = KbetAcceptance(cloud, one_label, alternating);
  ASSERT_TRUE(kbet.ok());
  EXPECT_GT(*kbet, 0.8);
  // Two distant clouds, one per batch: neighbourhoods hold one batch.
  std::vector<int32_t> which;
  const data::DenseMatrix apart = testing::GaussianBlobs(2, 200, 3, 50.0, 32, &which);
  auto separated = Ilisi(Knn(apart, 90), which);
  ASSERT_TRUE(separated.ok());
  EXPECT_LT(*separated, 0.01);
  auto rejected = KbetAcceptance(apart, one_label, which);
  ASSERT_TRUE(rejected.ok());
  EXPECT_LT(*rejected, 0.05);
}

TEST(IntegrationEdgeTest, BadInputIsAnError) {
  data::DenseMatrix points{3, 1, {0, 1, 2}};
  const KnnGraph knn = Knn(points, 1);
  EXPECT_THAT(GraphConnectivity(knn, {0}).status().message(), HasSubstr("1 labels for 3 cells"));
  EXPECT_THAT(Ilisi(knn, {0, 1, -1}).status().message(), HasSubstr("negative batch at cell 2"));
  EXPECT_FALSE(LocalInverseSimpson(knn, {0, 1, 0}, 0).ok());
  KbetOptions options;
  options.alpha = 1.5;
  EXPECT_THAT(KbetAcceptance(points, {0, 0, 0}, {0, 1, 0}, options).status().message(),
              HasSubstr("alpha"));
  EXPECT_FALSE(KbetAcceptance(points, {0, 0}, {0, 1, 0}).ok());
}

TEST(ChiSquareTest, MatchesScipy) {
  auto rows = testing::ReadFixture("chi_square.tsv");
  ASSERT_TRUE(rows.ok());
  ASSERT_GE(rows->size(), 10u);
  for (const auto& row : *rows) {
    const double expected = std::stod(row[2]);
    EXPECT_NEAR(internal::ChiSquareSurvival(std::stod(row[0]), std::stoi(row[1])), expected,
                1e-12 + 1e-10 * expected)
        << row[0] << " " << row[1];
  }
  EXPECT_EQ(internal::ChiSquareSurvival(INFINITY, 3), 0.0);
}

}  // namespace
}  // namespace flsailer::eval
