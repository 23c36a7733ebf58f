#include "libs/federation/aggregation.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::federation {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

StepPlan Plan(int64_t length, std::set<std::string> expected) {
  StepPlan plan;
  plan.length = length;
  plan.expected = std::move(expected);
  return plan;
}

TEST(InsecurePlainAggregatorTest, SumsAcceptedContributors) {
  InsecurePlainAggregator aggregator;
  auto agg = aggregator.Begin(Plan(3, {"a", "b", "c"}));
  ASSERT_TRUE(agg.ok()) << agg.status();
  const std::vector<double> a = {1, 2, 3}, b = {10, 20, 30};
  ASSERT_TRUE((*agg)->Add("a", a, 4).ok());
  ASSERT_TRUE((*agg)->Add("b", b, 6).ok());
  auto result = (*agg)->Finish(absl::ZeroDuration());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->sum, ElementsAre(11, 22, 33));
  EXPECT_EQ(result->total_weight, 10);
  EXPECT_THAT(result->contributors, ElementsAre("a", "b"));
}

TEST(InsecurePlainAggregatorTest, RefusesBadContributionsAndKeepsTheSum) {
  InsecurePlainAggregator aggregator;
  auto agg = aggregator.Begin(Plan(2, {"a", "b"}));
  ASSERT_TRUE(agg.ok());
  const std::vector<double> ok = {1, 1};
  ASSERT_TRUE((*agg)->Add("a", ok, 1).ok());
  EXPECT_EQ((*agg)->Add("a", ok, 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*agg)->Add("mallory", ok, 1).code(), absl::StatusCode::kPermissionDenied);
  const std::vector<double> short_vector = {1};
  EXPECT_THAT((*agg)->Add("b", short_vector, 1).message(), HasSubstr("expected 2"));
  const std::vector<double> nan = {1, std::nan("")};
  EXPECT_THAT((*agg)->Add("b", nan, 1).message(), HasSubstr("non-finite value at index 1"));
  EXPECT_EQ((*agg)->Add("b", ok, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*agg)->Add("b", ok, std::numeric_limits<double>::infinity()).code(),
            absl::StatusCode::kInvalidArgument);
  auto result = (*agg)->Finish(absl::ZeroDuration());
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->sum, ElementsAre(1, 1));
  EXPECT_THAT(result->contributors, ElementsAre("a"));
}

TEST(InsecurePlainAggregatorTest, EmptyAggregationsFail) {
  InsecurePlainAggregator aggregator;
  EXPECT_FALSE(aggregator.Begin(Plan(2, {})).ok());
  EXPECT_EQ((*aggregator.Begin(Plan(1, {"a"})))->secure_sum(), nullptr);
  EXPECT_FALSE(aggregator.Begin(Plan(-1, {"a"})).ok());
  auto agg = aggregator.Begin(Plan(2, {"a"}));
  ASSERT_TRUE(agg.ok());
  EXPECT_EQ((*agg)->Finish(absl::ZeroDuration()).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace flsailer::federation
