// What every OpenSSL user in the project shares (libs/pki, libs/secagg): owning pointers that free
// OpenSSL objects with their own free function, and errors that carry OpenSSL's queued reasons.
// For .cc files that use OpenSSL; public headers keep OpenSSL types out.
#ifndef FLSAILER_LIBS_PKI_OPENSSL_UTIL_H_
#define FLSAILER_LIBS_PKI_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace flsailer::openssl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
// e.g. Ptr<EVP_PKEY, EVP_PKEY_free>.
template <typename T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

using BioPtr = Ptr<BIO, BIO_free_all>;
using KeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Ptr<X509, X509_free>;

// `what`, followed by the reasons OpenSSL queued on this thread (which are consumed).
absl::Status Error(absl::StatusCode code, absl::string_view what);
// Error(kInternal, what).
absl::Status Internal(absl::string_view what);

// A read-only memory BIO over `data` (which must outlive it).
absl::StatusOr<BioPtr> ReadOnlyBio(absl::string_view data);
// The first certificate in `pem`; InvalidArgument when there is none.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem);
// An unencrypted PEM private key; InvalidArgument otherwise (an encrypted key is an error,
// never a password prompt on the terminal).
absl::StatusOr<KeyPtr> ParsePrivateKey(absl::string_view pem);

}  // namespace flsailer::openssl

#endif  // FLSAILER_LIBS_PKI_OPENSSL_UTIL_H_
