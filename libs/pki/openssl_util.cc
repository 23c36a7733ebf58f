#include "libs/pki/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/common/status_macros.h"

namespace flsailer::openssl {

absl::Status Error(absl::StatusCode code, absl::string_view what) {
  std::vector<std::string> reasons;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    reasons.emplace_back(buf);
  }
  if (reasons.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, " (", absl::StrJoin(reasons, "; "), ")"));
}

absl::Status Internal(absl::string_view what) {
  return Error(absl::StatusCode::kInternal, what);
}

namespace {

// A PEM password callback that supplies none (OpenSSL's default would prompt on the terminal).
int NoPassword(char*, int, int, void*) { return 0; }

}  // namespace

absl::StatusOr<BioPtr> ReadOnlyBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("PEM data larger than 2 GiB");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return Internal("cannot allocate a memory BIO");
  return bio;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  FLS_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
  if (cert == nullptr) return Error(absl::StatusCode::kInvalidArgument, "not a PEM certificate");
  return cert;
}

absl::StatusOr<KeyPtr> ParsePrivateKey(absl::string_view pem) {
  FLS_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return Error(absl::StatusCode::kInvalidArgument, "not an unencrypted PEM private key");
  }
  return key;
}

}  // namespace flsailer::openssl
