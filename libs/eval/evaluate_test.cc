#include "libs/eval/evaluate.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/categories.h"
#include "libs/eval/partition_metrics.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

class EvaluateTest : public testing::BlobsFixture {};

TEST_F(EvaluateTest, AllMetricsOnTheFixtureFollowScib) {
  auto result = Evaluate(blobs_.embedding, blobs_.labels, blobs_.batches);
  ASSERT_TRUE(result.ok()) << result.status();
  const EvaluationMetrics& m = result->metrics;
  // Leiden tuned to the 4 labels gets as close as the graph allows: type D's two halves are
  // separate components of the kNN graph, and Leiden never joins components.
  EXPECT_EQ(m.n_clusters, 5);
  EXPECT_EQ(result->clusters.size(), 240u);
  auto agreement = ComparePartitions(EncodeCategories(blobs_.labels).codes, result->clusters);
  ASSERT_TRUE(agreement.ok());
  EXPECT_EQ(*m.ari, agreement->ari);
  EXPECT_EQ(*m.nmi, agreement->nmi);
  EXPECT_EQ(*m.ami, agreement->ami);
  EXPECT_EQ(*m.homogeneity, agreement->homogeneity);
  EXPECT_GT(*m.ari, 0.9);
  EXPECT_NEAR(*m.label_asw, expected_["label_asw"], 1e-6);
  EXPECT_NEAR(*m.batch_asw, expected_["batch_asw"], 1e-6);
  EXPECT_NEAR(*m.graph_connectivity, expected_["graph_connectivity_k15"], 1e-12);
  EXPECT_NEAR(*m.ilisi, expected_["ilisi"], 1e-4);  // 90 neighbours, perplexity 30
  EXPECT_NEAR(*m.kbet, expected_["kbet"], 1e-12);
  EXPECT_FALSE(m.seconds.has_value());
  EXPECT_EQ(result->knn.k, 15);
}

TEST_F(EvaluateTest, DeterministicForASeedWhateverTheThreads) {
  EvaluateOptions options;
  options.seed = 17;
  auto a = Evaluate(blobs_.embedding, blobs_.labels, blobs_.batches, options);
  options.threads = 2;
  auto b = Evaluate(blobs_.embedding, blobs_.labels, blobs_.batches, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->clusters, b->clusters);
  EXPECT_EQ(MetricsToJson(a->metrics), MetricsToJson(b->metrics));
}

TEST_F(EvaluateTest, MissingLabelsAndBatchesLeaveTheirMetricsOut) {
  EvaluateOptions options;
  options.n_clusters = 7;
  auto unlabelled = Evaluate(blobs_.embedding, {}, blobs_.batches, options);
  ASSERT_TRUE(unlabelled.ok()) << unlabelled.status();
  const EvaluationMetrics& u = unlabelled->metrics;
  EXPECT_EQ(u.n_clusters, 7);
  EXPECT_FALSE(u.ari || u.nmi || u.ami || u.homogeneity || u.label_asw || u.batch_asw ||
               u.graph_connectivity || u.kbet);
  EXPECT_TRUE(u.ilisi.has_value());

  auto no_batches = Evaluate(blobs_.embedding, blobs_.labels, {});
  ASSERT_TRUE(no_batches.ok());
  const EvaluationMetrics& n = no_batches->metrics;
  EXPECT_TRUE(n.ari && n.label_asw && n.graph_connectivity);
  EXPECT_FALSE(n.batch_asw || n.ilisi || n.kbet);

  const std::vector<std::string> one_batch(240, "site");
  auto single = Evaluate(blobs_.embedding, blobs_.labels, one_batch);
  ASSERT_TRUE(single.ok());
  EXPECT_FALSE(single->metrics.batch_asw || single->metrics.ilisi || single->metrics.kbet);

  // Neither labels nor a target: Leiden at the default resolution.
  auto plain = Evaluate(blobs_.embedding, {}, {});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->resolution, 1.0);
  EXPECT_EQ(plain->metrics.n_clusters, static_cast<int64_t>(expected_["leiden_clusters"]));
}

TEST_F(EvaluateTest, EmptyLabelsMarkUnlabelledCells) {
  std::vector<std::string> labels = blobs_.labels;
  for (size_t i = 0; i < labels.size(); i += 3) labels[i] = "";
  auto result = Evaluate(blobs_.embedding, labels, blobs_.batches);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->metrics.n_clusters, 5);  // as with every label: "" is not a fifth label
  EXPECT_GT(*result->metrics.ari, 0.9);
}

TEST(EvaluateEdgeTest, AllLabelsEqualGivesOneCluster) {
  std::vector<int32_t> unused;
  const data::DenseMatrix cloud = testing::GaussianBlobs(1, 200, 4, 0.0, 41, &unused);
  std::vector<std::string> batches;
  for (int i = 0; i < 200; ++i) batches.push_back(i % 2 ? "a" : "b");
  auto result = Evaluate(cloud, std::vector<std::string>(200, "T cell"), batches);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->metrics.n_clusters, 1);
  EXPECT_EQ(*result->metrics.ari, 1.0);  // scikit-learn: both partitions trivial
  EXPECT_EQ(*result->metrics.homogeneity, 1.0);
  EXPECT_FALSE(result->metrics.label_asw.has_value());  // one label: undefined
  EXPECT_EQ(*result->metrics.graph_connectivity, 1.0);
  EXPECT_GT(*result->metrics.batch_asw, 0.9);  // batches drawn from the same cloud
  EXPECT_GT(*result->metrics.kbet, 0.8);
}

TEST_F(EvaluateTest, CosineWorksOnNormalisedRows) {
  EvaluateOptions options;
  options.metric = DistanceMetric::kCosine;
  auto result = Evaluate(blobs_.embedding, blobs_.labels, blobs_.batches, options);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->metrics.label_asw.has_value());
  EXPECT_NE(*result->metrics.label_asw, expected_["label_asw"]);
}

TEST_F(EvaluateTest, BadInputIsAnError) {
  EXPECT_THAT(Evaluate(data::DenseMatrix{}, {}, {}).status().message(), HasSubstr("empty"));
  EXPECT_THAT(Evaluate(data::DenseMatrix{1, 1, {0}}, {}, {}).status().message(),
              HasSubstr("single cell"));
  data::DenseMatrix nan = blobs_.embedding;
  nan.data[13] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(Evaluate(nan, {}, {}).status().message(), HasSubstr("cell 2, dimension 1 is nan"));
  EXPECT_THAT(Evaluate(blobs_.embedding, {"a"}, {}).status().message(),
              HasSubstr("1 labels for 240 cells"));
  EXPECT_FALSE(Evaluate(blobs_.embedding, {}, {"a", "b"}).ok());
  EvaluateOptions options;
  options.n_clusters = 500;
  EXPECT_FALSE(Evaluate(blobs_.embedding, {}, {}, options).ok());
  options.n_clusters = 0;
  options.n_neighbors = 0;
  EXPECT_FALSE(Evaluate(blobs_.embedding, {}, {}, options).ok());
}

TEST_F(EvaluateTest, SmallestInputs) {
  auto two = Evaluate(data::DenseMatrix{2, 1, {0, 1}}, {"a", "b"}, {"x", "y"});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->metrics.n_clusters, 2);
  EXPECT_EQ(*two->metrics.ari, 1.0);
  EXPECT_FALSE(two->metrics.label_asw.has_value());  // as many labels as cells
}

TEST(MetricsJsonTest, FlatKeysInOrderWithNulls) {
  EvaluationMetrics m;
  m.ari = 0.574;
  m.nmi = 1.0;
  m.ami = -0.5;
  m.homogeneity = 1e-20;
  m.ilisi = std::numeric_limits<double>::quiet_NaN();
  m.n_clusters = 6;
  m.seconds = 12.25;
  EXPECT_EQ(MetricsToJson(m),
            "{\"ari\": 0.574, \"nmi\": 1, \"ami\": -0.5, \"homogeneity\": 1e-20, "
            "\"label_asw\": null, \"batch_asw\": null, \"graph_connectivity\": null, "
            "\"ilisi\": null, \"kbet\": null, \"n_clusters\": 6, \"seconds\": 12.25}\n");
}

}  // namespace
}  // namespace flsailer::eval
