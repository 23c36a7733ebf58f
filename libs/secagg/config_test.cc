#include "libs/secagg/config.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::secagg {
namespace {

using ::testing::HasSubstr;

const RoundContext kContext{"job-1", 7};

TEST(ConfigTest, DefaultsAreValidAndLimitsAreEnforced) {
  EXPECT_TRUE(ValidateConfig(SecAggConfig{}).ok());
  auto invalid = [](void (*change)(SecAggConfig&)) {
    SecAggConfig config;
    change(config);
    return ValidateConfig(config);
  };
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.vector_length = -1; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.modulus_bits = 48; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.clip_range = 0; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.max_weight = -1; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.graph_threshold = 1; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.degree = 5; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.threshold = 1; }).ok());
  EXPECT_FALSE(invalid([](SecAggConfig& c) { c.chunk_words = 0; }).ok());
  EXPECT_THAT(invalid([](SecAggConfig& c) {
                c.scale_bits = 40;
                c.modulus_bits = 32;
              }).message(),
              HasSubstr("values:"));
  EXPECT_FALSE(ValidateContext({"", 1}).ok());
  EXPECT_FALSE(ValidateContext({std::string(129, 'j'), 1}).ok());
  EXPECT_TRUE(ValidateContext(kContext).ok());
}

TEST(ConfigTest, OverflowIsRefusedUpFrontWithAdvice) {
  SecAggConfig config;
  config.modulus_bits = 32;
  config.clip_range = 4.0;
  config.scale_bits = 20;
  // (2^31 - 1) / (4 x 2^20) = 511 clients fit: the sum keeps a sign bit.
  EXPECT_TRUE(CheckSumFits(config, 511).ok());
  absl::Status refused = CheckSumFits(config, 512);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("would overflow the modulus 2^32"));
  EXPECT_THAT(refused.message(), HasSubstr("scale_bits <= 19 would fit"));
  EXPECT_THAT(refused.message(), HasSubstr("modulus_bits = 64"));

  config.clip_range = 1e-3;
  config.max_weight = 1e8;
  EXPECT_THAT(CheckSumFits(config, 100).message(), HasSubstr("weights"));
  config.modulus_bits = 64;
  EXPECT_TRUE(CheckSumFits(config, 100).ok());
}

TEST(ConfigTest, SmallRoundsUseTheCompleteGraphAndAMajorityThreshold) {
  SecAggConfig config;
  for (int n : {2, 3, 7, 32}) {
    auto plan = PlanRound(config, kContext, n);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_TRUE(plan->graph.complete());
    EXPECT_EQ(plan->holders, n);
    EXPECT_EQ(plan->threshold, n / 2 + 1);
  }
  EXPECT_EQ(PlanRound(config, kContext, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  config.threshold = 5;
  EXPECT_THAT(PlanRound(config, kContext, 4).status().message(), HasSubstr("exceeds the 4"));
  EXPECT_EQ(PlanRound(config, kContext, 5)->threshold, 5);
}

TEST(ConfigTest, LargeRoundsUseAHararyGraphOfLogarithmicDegree) {
  SecAggConfig config;
  for (int n : {33, 100, 1000}) {
    auto plan = PlanRound(config, kContext, n);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_FALSE(plan->graph.complete());
    const int degree = plan->graph.degree();
    EXPECT_EQ(degree % 2, 0);
    EXPECT_GE(degree, 3 * std::log2(n));
    EXPECT_LT(degree, 3 * std::log2(n) + 2);
    EXPECT_EQ(plan->holders, degree + 1);
    EXPECT_EQ(plan->threshold, (degree + 1) / 2 + 1);
  }
  config.graph_threshold = 8;
  config.degree = 4;
  config.threshold = 3;
  auto plan = PlanRound(config, kContext, 20);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->graph.degree(), 4);
  EXPECT_EQ(plan->threshold, 3);
  // A degree that reaches n - 1 is the complete graph.
  config.degree = 20;
  EXPECT_TRUE(PlanRound(config, kContext, 20)->graph.complete());
}

TEST(ConfigTest, TheGraphDependsOnTheRoundAndTheSeed) {
  SecAggConfig config;
  config.graph_threshold = 2;
  config.degree = 4;
  auto a = PlanRound(config, kContext, 40);
  auto same = PlanRound(config, kContext, 40);
  auto other_round = PlanRound(config, {"job-1", 8}, 40);
  config.graph_seed = 99;
  auto other_seed = PlanRound(config, kContext, 40);
  ASSERT_TRUE(a.ok() && same.ok() && other_round.ok() && other_seed.ok());
  bool round_differs = false;
  bool seed_differs = false;
  for (int v = 0; v < 40; ++v) {
    EXPECT_EQ(a->graph.Neighbours(v), same->graph.Neighbours(v));
    round_differs = round_differs || a->graph.Neighbours(v) != other_round->graph.Neighbours(v);
    seed_differs = seed_differs || a->graph.Neighbours(v) != other_seed->graph.Neighbours(v);
  }
  EXPECT_TRUE(round_differs);
  EXPECT_TRUE(seed_differs);
}

}  // namespace
}  // namespace flsailer::secagg
