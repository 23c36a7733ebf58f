#include "libs/eval/cluster.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/partition_metrics.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

double Ari(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  auto agreement = ComparePartitions(a, b);
  return agreement.ok() ? agreement->ari : -2;
}

NeighborGraph UmapGraph(const data::DenseMatrix& points, int k) {
  KnnOptions options;
  options.k = k;
  auto knn = BuildKnnGraph(points, options);
  return knn.ok() ? BuildNeighborGraph(*knn, EdgeWeighting::kUmap) : NeighborGraph{};
}

std::vector<int32_t> FixtureColumn(const std::string& name) {
  std::vector<int32_t> values;
  auto rows = testing::ReadFixture(name);
  if (rows.ok()) {
    for (const auto& row : *rows) values.push_back(std::stoi(row[1]));
  }
  return values;
}

TEST(LeidenTest, AgreesWithLeidenalgOnTheFixtureGraph) {
  auto blobs = testing::ReadBlobs();
  auto expected = testing::ReadExpected();
  ASSERT_TRUE(blobs.ok() && expected.ok());
  const NeighborGraph graph = UmapGraph(blobs->embedding, 15);
  ASSERT_GT(graph.num_edges(), 0);
  auto clusters = Leiden(graph, LeidenOptions{});
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  EXPECT_EQ(clusters->num_clusters, static_cast<int>(expected->at("leiden_clusters")));
  const std::vector<int32_t> leidenalg = FixtureColumn("blobs_leiden.tsv");
  EXPECT_GE(Ari(leidenalg, clusters->assignments), 0.95);
}

TEST(LeidenTest, RecoversSeparatedBlobsDeterministically) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(5, 120, 8, 6.0, 11, &labels);
  const NeighborGraph graph = UmapGraph(points, 15);
  LeidenOptions options;
  options.seed = 3;
  auto a = Leiden(graph, options);
  auto b = Leiden(graph, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->assignments, b->assignments);
  EXPECT_EQ(a->num_clusters, 5);
  EXPECT_DOUBLE_EQ(Ari(labels, a->assignments), 1.0);
  // Numbered by decreasing size.
  std::vector<int64_t> sizes(static_cast<size_t>(a->num_clusters), 0);
  for (int32_t c : a->assignments) ++sizes[static_cast<size_t>(c)];
  EXPECT_TRUE(std::is_sorted(sizes.rbegin(), sizes.rend()));
}

TEST(LeidenTest, ResolutionSearchReachesTheTargetCount) {
  std::vector<int32_t> labels;
  // Overlapping blobs: one connected graph, so that any count can be reached.
  const data::DenseMatrix points = testing::GaussianBlobs(4, 100, 6, 1.5, 12, &labels);
  const NeighborGraph graph = UmapGraph(points, 15);
  for (int target : {1, 4, 8}) {
    auto clusters = LeidenWithClusterCount(graph, target, LeidenOptions{});
    ASSERT_TRUE(clusters.ok()) << clusters.status();
    EXPECT_EQ(clusters->num_clusters, target);
    int32_t max_cluster =
        *std::max_element(clusters->assignments.begin(), clusters->assignments.end());
    EXPECT_EQ(max_cluster + 1, target);
    if (target == 8) {
      EXPECT_GT(clusters->resolution, 1.0);
    } else if (target == 1) {
      EXPECT_LT(clusters->resolution, 1.0);
    }
  }
}

TEST(LeidenTest, UnreachableTargetReturnsTheClosest) {
  // Two cells joined by one edge: at most 2 clusters; asking for 2 works by raising resolution,
  // and a search limited to 1 run returns what it found.
  NeighborGraph graph;
  graph.num_nodes = 2;
  graph.from = {0};
  graph.to = {1};
  graph.weights = {1.0};
  ResolutionSearchOptions search;
  search.max_runs = 1;
  auto one_run = LeidenWithClusterCount(graph, 2, LeidenOptions{}, search);
  ASSERT_TRUE(one_run.ok());
  EXPECT_EQ(one_run->assignments.size(), 2u);
  auto full = LeidenWithClusterCount(graph, 2, LeidenOptions{});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->num_clusters, 2);
}

TEST(LeidenTest, NeverFewerClustersThanComponents) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(2, 60, 3, 100.0, 14, &labels);
  const NeighborGraph graph = UmapGraph(points, 10);
  auto clusters = LeidenWithClusterCount(graph, 1, LeidenOptions{});
  ASSERT_TRUE(clusters.ok());
  EXPECT_EQ(clusters->num_clusters, 2);
  EXPECT_DOUBLE_EQ(Ari(labels, clusters->assignments), 1.0);
}

TEST(LeidenTest, GraphsWithoutEdgesOrWithOneNode) {
  NeighborGraph isolated;
  isolated.num_nodes = 3;
  auto singletons = Leiden(isolated, LeidenOptions{});
  ASSERT_TRUE(singletons.ok());
  EXPECT_EQ(singletons->num_clusters, 3);
  NeighborGraph single;
  single.num_nodes = 1;
  auto one = LeidenWithClusterCount(single, 1, LeidenOptions{});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->assignments, std::vector<int32_t>{0});
}

TEST(LeidenTest, BadArgumentsAreErrors) {
  NeighborGraph empty;
  EXPECT_THAT(Leiden(empty, LeidenOptions{}).status().message(), HasSubstr("no nodes"));
  NeighborGraph two;
  two.num_nodes = 2;
  EXPECT_THAT(LeidenWithClusterCount(two, 3, LeidenOptions{}).status().message(),
              HasSubstr("cannot make 3 clusters of 2 cells"));
  EXPECT_FALSE(LeidenWithClusterCount(two, 0, LeidenOptions{}).ok());
  LeidenOptions bad;
  bad.resolution = -1;
  EXPECT_FALSE(Leiden(two, bad).ok());
  bad.resolution = 1;
  bad.beta = 0;
  EXPECT_FALSE(Leiden(two, bad).ok());
}

TEST(KMeansTest, MatchesScikitLearnOnTheFixture) {
  auto blobs = testing::ReadBlobs();
  auto expected = testing::ReadExpected();
  ASSERT_TRUE(blobs.ok() && expected.ok());
  KMeansOptions options;
  options.k = 4;
  auto result = KMeans(blobs->embedding, options);
  ASSERT_TRUE(result.ok()) << result.status();
  const double sklearn_inertia = expected->at("kmeans_inertia");
  EXPECT_NEAR(result->inertia, sklearn_inertia, 1e-6 * sklearn_inertia);
  EXPECT_DOUBLE_EQ(Ari(FixtureColumn("blobs_kmeans.tsv"), result->assignments), 1.0);
  EXPECT_EQ(result->centroids.rows, 4);
  EXPECT_EQ(result->centroids.cols, 6);
}

TEST(KMeansTest, DeterministicForASeedWhateverTheThreads) {
  std::vector<int32_t> labels;
  const data::DenseMatrix points = testing::GaussianBlobs(6, 200, 5, 2.0, 13, &labels);
  KMeansOptions options;
  options.k = 6;
  options.seed = 9;
  auto a = KMeans(points, options);
  options.threads = 2;
  auto b = KMeans(points, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->assignments, b->assignments);
  EXPECT_EQ(a->inertia, b->inertia);
  // Inertia is the sum of squared distances to the returned centroids.
  double inertia = 0;
  for (int64_t i = 0; i < points.rows; ++i) {
    for (int64_t t = 0; t < points.cols; ++t) {
      const double d =
          points.data[i * points.cols + t] - a->centroids.data[a->assignments[i] * points.cols + t];
      inertia += d * d;
    }
  }
  EXPECT_NEAR(a->inertia, inertia, 1e-3);
}

TEST(KMeansTest, ExtremeK) {
  data::DenseMatrix points{4, 1, {0, 1, 2, 7}};
  KMeansOptions options;
  options.k = 1;
  auto one = KMeans(points, options);
  ASSERT_TRUE(one.ok());
  EXPECT_NEAR(one->inertia, 6.25 + 2.25 + 0.25 + 20.25, 1e-9);  // around the mean 2.5
  options.k = 4;
  auto all = KMeans(points, options);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->inertia, 0);
  // More clusters than distinct points: duplicates leave clusters empty, which are re-seeded.
  data::DenseMatrix duplicates{4, 1, {1, 1, 1, 1}};
  options.k = 3;
  auto dup = KMeans(duplicates, options);
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->inertia, 0);
}

TEST(KMeansTest, BadArgumentsAreErrors) {
  data::DenseMatrix points{2, 1, {0, 1}};
  KMeansOptions options;
  options.k = 3;
  EXPECT_THAT(KMeans(points, options).status().message(), HasSubstr("k = 3 must be in [1, 2]"));
  options.k = 1;
  options.restarts = 0;
  EXPECT_FALSE(KMeans(points, options).ok());
  EXPECT_FALSE(KMeans(data::DenseMatrix{}, KMeansOptions{}).ok());
}

}  // namespace
}  // namespace flsailer::eval
