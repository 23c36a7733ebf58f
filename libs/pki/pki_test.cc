#include "libs/pki/pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"

namespace flsailer::pki {
namespace {

using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr Parse(const std::string& pem) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                          BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string CommonName(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
  return buf;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/pki_test_", getpid(), "_", name);
}

class PkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Valid since yesterday, so that certificates issued in the past verify at their own time.
    const absl::Time now = absl::Now();
    auto ca = CreateCa("test federation", {now - absl::Hours(24), now + absl::Hours(24 * 365)});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new KeyAndCertificate(*std::move(ca));
  }
  static void TearDownTestSuite() { delete ca_; }

  static KeyAndCertificate Issue(IdentityKind kind, const std::string& id,
                                 const Validity& validity = ValidFor(absl::Hours(24))) {
    CertificateRequest request;
    request.identity = {kind, id};
    request.validity = validity;
    auto issued = IssueCertificate(*ca_, request);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *issued : KeyAndCertificate{};
  }

  static KeyAndCertificate* ca_;
};
KeyAndCertificate* PkiTest::ca_ = nullptr;

TEST_F(PkiTest, CaIsAP256CaCertificateWithoutIdentity) {
  X509Ptr ca = Parse(ca_->cert_pem);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(CommonName(ca.get()), "test federation");
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(ca.get())), 256);
  EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(ca.get()), "EC"));
  EXPECT_THAT(ReadIdentity(ca_->cert_pem).status().message(),
              HasSubstr("no valid subject alternative name"));
}

TEST_F(PkiTest, IdentitiesRoundTripForEveryKind) {
  for (IdentityKind kind :
       {IdentityKind::kServer, IdentityKind::kInstitution, IdentityKind::kAdmin}) {
    const std::string id = absl::StrCat("Node_", KindName(kind), "-1.a");
    const absl::Time before = absl::Now();
    const KeyAndCertificate leaf = Issue(kind, id);
    auto info = VerifyAgainstCa(leaf.cert_pem, ca_->cert_pem);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->identity, (Identity{kind, id}));
    EXPECT_LE(absl::AbsDuration(info->not_after - (before + absl::Hours(24))), absl::Seconds(2));
    EXPECT_LT(info->not_before, before);

    X509Ptr cert = Parse(leaf.cert_pem);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(CommonName(cert.get()), id);
    EXPECT_EQ(X509_check_ca(cert.get()), 0);
    EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 256);
    const uint32_t eku = X509_get_extended_key_usage(cert.get());
    EXPECT_TRUE(eku & XKU_SSL_CLIENT);
    EXPECT_EQ((eku & XKU_SSL_SERVER) != 0, kind == IdentityKind::kServer) << KindName(kind);
    ASSERT_EQ(ParseKind(KindName(kind)).value(), kind);
  }
  EXPECT_EQ(IdentityUri({IdentityKind::kInstitution, "hospital-a"}),
            "flsailer://institution/hospital-a");
  EXPECT_FALSE(ParseKind("root").ok());
}

TEST_F(PkiTest, ServerCertificateNamesItsHostsAndSerialsDiffer) {
  CertificateRequest request;
  request.identity = {IdentityKind::kServer, "coordinator"};
  request.dns_names = {"localhost", "coordinator.fl-sailer.svc"};
  request.ip_addresses = {"127.0.0.1", "::1"};
  request.validity = ValidFor(absl::Hours(1));
  auto a = IssueCertificate(*ca_, request);
  auto b = IssueCertificate(*ca_, request);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  X509Ptr ca = Parse(a->cert_pem);
  X509Ptr cb = Parse(b->cert_pem);
  EXPECT_EQ(X509_check_host(ca.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(ca.get(), "coordinator.fl-sailer.svc", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(ca.get(), "example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(ca.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(ca.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(ca.get(), "10.0.0.1", 0), 1);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(cb.get())),
            0);
  EXPECT_NE(a->key_pem, b->key_pem);
  EXPECT_EQ(ReadIdentity(a->cert_pem)->identity, request.identity);
}

TEST_F(PkiTest, BadIdsNamesAndAddressesAreRefused) {
  for (const std::string& id : {std::string(), std::string(65, 'a'), std::string("a/b"),
                               std::string("a b"), std::string(".."), std::string("h\xc3\xa9"),
                               std::string("a\0b", 3), std::string("x:y")}) {
    EXPECT_FALSE(ValidateId(id).ok()) << id;
    CertificateRequest request;
    request.identity = {IdentityKind::kInstitution, id};
    request.validity = ValidFor(absl::Hours(1));
    EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
                HasSubstr("invalid identity id"));
  }
  EXPECT_TRUE(ValidateId(std::string(64, 'a')).ok());
  EXPECT_TRUE(ValidateId("a.b_c-D9").ok());

  CertificateRequest request;
  request.identity = {IdentityKind::kInstitution, "hospital"};
  request.validity = ValidFor(absl::Hours(1));
  request.dns_names = {"localhost"};
  EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
              HasSubstr("for server certificates, not institution ones"));
  request.identity.kind = IdentityKind::kServer;
  request.dns_names = {"bad,IP:1.2.3.4"};
  EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
              HasSubstr("invalid DNS name 'bad,IP:1.2.3.4'"));
  request.dns_names = {"-bad.example"};
  EXPECT_FALSE(IssueCertificate(*ca_, request).ok());
  request.dns_names = {};
  request.ip_addresses = {"256.0.0.1"};
  EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
              HasSubstr("invalid IP address '256.0.0.1'"));
}

TEST_F(PkiTest, CertificateFromAnotherCaFailsVerification) {
  auto other_ca = CreateCa("other federation", ValidFor(absl::Hours(48)));
  ASSERT_TRUE(other_ca.ok());
  CertificateRequest request;
  request.identity = {IdentityKind::kInstitution, "intruder"};
  request.validity = ValidFor(absl::Hours(1));
  auto foreign = IssueCertificate(*other_ca, request);
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  auto verified = VerifyAgainstCa(foreign->cert_pem, ca_->cert_pem);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.status().message(), HasSubstr("unable to get local issuer certificate"));
  // Its identity still parses: reading is not trusting.
  EXPECT_EQ(ReadIdentity(foreign->cert_pem)->identity.id, "intruder");
  // A CA key paired with another CA's certificate cannot sign.
  KeyAndCertificate mixed{other_ca->key_pem, ca_->cert_pem};
  EXPECT_THAT(IssueCertificate(mixed, request).status().message(),
              HasSubstr("CA key does not belong to the CA certificate"));
  // A leaf is not a CA.
  EXPECT_THAT(IssueCertificate(*foreign, request).status().message(), HasSubstr("is not a CA"));
}

TEST_F(PkiTest, ExpiredAndNotYetValidCertificatesAreDetected) {
  const absl::Time now = absl::Now();
  const KeyAndCertificate expired =
      Issue(IdentityKind::kInstitution, "old", {now - absl::Hours(3), now - absl::Hours(1)});
  auto info = ReadIdentity(expired.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_LT(info->not_after, now);
  EXPECT_THAT(VerifyAgainstCa(expired.cert_pem, ca_->cert_pem).status().message(),
              HasSubstr("certificate has expired"));
  auto then = VerifyAgainstCa(expired.cert_pem, ca_->cert_pem, now - absl::Hours(2));
  EXPECT_TRUE(then.ok()) << then.status();

  const KeyAndCertificate future =
      Issue(IdentityKind::kInstitution, "future", {now + absl::Hours(1), now + absl::Hours(2)});
  EXPECT_THAT(VerifyAgainstCa(future.cert_pem, ca_->cert_pem).status().message(),
              HasSubstr("certificate is not yet valid"));

  CertificateRequest request;
  request.identity = {IdentityKind::kAdmin, "ops"};
  request.validity = ValidFor(absl::Hours(24 * 366 * 2));
  EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
              HasSubstr("would outlive its CA"));
  request.validity = {now, now - absl::Seconds(1)};
  EXPECT_THAT(IssueCertificate(*ca_, request).status().message(),
              HasSubstr("before it starts"));
}

TEST_F(PkiTest, CorruptPemIsAClearError) {
  const KeyAndCertificate leaf = Issue(IdentityKind::kInstitution, "hospital");
  EXPECT_THAT(ReadIdentity("garbage").status().message(), HasSubstr("not a PEM certificate"));
  EXPECT_THAT(ReadIdentity("").status().message(), HasSubstr("not a PEM certificate"));
  const std::string truncated = leaf.cert_pem.substr(0, leaf.cert_pem.size() / 2);
  EXPECT_THAT(ReadIdentity(truncated).status().message(), HasSubstr("not a PEM certificate"));
  std::string flipped = leaf.cert_pem;
  flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'A' ? 'B' : 'A';
  // A flipped base64 character either breaks the DER or the signature; never verifies.
  EXPECT_FALSE(VerifyAgainstCa(flipped, ca_->cert_pem).ok());
  EXPECT_THAT(VerifyAgainstCa(leaf.cert_pem, "garbage").status().message(),
              HasSubstr("CA certificate: not a PEM certificate"));
  KeyAndCertificate bad_ca{"not a key", ca_->cert_pem};
  CertificateRequest request;
  request.identity = {IdentityKind::kInstitution, "x"};
  request.validity = ValidFor(absl::Hours(1));
  EXPECT_THAT(IssueCertificate(bad_ca, request).status().message(),
              HasSubstr("CA key: not an unencrypted PEM private key"));
}

TEST_F(PkiTest, FilesRoundTripWithAPrivateKey) {
  const KeyAndCertificate leaf = Issue(IdentityKind::kInstitution, "hospital");
  const std::string key = TempPath("hospital.key");
  const std::string cert = TempPath("hospital.pem");
  ASSERT_TRUE(WriteKeyAndCertificate(leaf, key, cert).ok());
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = ReadKeyAndCertificate(key, cert);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->key_pem, leaf.key_pem);
  EXPECT_EQ(read->cert_pem, leaf.cert_pem);

  // Another certificate's key is refused, naming both files.
  const std::string other_cert = TempPath("other.pem");
  const KeyAndCertificate other = Issue(IdentityKind::kInstitution, "other");
  ASSERT_TRUE(WriteKeyAndCertificate(other, TempPath("other.key"), other_cert).ok());
  EXPECT_EQ(ReadKeyAndCertificate(key, other_cert).status().message(),
            absl::StrCat(key, ": not the key of ", other_cert));
  EXPECT_THAT(ReadKeyAndCertificate(cert, cert).status().message(),
              HasSubstr(cert + ": not an unencrypted PEM private key"));
  EXPECT_THAT(ReadKeyAndCertificate(key, key).status().message(),
              HasSubstr(key + ": not a PEM certificate"));
  EXPECT_THAT(ReadKeyAndCertificate(key, TempPath("missing.pem")).status().message(),
              HasSubstr(TempPath("missing.pem")));
  EXPECT_FALSE(WriteKeyAndCertificate(leaf, TempPath("no/such/dir.key"), cert).ok());
}

}  // namespace
}  // namespace flsailer::pki
