#include "libs/eval/partition_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

TEST(PartitionMetricsTest, MatchScikitLearn) {
  auto cases = testing::ReadFixture("partitions.tsv");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_GE(cases->size(), 10u);
  for (const auto& row : *cases) {
    SCOPED_TRACE(row[0]);
    auto result = ComparePartitions(testing::SplitInts(row[1]), testing::SplitInts(row[2]));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_NEAR(result->ari, std::stod(row[3]), 1e-10);
    EXPECT_NEAR(result->ami, std::stod(row[4]), 1e-10);
    EXPECT_NEAR(result->nmi, std::stod(row[5]), 1e-10);
    EXPECT_NEAR(result->homogeneity, std::stod(row[6]), 1e-10);
  }
}

TEST(PartitionMetricsTest, UnlabelledCellsAreLeftOut) {
  const std::vector<int32_t> labels = {0, 0, -1, 1, 1, -1, 2};
  const std::vector<int32_t> clusters = {5, 5, 9, 6, 6, 5, 7};
  auto with_missing = ComparePartitions(labels, clusters);
  auto subset = ComparePartitions({0, 0, 1, 1, 2}, {5, 5, 6, 6, 7});
  ASSERT_TRUE(with_missing.ok() && subset.ok());
  EXPECT_EQ(with_missing->ari, 1.0);
  EXPECT_EQ(with_missing->ami, subset->ami);
  EXPECT_EQ(with_missing->nmi, subset->nmi);
}

TEST(PartitionMetricsTest, BadInputIsAnError) {
  EXPECT_THAT(ComparePartitions({}, {}).status().message(), HasSubstr("no labelled cells"));
  EXPECT_THAT(ComparePartitions({-1, -1}, {0, 1}).status().message(),
              HasSubstr("no labelled cells"));
  EXPECT_THAT(ComparePartitions({0, 1}, {0}).status().message(), HasSubstr("different lengths"));
  EXPECT_THAT(ComparePartitions({0, 1}, {0, -1}).status().message(),
              HasSubstr("negative cluster code at cell 1"));
}

}  // namespace
}  // namespace flsailer::eval
