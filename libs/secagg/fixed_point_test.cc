#include "libs/secagg/fixed_point.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::secagg {
namespace {

using ::testing::HasSubstr;

std::vector<uint64_t> RandomWords(size_t n, std::mt19937_64& rng) {
  std::vector<uint64_t> words(n);
  for (uint64_t& w : words) w = rng();
  return words;
}

TEST(FixedPointTest, RefusesUnusableParameters) {
  EXPECT_FALSE(FixedPointCodec::Create(1.0, 10, 16).ok());
  EXPECT_FALSE(FixedPointCodec::Create(0.0, 10, 64).ok());
  EXPECT_FALSE(FixedPointCodec::Create(-1.0, 10, 64).ok());
  EXPECT_FALSE(FixedPointCodec::Create(std::numeric_limits<double>::infinity(), 10, 64).ok());
  EXPECT_FALSE(FixedPointCodec::Create(1.0, -1, 64).ok());
  EXPECT_FALSE(FixedPointCodec::Create(1.0, 63, 64).ok());
  EXPECT_THAT(FixedPointCodec::Create(4.0, 52, 64).status().message(), HasSubstr("2^53"));
  EXPECT_THAT(FixedPointCodec::Create(1.0, 31, 32).status().message(),
              HasSubstr("does not fit the modulus 2^32"));
  EXPECT_TRUE(FixedPointCodec::Create(1.0, 30, 32).ok());
}

TEST(FixedPointTest, ExactValuesRoundTripInBothModuli) {
  for (int bits : {32, 64}) {
    auto codec = FixedPointCodec::Create(8.0, 4, bits);
    ASSERT_TRUE(codec.ok());
    const std::vector<double> values = {0.0, 1.0, -1.0, 0.0625, -0.0625, 7.9375, -8.0, 8.0};
    std::vector<uint64_t> random(values.size(), ~uint64_t{0});  // would round up if inexact
    std::vector<uint64_t> out(values.size());
    auto clipped = codec->Encode(values, random, absl::MakeSpan(out));
    ASSERT_TRUE(clipped.ok());
    EXPECT_EQ(*clipped, 0);
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(codec->Decode(out[i]), values[i]) << bits << " bits, value " << values[i];
      if (bits == 32) {
        EXPECT_LT(out[i], uint64_t{1} << 32);
      }
    }
    EXPECT_EQ(out[2], bits == 64 ? ~uint64_t{15} : uint64_t{0xfffffff0});
  }
}

TEST(FixedPointTest, ClipsAndCountsOutOfRangeValues) {
  auto codec = FixedPointCodec::Create(2.0, 8, 64);
  ASSERT_TRUE(codec.ok());
  const std::vector<double> values = {3.5, -100.0, 1.0, 2.0, -2.0};
  std::vector<uint64_t> random(values.size(), 0);
  std::vector<uint64_t> out(values.size());
  auto clipped = codec->Encode(values, random, absl::MakeSpan(out));
  ASSERT_TRUE(clipped.ok());
  EXPECT_EQ(*clipped, 2);
  EXPECT_EQ(codec->Decode(out[0]), 2.0);
  EXPECT_EQ(codec->Decode(out[1]), -2.0);

  const std::vector<double> bad = {1.0, std::nan("")};
  EXPECT_THAT(codec->Encode(bad, {0, 0}, absl::MakeSpan(out).subspan(0, 2)).status().message(),
              HasSubstr("value 1 is not finite"));
  EXPECT_FALSE(codec->Encode(bad, {0}, absl::MakeSpan(out).subspan(0, 2)).ok());
}

TEST(FixedPointTest, StochasticRoundingIsUnbiased) {
  auto codec = FixedPointCodec::Create(1.0, 0, 64);
  ASSERT_TRUE(codec.ok());
  std::mt19937_64 rng(7);
  const size_t n = 200000;
  for (double x : {0.25, -0.7, 0.5}) {
    const std::vector<double> values(n, x);
    std::vector<uint64_t> out(n);
    ASSERT_TRUE(codec->Encode(values, RandomWords(n, rng), absl::MakeSpan(out)).ok());
    double mean = 0;
    for (uint64_t w : out) {
      const double d = codec->Decode(w);
      ASSERT_TRUE(d == std::floor(x) || d == std::ceil(x)) << d;
      mean += d / n;
    }
    // Standard error <= 0.5 / sqrt(n) ~ 0.0011.
    EXPECT_NEAR(mean, x, 0.006) << x;
  }
}

// The documented bound: |decoded sum - sum of clipped values| < n * 2^-scale_bits.
TEST(FixedPointTest, SumErrorStaysWithinTheDocumentedBound) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(-1.5, 1.5);
  for (int bits : {32, 64}) {
    for (int scale : {0, 3, 12}) {
      auto codec = FixedPointCodec::Create(1.0, scale, bits);
      ASSERT_TRUE(codec.ok());
      const size_t n = 50;
      const size_t length = 2000;
      std::vector<uint64_t> sum(length, 0);
      std::vector<double> exact(length, 0);
      const uint64_t mask = bits == 64 ? ~uint64_t{0} : 0xffffffffu;
      for (size_t c = 0; c < n; ++c) {
        std::vector<double> values(length);
        for (size_t i = 0; i < length; ++i) {
          values[i] = uniform(rng);
          exact[i] += std::clamp(values[i], -1.0, 1.0);
        }
        std::vector<uint64_t> out(length);
        ASSERT_TRUE(codec->Encode(values, RandomWords(length, rng), absl::MakeSpan(out)).ok());
        for (size_t i = 0; i < length; ++i) sum[i] = (sum[i] + out[i]) & mask;
      }
      const double bound = codec->ErrorBound(n);
      EXPECT_EQ(bound, n * std::ldexp(1.0, -scale));
      double worst = 0;
      for (size_t i = 0; i < length; ++i) {
        worst = std::max(worst, std::abs(codec->Decode(sum[i]) - exact[i]));
      }
      EXPECT_LT(worst, bound) << bits << " bits, scale " << scale;
    }
  }
}

TEST(FixedPointTest, MaxSummandsIsExactlyWhereTheSumStopsFitting) {
  auto codec = FixedPointCodec::Create(3.0, 20, 32);
  ASSERT_TRUE(codec.ok());
  EXPECT_EQ(codec->max_magnitude(), 3u << 20);
  const uint64_t n = codec->MaxSummands();
  EXPECT_EQ(n, ((uint64_t{1} << 31) - 1) / (3u << 20));
  for (double x : {3.0, -3.0}) {
    std::vector<uint64_t> one(1);
    ASSERT_TRUE(codec->Encode({x}, {0}, absl::MakeSpan(one)).ok());
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum = (sum + one[0]) & 0xffffffffu;
    EXPECT_EQ(codec->Decode(sum), x * static_cast<double>(n));
    sum = (sum + one[0]) & 0xffffffffu;  // one more wraps around
    EXPECT_NE(codec->Decode(sum), x * static_cast<double>(n + 1));
  }
}

}  // namespace
}  // namespace flsailer::secagg
