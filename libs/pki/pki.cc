#include "libs/pki/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/pki/openssl_util.h"

namespace flsailer::pki {
namespace {

constexpr absl::string_view kUriScheme = "flsailer://";
constexpr size_t kMaxIdLength = 64;
constexpr int kSerialBytes = 16;

using openssl::BioPtr;
using BignumPtr = openssl::Ptr<BIGNUM, BN_free>;
using GeneralNamesPtr = openssl::Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using openssl::KeyPtr;
using StoreCtxPtr = openssl::Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using StorePtr = openssl::Ptr<X509_STORE, X509_STORE_free>;
using X509ExtensionPtr = openssl::Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using openssl::X509Ptr;

using openssl::Internal;
using openssl::ParseCertificate;
using openssl::ParsePrivateKey;

// The same status with "<path>: " before its message.
absl::Status InFile(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

// `mismatch` is the message when the key is not the certificate's.
absl::Status CheckKeyMatches(X509* cert, EVP_PKEY* key, absl::string_view mismatch) {
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(mismatch);
  }
  return absl::OkStatus();
}

// Reads a memory BIO written by `write` into a string.
template <typename Write>
absl::StatusOr<std::string> ToPem(Write write, absl::string_view what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || write(bio.get()) != 1) return Internal(absl::StrCat("cannot encode ", what));
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<KeyAndCertificate> Encode(EVP_PKEY* key, X509* cert) {
  KeyAndCertificate out;
  FLS_ASSIGN_OR_RETURN(out.key_pem, ToPem(
                                        [key](BIO* bio) {
                                          return PEM_write_bio_PrivateKey(
                                              bio, key, nullptr, nullptr, 0, nullptr, nullptr);
                                        },
                                        "private key"));
  FLS_ASSIGN_OR_RETURN(out.cert_pem,
                       ToPem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); },
                             "certificate"));
  return out;
}

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* t, absl::string_view what) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return openssl::Error(absl::StatusCode::kInvalidArgument, absl::StrCat("invalid ", what));
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

absl::Status CheckValidity(const Validity& v) {
  if (v.not_before >= v.not_after) {
    return absl::InvalidArgumentError(absl::StrCat("validity ends (", absl::FormatTime(v.not_after),
                                                   ") before it starts (",
                                                   absl::FormatTime(v.not_before), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyPtr> GenerateP256Key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Internal("cannot generate an ECDSA P-256 key");
  return key;
}

// Version 3, a random positive 127-bit serial (16 bytes with the sign bit clear: unpredictable
// serials are what keeps chosen-prefix collisions off the signature), the validity period, the
// subject CN, the public key.
absl::StatusOr<X509Ptr> NewCertificate(absl::string_view common_name, const Validity& validity,
                                       EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return Internal("cannot allocate a certificate");
  unsigned char serial[kSerialBytes];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Internal("no randomness for the serial");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x01);  // positive, never zero
  BignumPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (bn == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(validity.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(validity.not_after)) ==
          nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return Internal("cannot fill in the certificate");
  }
  return cert;
}

// Adds an extension given in OpenSSL's configuration syntax. Only called with constant values,
// never with caller input (see AddSubjectAltNames).
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Internal(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

// Host names as RFC 1123 allows them: dot-separated labels of letters, digits and inner hyphens.
absl::Status ValidateDnsName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (!ok) break;
    ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
    for (char c : label) ok = ok && (absl::ascii_isalnum(c) || c == '-');
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("invalid DNS name '", name, "'"));
  return absl::OkStatus();
}

absl::Status PushName(GENERAL_NAMES* names, int type, void* value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) return Internal("cannot allocate a subject alternative name");
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    return Internal("cannot allocate a subject alternative name");
  }
  return absl::OkStatus();
}

absl::Status PushIa5Name(GENERAL_NAMES* names, int type, absl::string_view text) {
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (value == nullptr ||
      ASN1_STRING_set(value, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return Internal("cannot allocate a subject alternative name");
  }
  return PushName(names, type, value);
}

// The SAN extension, built from structures rather than configuration text so that no caller
// string is ever interpreted by OpenSSL's configuration parser.
absl::Status AddSubjectAltNames(X509* cert, const CertificateRequest& request) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return Internal("cannot allocate subject alternative names");
  FLS_RETURN_IF_ERROR(PushIa5Name(names.get(), GEN_URI, IdentityUri(request.identity)));
  for (const std::string& dns : request.dns_names) {
    FLS_RETURN_IF_ERROR(ValidateDnsName(dns));
    FLS_RETURN_IF_ERROR(PushIa5Name(names.get(), GEN_DNS, dns));
  }
  for (const std::string& ip : request.ip_addresses) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(ip.c_str());
    if (address == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat("invalid IP address '", ip, "'"));
    }
    FLS_RETURN_IF_ERROR(PushName(names.get(), GEN_IPADD, address));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Internal("cannot add the subject alternative names");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) == 0) return Internal("cannot sign the certificate");
  return absl::OkStatus();
}

// Parses "flsailer://<kind>/<id>".
absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri) {
  absl::string_view rest = uri.substr(kUriScheme.size());
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity URI '", absl::CEscape(uri), "' has no id"));
  }
  Identity identity;
  FLS_ASSIGN_OR_RETURN(identity.kind, ParseKind(rest.substr(0, slash)));
  identity.id = std::string(rest.substr(slash + 1));
  FLS_RETURN_IF_ERROR(ValidateId(identity.id));
  return identity;
}

absl::StatusOr<Validity> ValidityOf(const X509* cert) {
  Validity v;
  FLS_ASSIGN_OR_RETURN(v.not_before, ToTime(X509_get0_notBefore(cert), "notBefore"));
  FLS_ASSIGN_OR_RETURN(v.not_after, ToTime(X509_get0_notAfter(cert), "notAfter"));
  return v;
}

absl::StatusOr<CertificateInfo> InfoOf(X509* cert) {
  int critical = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, nullptr)));
  ERR_clear_error();  // a malformed extension queues errors the status below already reports
  if (names == nullptr) {
    return absl::InvalidArgumentError(
        critical == -2 ? "certificate has more than one subject alternative name extension"
                       : "certificate has no valid subject alternative name extension");
  }
  absl::StatusOr<Identity> identity =
      absl::InvalidArgumentError("certificate names no flsailer:// identity");
  int found = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    absl::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                          static_cast<size_t>(ASN1_STRING_length(value)));
    if (!absl::StartsWith(uri, kUriScheme)) continue;
    if (++found > 1) {
      return absl::InvalidArgumentError("certificate names more than one flsailer:// identity");
    }
    identity = ParseIdentityUri(uri);
  }
  if (!identity.ok()) return identity.status();
  CertificateInfo info;
  info.identity = *std::move(identity);
  FLS_ASSIGN_OR_RETURN(Validity validity, ValidityOf(cert));
  info.not_before = validity.not_before;
  info.not_after = validity.not_after;
  return info;
}

}  // namespace

absl::StatusOr<Validity> ReadValidity(absl::string_view cert_pem) {
  FLS_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem));
  return ValidityOf(cert.get());
}

absl::string_view KindName(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::kServer:
      return "server";
    case IdentityKind::kInstitution:
      return "institution";
    case IdentityKind::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<IdentityKind> ParseKind(absl::string_view name) {
  for (IdentityKind kind :
       {IdentityKind::kServer, IdentityKind::kInstitution, IdentityKind::kAdmin}) {
    if (name == KindName(kind)) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown identity kind '", name, "' (server, institution or admin)"));
}

absl::Status ValidateId(absl::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxIdLength;
  for (char c : id) ok = ok && (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-');
  // "." and ".." are valid characters but not valid file names (ids name DIR/<id>.pem).
  if (!ok || id == "." || id == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid identity id '", absl::CEscape(id), "': use 1 to ", kMaxIdLength,
        " characters of A-Z a-z 0-9 . _ -"));
  }
  return absl::OkStatus();
}

std::string IdentityUri(const Identity& identity) {
  return absl::StrCat(kUriScheme, KindName(identity.kind), "/", identity.id);
}

Validity ValidFor(absl::Duration duration, absl::Time now) {
  return Validity{now - absl::Minutes(5), now + duration};
}

absl::StatusOr<KeyAndCertificate> CreateCa(absl::string_view name, const Validity& validity) {
  if (name.empty()) return absl::InvalidArgumentError("the CA needs a name");
  FLS_RETURN_IF_ERROR(CheckValidity(validity));
  FLS_ASSIGN_OR_RETURN(KeyPtr key, GenerateP256Key());
  FLS_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(name, validity, key.get()));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) {
    return Internal("cannot set the CA's issuer");
  }
  FLS_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  FLS_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  FLS_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  FLS_RETURN_IF_ERROR(Sign(c, key.get()));
  return Encode(key.get(), c);
}

absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca,
                                                   const CertificateRequest& request) {
  FLS_RETURN_IF_ERROR(ValidateId(request.identity.id));
  FLS_RETURN_IF_ERROR(CheckValidity(request.validity));
  if (request.identity.kind != IdentityKind::kServer &&
      (!request.dns_names.empty() || !request.ip_addresses.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("DNS names and IP addresses are for server certificates, not ",
                     KindName(request.identity.kind), " ones"));
  }
  absl::StatusOr<X509Ptr> ca_cert = ParseCertificate(ca.cert_pem);
  if (!ca_cert.ok()) return InFile("CA certificate", ca_cert.status());
  absl::StatusOr<KeyPtr> ca_key = ParsePrivateKey(ca.key_pem);
  if (!ca_key.ok()) return InFile("CA key", ca_key.status());
  FLS_RETURN_IF_ERROR(CheckKeyMatches(ca_cert->get(), ca_key->get(),
                                      "the CA key does not belong to the CA certificate"));
  if (X509_check_ca(ca_cert->get()) == 0) {
    return absl::InvalidArgumentError("the CA certificate is not a CA");
  }
  FLS_ASSIGN_OR_RETURN(absl::Time ca_end, ToTime(X509_get0_notAfter(ca_cert->get()), "CA notAfter"));
  if (request.validity.not_after > ca_end) {
    return absl::InvalidArgumentError(
        absl::StrCat("the certificate would outlive its CA, which expires ",
                     absl::FormatTime(ca_end), "; ask for fewer days or renew the CA"));
  }

  FLS_ASSIGN_OR_RETURN(KeyPtr key, GenerateP256Key());
  FLS_ASSIGN_OR_RETURN(X509Ptr cert,
                       NewCertificate(request.identity.id, request.validity, key.get()));
  X509* c = cert.get();
  X509* issuer = ca_cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(issuer)) != 1) {
    return Internal("cannot set the issuer");
  }
  const bool server = request.identity.kind == IdentityKind::kServer;
  FLS_RETURN_IF_ERROR(AddExtension(c, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  FLS_RETURN_IF_ERROR(AddExtension(c, issuer, NID_key_usage, "critical,digitalSignature"));
  FLS_RETURN_IF_ERROR(AddExtension(c, issuer, NID_ext_key_usage,
                                   server ? "serverAuth,clientAuth" : "clientAuth"));
  FLS_RETURN_IF_ERROR(AddExtension(c, issuer, NID_subject_key_identifier, "hash"));
  FLS_RETURN_IF_ERROR(AddExtension(c, issuer, NID_authority_key_identifier, "keyid:always"));
  FLS_RETURN_IF_ERROR(AddSubjectAltNames(c, request));
  FLS_RETURN_IF_ERROR(Sign(c, ca_key->get()));
  return Encode(key.get(), c);
}

absl::StatusOr<CertificateInfo> ReadIdentity(absl::string_view cert_pem) {
  FLS_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem));
  return InfoOf(cert.get());
}

absl::StatusOr<CertificateInfo> VerifyAgainstCa(absl::string_view cert_pem,
                                                absl::string_view ca_pem, absl::Time at) {
  FLS_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem));
  absl::StatusOr<X509Ptr> ca = ParseCertificate(ca_pem);
  if (!ca.ok()) return InFile("CA certificate", ca.status());
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr || X509_STORE_add_cert(store.get(), ca->get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return Internal("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::UnauthenticatedError(absl::StrCat("certificate not trusted: ",
                                                   X509_verify_cert_error_string(error)));
  }
  return InfoOf(cert.get());
}

absl::StatusOr<KeyAndCertificate> ReadKeyAndCertificate(const std::string& key_path,
                                                        const std::string& cert_path) {
  KeyAndCertificate pair;
  FLS_ASSIGN_OR_RETURN(pair.key_pem, ReadFileToString(key_path));
  FLS_ASSIGN_OR_RETURN(pair.cert_pem, ReadFileToString(cert_path));
  absl::StatusOr<KeyPtr> key = ParsePrivateKey(pair.key_pem);
  if (!key.ok()) return InFile(key_path, key.status());
  absl::StatusOr<X509Ptr> cert = ParseCertificate(pair.cert_pem);
  if (!cert.ok()) return InFile(cert_path, cert.status());
  FLS_RETURN_IF_ERROR(CheckKeyMatches(cert->get(), key->get(),
                                      absl::StrCat(key_path, ": not the key of ", cert_path)));
  return pair;
}

absl::Status WriteKeyAndCertificate(const KeyAndCertificate& pair, const std::string& key_path,
                                    const std::string& cert_path) {
  FLS_ASSIGN_OR_RETURN(auto cert_out, AtomicOutputFile::Create(cert_path));
  FLS_RETURN_IF_ERROR(cert_out->Write(pair.cert_pem));
  FLS_RETURN_IF_ERROR(cert_out->Close());
  FLS_ASSIGN_OR_RETURN(auto key_out, AtomicOutputFile::CreateOwnerOnly(key_path));
  FLS_RETURN_IF_ERROR(key_out->Write(pair.key_pem));
  return key_out->Close();
}

}  // namespace flsailer::pki
