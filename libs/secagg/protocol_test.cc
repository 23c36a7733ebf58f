#include "libs/secagg/protocol.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pki/pki.h"

namespace flsailer::secagg::internal {
namespace {

using ::testing::HasSubstr;

const RoundContext kRound1{"job-1", 1};
const RoundContext kRound2{"job-1", 2};
const RoundContext kOtherJob{"job-2", 1};

// With the same keys on both sides, only the context and the direction tell shares apart: a
// share sealed for one round, job or direction does not open in another.
TEST(ProtocolTest, SharesAreBoundToRoundJobAndDirection) {
  auto a = X25519KeyPair::Generate();
  auto b = X25519KeyPair::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string a_pub = KeyToBytes(a->public_key());
  const std::string b_pub = KeyToBytes(b->public_key());
  auto key = ShareKey(*a, b_pub, kRound1, "A", "B");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, *ShareKey(*b, a_pub, kRound1, "A", "B"));  // both ends derive it
  EXPECT_NE(*key, *ShareKey(*b, a_pub, kRound1, "B", "A"));  // the other direction differs
  EXPECT_NE(*key, *ShareKey(*a, b_pub, kRound2, "A", "B"));
  EXPECT_NE(*key, *ShareKey(*a, b_pub, kOtherJob, "A", "B"));

  auto sealed = Seal(*key, "share", ShareAssociatedData(kRound1, "A", "B"));
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(Open(*key, *sealed, ShareAssociatedData(kRound1, "A", "B")).ok());
  EXPECT_FALSE(Open(*key, *sealed, ShareAssociatedData(kRound2, "A", "B")).ok());
  EXPECT_FALSE(Open(*key, *sealed, ShareAssociatedData(kOtherJob, "A", "B")).ok());
  EXPECT_FALSE(Open(*key, *sealed, ShareAssociatedData(kRound1, "A", "C")).ok());
}

TEST(ProtocolTest, MaskKeysAreSymmetricPerPairAndFreshPerRound) {
  auto a = X25519KeyPair::Generate();
  auto b = X25519KeyPair::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string a_pub = KeyToBytes(a->public_key());
  const std::string b_pub = KeyToBytes(b->public_key());
  auto ab = PairwiseMaskKey(*a, b_pub, kRound1, "A", "B");
  ASSERT_TRUE(ab.ok());
  EXPECT_EQ(*ab, *PairwiseMaskKey(*b, a_pub, kRound1, "B", "A"));
  EXPECT_NE(*ab, *PairwiseMaskKey(*a, b_pub, kRound2, "A", "B"));
  EXPECT_TRUE(AddsPairwiseMask("A", "B"));
  EXPECT_FALSE(AddsPairwiseMask("B", "A"));

  const Key seed = *RandomKey();
  EXPECT_NE(*SelfMaskKey(seed, kRound1, "A"), *SelfMaskKey(seed, kRound2, "A"));
  EXPECT_NE(*SelfMaskKey(seed, kRound1, "A"), *SelfMaskKey(seed, kRound1, "B"));
  EXPECT_EQ(SelfMaskCommitment(seed, kRound1, "A").size(), 32u);
  EXPECT_NE(SelfMaskCommitment(seed, kRound1, "A"), SelfMaskCommitment(seed, kRound2, "A"));
  EXPECT_NE(SelfMaskCommitment(seed, kRound1, "A"), KeyToBytes(*SelfMaskKey(seed, kRound1, "A")));

  EXPECT_EQ(*RoundingKey(kRound1, "A"), *RoundingKey(kRound1, "A"));
  EXPECT_NE(*RoundingKey(kRound1, "A"), *RoundingKey(kRound2, "A"));
  EXPECT_NE(*RoundingKey(kRound1, "A"), *RoundingKey(kRound1, "B"));
}

TEST(ProtocolTest, SignedKeysVerifyOnlyForTheirRound) {
  auto ca = pki::CreateCa("test federation", pki::ValidFor(absl::Hours(2)));
  ASSERT_TRUE(ca.ok());
  pki::CertificateRequest request;
  request.identity = {pki::IdentityKind::kInstitution, "hospital-a"};
  request.validity = pki::ValidFor(absl::Hours(1));
  auto issued = pki::IssueCertificate(*ca, request);
  ASSERT_TRUE(issued.ok());
  SignedKeys keys{"hospital-a", issued->cert_pem, std::string(32, 'e'), std::string(32, 'm'), ""};
  keys.signature = *Sign(issued->key_pem, SignedKeysPayload(kRound1, keys));
  EXPECT_TRUE(VerifySignedKeys(keys, kRound1, ca->cert_pem).ok());
  EXPECT_THAT(VerifySignedKeys(keys, kRound2, ca->cert_pem).message(),
              HasSubstr("signature does not verify for job 'job-1' round 2"));
  SignedKeys same_keys = keys;
  same_keys.masking_key = keys.encryption_key;
  EXPECT_THAT(VerifySignedKeys(same_keys, kRound1, ca->cert_pem).message(), HasSubstr("the same"));
  SignedKeys short_key = keys;
  short_key.masking_key.pop_back();
  EXPECT_THAT(VerifySignedKeys(short_key, kRound1, ca->cert_pem).message(), HasSubstr("32 bytes"));
}

TEST(ProtocolTest, SharePlaintextsRoundTripAndRefuseMalformedBytes) {
  SharePlaintext share{7, std::string(kShareValueBytes, '\x01'),
                       std::string(kShareValueBytes, '\0')};
  share.self_mask_share[0] = '\0';
  const std::string bytes = EncodeSharePlaintext(share);
  EXPECT_EQ(bytes.size(), kSharePlaintextBytes);
  auto decoded = DecodeSharePlaintext(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->x, 7u);
  EXPECT_EQ(decoded->self_mask_share, share.self_mask_share);
  EXPECT_EQ(decoded->masking_key_share, share.masking_key_share);
  EXPECT_FALSE(DecodeSharePlaintext(bytes.substr(1)).ok());
  std::string not_in_field = bytes;
  not_in_field.replace(4, kShareValueBytes, ShamirPrime());
  EXPECT_FALSE(DecodeSharePlaintext(not_in_field).ok());
}

TEST(ProtocolTest, PackedWordsAreLittleEndianInBothModuli) {
  const std::vector<uint64_t> words = {0, 1, 0xfffffffe, 0x12345678};
  for (int bits : {32, 64}) {
    EXPECT_EQ(PackWords(words, bits).size(), words.size() * WordBytes(bits));
  }
  EXPECT_EQ(PackWords({0x01020304}, 32), "\x04\x03\x02\x01");
  EXPECT_EQ(PackWords({0x0102030405060708}, 64), "\x08\x07\x06\x05\x04\x03\x02\x01");
}

TEST(ProtocolTest, HeadersAreCheckedFieldByField) {
  const MessageHeader header{kRound1, Stage::kShareKeys, "A"};
  EXPECT_TRUE(CheckHeader(header, kRound1, Stage::kShareKeys, "A").ok());
  EXPECT_THAT(CheckHeader(header, kRound2, Stage::kShareKeys, "A").message(), HasSubstr("round 1"));
  EXPECT_THAT(CheckHeader(header, kRound1, Stage::kMaskedInput, "A").message(),
              HasSubstr("stage 'share keys'"));
  EXPECT_THAT(CheckHeader(header, kRound1, Stage::kShareKeys, "B").message(),
              HasSubstr("names client 'A'"));
  EXPECT_TRUE(StrictlySorted({"a", "b", "c"}));
  EXPECT_FALSE(StrictlySorted({"a", "a"}));
  EXPECT_FALSE(StrictlySorted({"b", "a"}));
}

}  // namespace
}  // namespace flsailer::secagg::internal
