#include "libs/secagg/crypto.h"

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pki/pki.h"

namespace flsailer::secagg {
namespace {

using ::testing::HasSubstr;

Key KeyFromHex(absl::string_view hex) { return *KeyFromBytes(absl::HexStringToBytes(hex), "hex"); }

std::string Hex(const Key& key) { return absl::BytesToHexString(KeyToBytes(key)); }

TEST(RandomTest, KeysDifferAndHaveTheRightSize) {
  auto a = RandomKey();
  auto b = RandomKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(KeyFromBytes("short", "field").ok());
  EXPECT_THAT(KeyFromBytes("short", "the field").status().message(), HasSubstr("the field"));
}

TEST(BindingTest, FieldBoundariesMatter) {
  EXPECT_NE(Binding("label").Add("ab").Add("c").bytes(),
            Binding("label").Add("a").Add("bc").bytes());
  EXPECT_NE(Binding("label").AddNumber(1).bytes(), Binding("label").AddNumber(256).bytes());
  EXPECT_NE(Binding("a").Add("").bytes(), Binding("a").bytes());
}

// RFC 7748 section 6.1.
TEST(X25519Test, MatchesRfc7748) {
  auto alice = X25519KeyPair::FromPrivateKey(
      KeyFromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = X25519KeyPair::FromPrivateKey(
      KeyFromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(Hex(alice->public_key()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(Hex(bob->public_key()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto ab = alice->Agree(KeyToBytes(bob->public_key()));
  auto ba = bob->Agree(KeyToBytes(alice->public_key()));
  ASSERT_TRUE(ab.ok() && ba.ok()) << ab.status() << ba.status();
  EXPECT_EQ(Hex(*ab), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*ab, *ba);
}

TEST(X25519Test, GeneratedPairsAgreeAndBadPeerKeysFail) {
  auto a = X25519KeyPair::Generate();
  auto b = X25519KeyPair::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key(), b->public_key());
  EXPECT_EQ(*a->Agree(KeyToBytes(b->public_key())), *b->Agree(KeyToBytes(a->public_key())));
  auto again = X25519KeyPair::FromPrivateKey(a->private_key());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key(), a->public_key());
  EXPECT_FALSE(a->Agree("too short").ok());
  // The all-zero point has order 1: the shared secret would be zero.
  EXPECT_FALSE(a->Agree(std::string(32, '\0')).ok());
}

// RFC 5869 appendix A.1.
TEST(HkdfTest, MatchesRfc5869) {
  auto okm = Hkdf(std::string(22, '\x0b'), absl::HexStringToBytes("000102030405060708090a0b0c"),
                  absl::HexStringToBytes("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(absl::BytesToHexString(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(HkdfTest, DerivedKeysDependOnTheInfo) {
  const Key secret = *RandomKey();
  auto a = DeriveKey(secret, Binding("x").AddNumber(1));
  auto b = DeriveKey(secret, Binding("x").AddNumber(2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*a, *DeriveKey(secret, Binding("x").AddNumber(1)));
}

TEST(AesGcmTest, OpensWhatItSealedAndNothingElse) {
  const Key key = *RandomKey();
  auto sealed = Seal(key, "share bytes", "round 1");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->size(), 11 + kSealOverhead);
  EXPECT_EQ(*Open(key, *sealed, "round 1"), "share bytes");
  EXPECT_NE(*Seal(key, "share bytes", "round 1"), *sealed);  // fresh nonce

  EXPECT_THAT(Open(key, *sealed, "round 2").status().message(), HasSubstr("authentication failed"));
  EXPECT_FALSE(Open(*RandomKey(), *sealed, "round 1").ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(Open(key, tampered, "round 1").ok()) << "byte " << i;
  }
  EXPECT_FALSE(Open(key, sealed->substr(0, 10), "round 1").ok());
  EXPECT_EQ(*Open(key, *Seal(key, "", ""), ""), "");
}

TEST(Sha256Test, KnownAnswer) {
  EXPECT_EQ(absl::BytesToHexString(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SignatureTest, VerifiesWithTheCertificateOfTheSigningKeyOnly) {
  auto ca = pki::CreateCa("test federation", pki::ValidFor(absl::Hours(2)));
  ASSERT_TRUE(ca.ok()) << ca.status();
  pki::CertificateRequest request;
  request.identity = {pki::IdentityKind::kInstitution, "hospital-a"};
  request.validity = pki::ValidFor(absl::Hours(1));  // within the CA's, which has whole seconds
  auto a = pki::IssueCertificate(*ca, request);
  request.identity.id = "hospital-b";
  auto b = pki::IssueCertificate(*ca, request);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();

  auto signature = Sign(a->key_pem, "keys");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_TRUE(VerifySignature(a->cert_pem, "keys", *signature).ok());
  EXPECT_EQ(VerifySignature(a->cert_pem, "keyz", *signature).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(b->cert_pem, "keys", *signature).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(a->cert_pem, "keys", "not DER").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(VerifySignature("not a certificate", "keys", *signature).ok());
  EXPECT_FALSE(Sign("not a key", "keys").ok());
}

// The keystream straight from EVP: AES-256-CTR of zeros from counter 0.
std::string Keystream(const Key& key, size_t bytes) {
  std::string out(bytes, '\0');
  const std::string zeros(bytes, '\0');
  const unsigned char iv[16] = {};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int length = 0;
  EVP_EncryptInit_ex2(ctx, EVP_aes_256_ctr(), key.data(), iv, nullptr);
  EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &length,
                    reinterpret_cast<const unsigned char*>(zeros.data()), static_cast<int>(bytes));
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

uint64_t LittleEndian(const std::string& bytes, size_t offset, size_t width) {
  uint64_t v = 0;
  for (size_t b = 0; b < width; ++b) {
    v |= uint64_t{static_cast<uint8_t>(bytes[offset + b])} << (8 * b);
  }
  return v;
}

class MaskGeneratorTest : public ::testing::TestWithParam<int> {};

TEST_P(MaskGeneratorTest, IsTheLittleEndianKeystream) {
  const int bits = GetParam();
  const size_t width = static_cast<size_t>(bits / 8);
  const Key key = *RandomKey();
  // Longer than one internal batch, so that batching is covered too.
  const size_t n = 5000 * 8 / width + 3;
  const std::string stream = Keystream(key, n * width);
  auto generator = MaskGenerator::Create(key);
  ASSERT_TRUE(generator.ok());
  std::vector<uint64_t> words(n, 0);
  ASSERT_TRUE(generator->Apply(0, bits, false, absl::MakeSpan(words)).ok());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(words[i], LittleEndian(stream, i * width, width)) << i;
  }
}

TEST_P(MaskGeneratorTest, ChunksAtAnyOffsetMatchTheWholeAndSubtractingUndoes) {
  const int bits = GetParam();
  const Key key = *RandomKey();
  auto generator = MaskGenerator::Create(key);
  ASSERT_TRUE(generator.ok());
  const size_t n = 10007;
  std::vector<uint64_t> input(n);
  for (size_t i = 0; i < n; ++i) input[i] = (i * 2654435761u) & 0xffffffffu;
  std::vector<uint64_t> whole = input;
  ASSERT_TRUE(generator->Apply(0, bits, false, absl::MakeSpan(whole)).ok());
  std::vector<uint64_t> chunked = input;
  size_t offset = 0;
  for (size_t size : {1, 3, 5, 4096, 7, 2048, 1, 0}) {
    ASSERT_TRUE(
        generator->Apply(offset, bits, false, absl::MakeSpan(chunked).subspan(offset, size)).ok());
    offset += size;
  }
  ASSERT_TRUE(generator->Apply(offset, bits, false, absl::MakeSpan(chunked).subspan(offset)).ok());
  EXPECT_EQ(chunked, whole);
  if (bits == 32) {
    for (uint64_t w : whole) ASSERT_LT(w, uint64_t{1} << 32);
  }
  ASSERT_TRUE(generator->Apply(0, bits, true, absl::MakeSpan(whole)).ok());
  EXPECT_EQ(whole, input);
}

INSTANTIATE_TEST_SUITE_P(Moduli, MaskGeneratorTest, ::testing::Values(32, 64));

TEST(MaskGeneratorTest, FillGivesKeystreamWordsAndKeysGiveDifferentMasks) {
  const Key key = *RandomKey();
  auto generator = MaskGenerator::Create(key);
  ASSERT_TRUE(generator.ok());
  std::vector<uint64_t> filled(100, 7);
  ASSERT_TRUE(generator->Fill(3, absl::MakeSpan(filled)).ok());
  const std::string stream = Keystream(key, 103 * 8);
  for (size_t i = 0; i < filled.size(); ++i)
    EXPECT_EQ(filled[i], LittleEndian(stream, (i + 3) * 8, 8));

  auto other = MaskGenerator::Create(*RandomKey());
  std::vector<uint64_t> other_filled(100);
  ASSERT_TRUE(other->Fill(3, absl::MakeSpan(other_filled)).ok());
  EXPECT_NE(filled, other_filled);
  std::vector<uint64_t> words(4);
  EXPECT_FALSE(generator->Apply(0, 16, false, absl::MakeSpan(words)).ok());
}

}  // namespace
}  // namespace flsailer::secagg
