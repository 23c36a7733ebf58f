#include "libs/federation/secure_sum.h"

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/secagg/fixed_point.h"

namespace flsailer::federation {
namespace {

using ::testing::HasSubstr;

StepPlan Step(StepKind kind, int institutions, double cells, int64_t length = 100) {
  StepPlan plan;
  plan.step_id = 7;
  plan.kind = kind;
  plan.length = length;
  plan.total_cells = cells;
  for (int i = 0; i < institutions; ++i) plan.expected.insert("site-" + std::to_string(i));
  return plan;
}

TEST(SecureSumTest, TrainingUsesThirtyTwoBitWordsAndAFineScale) {
  auto task = PlanSecureSum(Step(StepKind::kTrain, 10, 5000), "agg:7445");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->aggregator, "agg:7445");
  EXPECT_EQ(task->config.modulus_bits, 32);  // as many bytes as the plain float32 update
  EXPECT_EQ(task->config.vector_length, 100);
  EXPECT_EQ(task->divisor, 5000);
  EXPECT_EQ(task->config.scale_bits, 25);
  EXPECT_TRUE(secagg::CheckSumFits(task->config, 10).ok());
  EXPECT_LT(secagg::ValueCodec(task->config).ErrorBound(10), 3e-7);
  // One more institution than the scale allows would not fit: the scale is the finest possible.
  secagg::SecAggConfig finer = task->config;
  ++finer.scale_bits;
  EXPECT_FALSE(secagg::CheckSumFits(finer, 10).ok());
}

TEST(SecureSumTest, AbsentInstitutionsAreLeftOutWhileEnoughRemain) {
  StepPlan step = Step(StepKind::kTrain, 4, 1000);
  step.min_contributors = 3;
  step.absent = {"site-3"};
  EXPECT_EQ(SecureSumMembers(step), (std::set<std::string>{"site-0", "site-1", "site-2"}));
  StepPlan round = step;
  round.expected = SecureSumMembers(step);
  auto task = PlanSecureSum(round, "agg:1");
  ASSERT_TRUE(task.ok()) << task.status();
  // Planned for its three members: the minimum 3 is above their majority (among all four it
  // would be the default majority, 0).
  EXPECT_EQ(task->config.threshold, 3);
  // Left out, too few would remain: below the job's minimum, or a sum of one.
  step.absent = {"site-2", "site-3"};
  EXPECT_EQ(SecureSumMembers(step), step.expected);
  step.absent = {"site-1", "site-2", "site-3"};
  step.min_contributors = 1;
  EXPECT_EQ(SecureSumMembers(step), step.expected);
}

TEST(SecureSumTest, StatisticsAreSummedUndividedAndCountsExactly) {
  auto task = PlanSecureSum(Step(StepKind::kStatistics, 3, 0), "agg:1");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->config.modulus_bits, 64);
  EXPECT_EQ(task->divisor, 1);
  const secagg::FixedPointCodec codec = secagg::ValueCodec(task->config);
  // Three institutions' document frequencies (integers) and a log-depth sum survive encoding.
  const std::vector<std::vector<double>> inputs = {{12345, 7.25, 1e9}, {1, 0.5, 3}, {0, 0, 2}};
  std::mt19937_64 rng(1);
  std::vector<uint64_t> sum(3, 0);
  for (const auto& values : inputs) {
    std::vector<uint64_t> random(3), words(3);
    for (uint64_t& r : random) r = rng();
    ASSERT_TRUE(codec.Encode(values, random, absl::MakeSpan(words)).ok());
    for (int i = 0; i < 3; ++i) sum[i] += words[i];
  }
  EXPECT_EQ(codec.Decode(sum[0]), 12346);
  EXPECT_NEAR(codec.Decode(sum[1]), 7.75, codec.ErrorBound(3));
  EXPECT_EQ(codec.Decode(sum[2]), 1e9 + 5);
}

TEST(SecureSumTest, EveryStepFitsForManyInstitutions) {
  for (StepKind kind :
       {StepKind::kStatistics, StepKind::kSubspace, StepKind::kTrain, StepKind::kClusters}) {
    for (int n : {2, 10, 100}) {
      auto task = PlanSecureSum(Step(kind, n, 1e6), "agg:1");
      ASSERT_TRUE(task.ok()) << StepKindName(kind) << " n=" << n << ": " << task.status();
      EXPECT_TRUE(secagg::CheckSumFits(task->config, n).ok());
      EXPECT_GE(task->config.scale_bits, 16) << StepKindName(kind) << " n=" << n;
    }
  }
}

TEST(SecureSumTest, ThresholdIsAtLeastTheJobsMinimum) {
  StepPlan step = Step(StepKind::kTrain, 5, 1000);
  step.min_contributors = 2;
  EXPECT_EQ(PlanSecureSum(step, "agg:1")->config.threshold, 0);  // the default majority, 3
  step.min_contributors = 5;
  EXPECT_EQ(PlanSecureSum(step, "agg:1")->config.threshold, 5);
  EXPECT_TRUE(secagg::PlanRound(PlanSecureSum(step, "agg:1")->config, {"job", 1}, 5).ok());
}

TEST(SecureSumTest, RefusesWhatCannotBeSummedSecurely) {
  auto alone = PlanSecureSum(Step(StepKind::kTrain, 1, 100), "agg:1");
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(alone.status().message(), HasSubstr("at least 2 institutions"));
  auto no_cells = PlanSecureSum(Step(StepKind::kClusters, 3, 0), "agg:1");
  EXPECT_EQ(no_cells.status().code(), absl::StatusCode::kInvalidArgument);
  // 32-bit weights: 3000 institutions of a 10^6-cell job could overflow the cell count.
  auto too_many = PlanSecureSum(Step(StepKind::kTrain, 3000, 1e6), "agg:1");
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(too_many.status().message(), HasSubstr("cannot be summed securely"));
}

}  // namespace
}  // namespace flsailer::federation
