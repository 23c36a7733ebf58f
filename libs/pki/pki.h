// The federation's public-key infrastructure: one CA per federation, and leaf certificates that
// name who their holder is.
//
// Every key is ECDSA P-256 and every signature ECDSA with SHA-256 (OpenSSL 3 API, in-process).
// A leaf certificate carries its holder's Identity twice: as the URI subject alternative name
// "flsailer://<kind>/<id>", which is authoritative, and as the subject CN for people reading it.
// Server certificates also carry the DNS names and IP addresses clients connect to, and may
// authenticate as TLS clients too (the aggregator calls the coordinator); institution and admin
// certificates authenticate as TLS clients only.
//
// Certificates and keys travel as PEM text. Errors are absl::Status with the cause (and, for the
// file functions, the file) in the message.
//
// Thread safety: all functions are thread-safe (they share no state; OpenSSL 3 initialises itself
// thread-safely).
#ifndef FLSAILER_LIBS_PKI_PKI_H_
#define FLSAILER_LIBS_PKI_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace flsailer::pki {

enum class IdentityKind { kServer, kInstitution, kAdmin };

// "server", "institution", "admin".
absl::string_view KindName(IdentityKind kind);
absl::StatusOr<IdentityKind> ParseKind(absl::string_view name);

struct Identity {
  IdentityKind kind = IdentityKind::kInstitution;
  std::string id;  // [A-Za-z0-9._-]{1,64}

  bool operator==(const Identity& other) const { return kind == other.kind && id == other.id; }
  bool operator!=(const Identity& other) const { return !(*this == other); }
};

// OK when `id` is 1 to 64 characters of [A-Za-z0-9._-] (safe as a file name and in a URI).
absl::Status ValidateId(absl::string_view id);
// "flsailer://institution/hospital-a".
std::string IdentityUri(const Identity& identity);

struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};
// From five minutes before `now` (so that a peer whose clock is slightly behind accepts a fresh
// certificate) to `now + duration`.
Validity ValidFor(absl::Duration duration, absl::Time now = absl::Now());

// A private key (PKCS#8 PEM) and its certificate (PEM).
struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

// A new self-signed CA certificate named `name` (its CN), allowed to sign leaf certificates only
// (path length 0).
absl::StatusOr<KeyAndCertificate> CreateCa(absl::string_view name, const Validity& validity);

struct CertificateRequest {
  Identity identity;
  // Only for kServer: the host names and IP addresses (v4 or v6) clients will dial.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  // May lie in the past (tests make expired certificates); must lie within the CA's validity.
  Validity validity;
};

// A new key and a certificate for it signed by `ca`, with a random 128-bit serial number.
// Refuses invalid ids, names or addresses, and DNS/IP names on non-server identities.
absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca,
                                                   const CertificateRequest& request);

struct CertificateInfo {
  Identity identity;
  absl::Time not_before;
  absl::Time not_after;
};

// The identity and validity period of the first certificate in `cert_pem`. Fails unless the
// certificate has exactly one "flsailer://" URI name and it is well formed. Does not check the
// signature or the dates: use VerifyAgainstCa for trust.
absl::StatusOr<CertificateInfo> ReadIdentity(absl::string_view cert_pem);

// The validity period of the first certificate in `cert_pem` (any certificate, the CA's too).
absl::StatusOr<Validity> ReadValidity(absl::string_view cert_pem);

// Verifies that the first certificate in `cert_pem` was signed by the CA in `ca_pem` and is valid
// at `at`, then returns what ReadIdentity returns. The error says why verification failed
// ("certificate has expired", "unable to get local issuer certificate", ...).
absl::StatusOr<CertificateInfo> VerifyAgainstCa(absl::string_view cert_pem,
                                                absl::string_view ca_pem,
                                                absl::Time at = absl::Now());

// Reads a key and certificate pair and checks that the key belongs to the certificate.
absl::StatusOr<KeyAndCertificate> ReadKeyAndCertificate(const std::string& key_path,
                                                        const std::string& cert_path);
// Writes the certificate (mode 0644) and the key (0600 from its creation), each replaced
// atomically. The directory must exist. Between the two renames a reader may see the new
// certificate with the old key; gRPC's certificate reloader (libs/rpc) retries at its next
// refresh, so rotating files in place is safe.
absl::Status WriteKeyAndCertificate(const KeyAndCertificate& pair, const std::string& key_path,
                                    const std::string& cert_path);

}  // namespace flsailer::pki

#endif  // FLSAILER_LIBS_PKI_PKI_H_
