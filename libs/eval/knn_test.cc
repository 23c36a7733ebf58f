#include "libs/eval/knn.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

KnnOptions WithK(int k) {
  KnnOptions options;
  options.k = k;
  return options;
}

TEST(KnnTest, ExactSearchMatchesScikitLearn) {
  auto blobs = testing::ReadBlobs();
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  auto expected = testing::ReadFixture("blobs_knn.tsv");
  ASSERT_TRUE(expected.ok()) << expected.status();
  KnnOptions options;
  options.k = 10;
  auto graph = BuildKnnGraph(blobs->embedding, options);
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->num_cells, 240);
  ASSERT_EQ(expected->size(), 240u);
  for (int64_t i = 0; i < graph->num_cells; ++i) {
    const std::vector<int32_t> neighbours = testing::SplitInts((*expected)[i][1]);
    const std::vector<double> distances = testing::SplitDoubles((*expected)[i][2]);
    for (int j = 0; j < 10; ++j) {
      EXPECT_EQ(graph->neighbor(i, j), neighbours[j]) << "cell " << i << " rank " << j;
      EXPECT_NEAR(graph->distance(i, j), distances[j], 1e-5 * (1 + distances[j]));
    }
  }
}

TEST(KnnTest, ResultDoesNotDependOnThreads) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(5, 300, 8, 4.0, 1, &labels);
  KnnOptions options;
  options.k = 12;
  auto one = BuildKnnGraph(points, options);
  options.threads = 3;
  auto three = BuildKnnGraph(points, options);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one->indices, three->indices);
  EXPECT_EQ(one->distances, three->distances);
}

TEST(KnnTest, HnswIsDeterministicAndFindsTheTrueNeighbours) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(6, 400, 10, 3.0, 2, &labels);
  KnnOptions options;
  options.k = 15;
  auto exact = BuildKnnGraph(points, options);
  options.exact_max_cells = 0;  // force HNSW
  options.seed = 5;
  options.threads = 2;
  auto hnsw = BuildKnnGraph(points, options);
  options.threads = 1;
  auto again = BuildKnnGraph(points, options);
  ASSERT_TRUE(exact.ok() && hnsw.ok() && again.ok()) << hnsw.status();
  EXPECT_EQ(hnsw->indices, again->indices);
  int64_t found = 0;
  for (int64_t i = 0; i < points.rows; ++i) {
    std::set<int32_t> truth(&exact->indices[i * 15], &exact->indices[i * 15] + 15);
    for (int j = 0; j < 15; ++j) {
      EXPECT_NE(hnsw->neighbor(i, j), i);
      found += truth.count(hnsw->neighbor(i, j));
      if (j > 0) {
        EXPECT_LE(hnsw->distance(i, j - 1), hnsw->distance(i, j));
      }
    }
  }
  EXPECT_GE(static_cast<double>(found) / (points.rows * 15), 0.98);
}

TEST(KnnTest, CosineIgnoresRowScale) {
  std::vector<int32_t> labels;
  data::DenseMatrix points = testing::GaussianBlobs(3, 50, 5, 3.0, 3, &labels);
  data::DenseMatrix scaled = points;
  for (int64_t i = 0; i < scaled.rows; ++i) {
    for (int64_t t = 0; t < scaled.cols; ++t) scaled.data[i * scaled.cols + t] *= 1.0f + i % 7;
  }
  KnnOptions options;
  options.k = 5;
  options.metric = DistanceMetric::kCosine;
  auto a = BuildKnnGraph(points, options);
  auto b = BuildKnnGraph(scaled, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->indices, b->indices);
  // Distance sqrt(2 - 2 cos) between the original rows.
  const float* x = &points.data[0];
  const float* y = &points.data[a->neighbor(0, 0) * points.cols];
  double dot = 0, nx = 0, ny = 0;
  for (int t = 0; t < 5; ++t) {
    dot += x[t] * y[t];
    nx += x[t] * x[t];
    ny += y[t] * y[t];
  }
  EXPECT_NEAR(a->distance(0, 0), std::sqrt(2 - 2 * dot / std::sqrt(nx * ny)), 1e-5);
}

TEST(KnnTest, DuplicatePointsAreNeighboursButNotThemselves) {
  data::DenseMatrix points{4, 1, {1, 1, 1, 5}};
  auto graph = BuildKnnGraph(points, WithK(2));
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(graph->neighbor(0, 0), 1);
  EXPECT_EQ(graph->neighbor(0, 1), 2);
  EXPECT_EQ(graph->distance(0, 1), 0.0f);
  EXPECT_EQ(graph->neighbor(3, 0), 0);  // ties broken by index
  EXPECT_EQ(graph->distance(3, 0), 4.0f);
}

TEST(KnnTest, BadInputIsAnError) {
  KnnOptions options;
  options.k = 2;
  EXPECT_THAT(BuildKnnGraph(data::DenseMatrix{}, options).status().message(),
              HasSubstr("embedding is empty"));
  data::DenseMatrix nan{3, 2, {0, 1, 2, std::numeric_limits<float>::quiet_NaN(), 4, 5}};
  EXPECT_THAT(BuildKnnGraph(nan, options).status().message(),
              HasSubstr("cell 1, dimension 1 is nan"));
  data::DenseMatrix inf{3, 1, {0, std::numeric_limits<float>::infinity(), 1}};
  EXPECT_THAT(BuildKnnGraph(inf, options).status().message(),
              HasSubstr("cell 1, dimension 0 is inf"));
  data::DenseMatrix huge{3, 1, {0, -1e30f, 1}};
  EXPECT_THAT(BuildKnnGraph(huge, options).status().message(), HasSubstr("larger than 1e15"));
  data::DenseMatrix short_data{3, 2, {0, 1, 2}};
  EXPECT_THAT(BuildKnnGraph(short_data, options).status().message(), HasSubstr("holds 3 values"));
  data::DenseMatrix three{3, 1, {0, 1, 2}};
  options.k = 3;
  EXPECT_THAT(BuildKnnGraph(three, options).status().message(), HasSubstr("at least 4 cells"));
  options.k = 0;
  EXPECT_FALSE(BuildKnnGraph(three, options).ok());
  options.k = 1;
  options.hnsw_m = 1;
  EXPECT_FALSE(BuildKnnGraph(three, options).ok());
}

TEST(KnnTest, TruncateKeepsTheNearest) {
  data::DenseMatrix points{5, 1, {0, 1, 3, 6, 10}};
  auto graph = BuildKnnGraph(points, WithK(3));
  ASSERT_TRUE(graph.ok());
  const KnnGraph two = TruncateKnnGraph(*graph, 2);
  EXPECT_EQ(two.k, 2);
  EXPECT_EQ(two.indices, (std::vector<int32_t>{1, 2, 0, 2, 1, 0, 2, 4, 3, 2}));
  EXPECT_EQ(two.distances[9], 7.0f);
}

TEST(NeighborGraphTest, UmapWeightsMatchUmapLearnFormulas) {
  auto blobs = testing::ReadBlobs();
  auto expected = testing::ReadFixture("blobs_umap_graph.tsv");
  ASSERT_TRUE(blobs.ok() && expected.ok());
  auto knn = BuildKnnGraph(blobs->embedding, WithK(15));
  ASSERT_TRUE(knn.ok());
  const NeighborGraph graph = BuildNeighborGraph(*knn, EdgeWeighting::kUmap);
  ASSERT_EQ(graph.num_edges(), static_cast<int64_t>(expected->size()));
  for (int64_t e = 0; e < graph.num_edges(); ++e) {
    EXPECT_EQ(graph.from[e], std::stoi((*expected)[e][0]));
    EXPECT_EQ(graph.to[e], std::stoi((*expected)[e][1]));
    EXPECT_NEAR(graph.weights[e], std::stod((*expected)[e][2]), 1e-5);
  }
}

TEST(NeighborGraphTest, UnitAndJaccardWeights) {
  // A path 0-1-2-3 on a line; with k = 1: 0->1, 1->0 (tie 0/2 by index), 2->1 (tie by index),
  // 3->2.
  data::DenseMatrix points{4, 1, {0, 1, 2, 3}};
  auto knn = BuildKnnGraph(points, WithK(1));
  ASSERT_TRUE(knn.ok());
  const NeighborGraph unit = BuildNeighborGraph(*knn, EdgeWeighting::kUnit);
  EXPECT_EQ(unit.from, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(unit.to, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(unit.weights, (std::vector<double>{1, 1, 1}));
  // Jaccard of {self, neighbour} sets: 0:{0,1} 1:{0,1} 2:{1,2} 3:{2,3}.
  const NeighborGraph snn = BuildNeighborGraph(*knn, EdgeWeighting::kJaccard);
  EXPECT_EQ(snn.from, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_THAT(snn.weights, ::testing::ElementsAre(1.0, 1.0 / 3, 1.0 / 3));
}

TEST(NeighborGraphTest, UmapWeightsAreMembershipsWithTheNearestAtOne) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(2, 40, 3, 2.0, 4, &labels);
  auto knn = BuildKnnGraph(points, WithK(7));
  ASSERT_TRUE(knn.ok());
  const NeighborGraph graph = BuildNeighborGraph(*knn, EdgeWeighting::kUmap);
  for (double w : graph.weights) {
    EXPECT_GT(w, 0);
    EXPECT_LE(w, 1);
  }
  // Each cell's edge to its nearest neighbour has membership 1, hence symmetrised weight 1.
  for (int64_t i = 0; i < knn->num_cells; ++i) {
    const int32_t a = std::min<int32_t>(i, knn->neighbor(i, 0));
    const int32_t b = std::max<int32_t>(i, knn->neighbor(i, 0));
    bool seen = false;
    for (int64_t e = 0; e < graph.num_edges(); ++e) {
      if (graph.from[e] == a && graph.to[e] == b) {
        EXPECT_DOUBLE_EQ(graph.weights[e], 1.0);
        seen = true;
      }
    }
    EXPECT_TRUE(seen);
  }
}

}  // namespace
}  // namespace flsailer::eval
