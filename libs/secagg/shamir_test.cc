#include "libs/secagg/shamir.h"

#include <openssl/bn.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::secagg {
namespace {

using ::testing::HasSubstr;

std::vector<uint32_t> Points(uint32_t n) {
  std::vector<uint32_t> xs(n);
  std::iota(xs.begin(), xs.end(), 1);
  return xs;
}

TEST(ShamirTest, ThePrimeIsTheSmallestPrimeAbove2To256) {
  const std::string p = ShamirPrime();
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(p.data()),
                         static_cast<int>(p.size()), nullptr);
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(BN_check_prime(bn, nullptr, nullptr), 1);
  EXPECT_EQ(BN_num_bits(bn), 257);
  // 2^256 + 297: every odd number between 2^256 and it is composite.
  BIGNUM* candidate = BN_new();
  BN_set_bit(candidate, 256);
  BIGNUM* two = BN_new();
  BN_set_word(two, 2);
  BN_add_word(candidate, 1);
  while (BN_cmp(candidate, bn) < 0) {
    EXPECT_EQ(BN_check_prime(candidate, nullptr, nullptr), 0);
    BN_add(candidate, candidate, two);
  }
  EXPECT_EQ(BN_cmp(candidate, bn), 0);
  BN_free(two);
  BN_free(candidate);
  BN_free(bn);
}

TEST(ShamirTest, AnyThresholdSharesRebuildTheSecret) {
  const Key secret = *RandomKey();
  const int t = 3;
  auto shares = SplitSecret(secret, t, Points(6));
  ASSERT_TRUE(shares.ok()) << shares.status();
  ASSERT_EQ(shares->size(), 6u);
  // Every 3-subset of 6.
  for (int mask = 0; mask < 64; ++mask) {
    if (__builtin_popcount(mask) != t) continue;
    std::vector<ShamirShare> subset;
    for (int i = 0; i < 6; ++i) {
      if (mask & (1 << i)) subset.push_back((*shares)[static_cast<size_t>(i)]);
    }
    auto rebuilt = CombineShares(subset);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(*rebuilt, secret) << "subset " << mask;
  }
  // More than t shares also lie on the polynomial.
  EXPECT_EQ(*CombineShares(*shares), secret);
}

TEST(ShamirTest, EdgeSecretsAndThresholdOne) {
  Key zero{};
  Key ones;
  ones.fill(0xff);
  for (const Key& secret : {zero, ones}) {
    auto shares = SplitSecret(secret, 2, {5, 9, 200});
    ASSERT_TRUE(shares.ok());
    EXPECT_EQ(*CombineShares({(*shares)[2], (*shares)[0]}), secret);
  }
  auto single = SplitSecret(ones, 1, {1, 2});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*CombineShares({(*single)[1]}), ones);
}

TEST(ShamirTest, FewerThanThresholdSharesDoNotRevealTheSecret) {
  const Key secret = *RandomKey();
  auto shares = SplitSecret(secret, 3, Points(5));
  ASSERT_TRUE(shares.ok());
  auto guess = CombineShares({(*shares)[0], (*shares)[1]});
  EXPECT_FALSE(guess.ok() && *guess == secret);
  // Two splits of one secret give unrelated shares.
  auto again = SplitSecret(secret, 3, Points(5));
  EXPECT_NE((*again)[0].value, (*shares)[0].value);
}

TEST(ShamirTest, AWrongShareGivesAWrongSecretOrAnError) {
  const Key secret = *RandomKey();
  auto shares = SplitSecret(secret, 3, Points(3));
  ASSERT_TRUE(shares.ok());
  std::vector<ShamirShare> tampered = *shares;
  tampered[1].value[32] ^= 0x01;
  auto rebuilt = CombineShares(tampered);
  EXPECT_FALSE(rebuilt.ok() && *rebuilt == secret);
  if (!rebuilt.ok()) {
    EXPECT_THAT(rebuilt.status().message(), HasSubstr("wrong"));
  }
}

TEST(ShamirTest, RefusesMalformedInput) {
  const Key secret = *RandomKey();
  EXPECT_FALSE(SplitSecret(secret, 0, Points(3)).ok());
  EXPECT_FALSE(SplitSecret(secret, 4, Points(3)).ok());
  EXPECT_FALSE(SplitSecret(secret, 2, {1, 1, 2}).ok());
  EXPECT_THAT(SplitSecret(secret, 2, {0, 1}).status().message(), HasSubstr("x = 0"));

  auto shares = SplitSecret(secret, 2, Points(2));
  ASSERT_TRUE(shares.ok());
  EXPECT_FALSE(CombineShares({}).ok());
  EXPECT_FALSE(CombineShares({(*shares)[0], (*shares)[0]}).ok());
  ShamirShare short_share = (*shares)[0];
  short_share.value.pop_back();
  EXPECT_FALSE(CombineShares({short_share, (*shares)[1]}).ok());
  // p itself is not a field element.
  EXPECT_THAT(ValidateShareValue(ShamirPrime()).message(), HasSubstr("below the field prime"));
  EXPECT_TRUE(ValidateShareValue(std::string(kShareValueBytes, '\0')).ok());
}

}  // namespace
}  // namespace flsailer::secagg
