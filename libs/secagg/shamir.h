// Shamir secret sharing of 256-bit secrets (self-mask seeds, X25519 masking keys) over the prime
// field GF(p), p = 2^256 + 297, the smallest prime above 2^256 (shamir_test checks it with
// BN_check_prime). Every 32-byte secret is a field element as it is, so a secret is shared in one
// piece, not in limbs. A share is the point (x, f(x)) of a random polynomial f of degree
// threshold - 1 with f(0) = secret; x is the holder's position in the round, 1-based.
//
// Arithmetic is OpenSSL BIGNUM and not constant-time: a client splits its secrets once per round
// on its own machine, and the server combines shares that are revealed to it anyway.
//
// Thread safety: all functions are thread-safe.
#ifndef FLSAILER_LIBS_SECAGG_SHAMIR_H_
#define FLSAILER_LIBS_SECAGG_SHAMIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "libs/secagg/crypto.h"

namespace flsailer::secagg {

// Bytes of a share value: an element of GF(p) needs 257 bits.
constexpr size_t kShareValueBytes = 33;

// p as big-endian bytes (kShareValueBytes of them).
std::string ShamirPrime();

struct ShamirShare {
  uint32_t x = 0;     // evaluation point, >= 1
  std::string value;  // f(x), kShareValueBytes big-endian, < p
};

// Shares `secret` so that any `threshold` of the shares rebuild it and fewer reveal nothing, one
// share per point in `xs`. REQUIRES-style errors (InvalidArgument): threshold < 1, more
// threshold than points, a point that is 0 or repeated.
absl::StatusOr<std::vector<ShamirShare>> SplitSecret(const Key& secret, int threshold,
                                                     absl::Span<const uint32_t> xs);

// InvalidArgument unless `value` is a valid share value (kShareValueBytes, below p).
absl::Status ValidateShareValue(absl::string_view value);

// The secret f(0) interpolated from `shares` (all of them are used; pass exactly threshold of
// them). InvalidArgument for malformed shares or repeated points, and when the result is not a
// 256-bit value (which shows some share was wrong). Wrong shares that still give a 256-bit value
// give a wrong secret: callers check it against a commitment or a public key.
absl::StatusOr<Key> CombineShares(absl::Span<const ShamirShare> shares);

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_SHAMIR_H_
