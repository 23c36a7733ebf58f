// libFuzzer target: any bytes given to the PEM identity reader yield a well-formed identity or an
// error, and verification against a CA never trusts what reading refuses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "libs/pki/pki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flsailer::pki;
  static const KeyAndCertificate* const ca = [] {
    auto created = CreateCa("fuzz federation", ValidFor(absl::Hours(1)));
    if (!created.ok()) std::abort();
    return new KeyAndCertificate(*std::move(created));
  }();
  absl::string_view pem(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<CertificateInfo> info = ReadIdentity(pem);
  if (info.ok()) {
    if (!ValidateId(info->identity.id).ok()) __builtin_trap();
    if (KindName(info->identity.kind) == "unknown") __builtin_trap();
    if (info->not_before == absl::InfiniteFuture() || info->not_after == absl::InfinitePast()) {
      __builtin_trap();
    }
  }
  absl::StatusOr<CertificateInfo> verified = VerifyAgainstCa(pem, ca->cert_pem);
  if (verified.ok() && (!info.ok() || verified->identity != info->identity)) __builtin_trap();
  return 0;
}
