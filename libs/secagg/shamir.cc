#include "libs/secagg/shamir.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::secagg {
namespace {

// 2^256 + 297 = 0x1 00..00 0129.
constexpr uint8_t kPrime[kShareValueBytes] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x01, 0x29};

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_clear_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct BnCtxFree {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxFree>;

absl::StatusOr<BnPtr> NewBn() {
  BnPtr bn(BN_new());
  if (bn == nullptr) return absl::ResourceExhaustedError("cannot allocate a BIGNUM");
  return bn;
}

absl::StatusOr<BnPtr> FromBytes(const uint8_t* bytes, size_t size) {
  BnPtr bn(BN_bin2bn(bytes, static_cast<int>(size), nullptr));
  if (bn == nullptr) return absl::ResourceExhaustedError("cannot allocate a BIGNUM");
  return bn;
}

absl::StatusOr<BnPtr> Prime() { return FromBytes(kPrime, sizeof(kPrime)); }

absl::StatusOr<BnPtr> FromWord(uint32_t w) {
  FLS_ASSIGN_OR_RETURN(BnPtr bn, NewBn());
  if (BN_set_word(bn.get(), w) != 1) return absl::InternalError("BN_set_word failed");
  return bn;
}

// A uniform element of GF(p) from the OS random source: 257 random bits, rejected when >= p
// (about half the time, since p is just above 2^256).
absl::StatusOr<BnPtr> RandomFieldElement(const BIGNUM* p) {
  uint8_t bytes[kShareValueBytes];
  while (true) {
    FLS_RETURN_IF_ERROR(RandomBytes(absl::MakeSpan(bytes)));
    bytes[0] &= 0x01;
    FLS_ASSIGN_OR_RETURN(BnPtr candidate, FromBytes(bytes, sizeof(bytes)));
    if (BN_cmp(candidate.get(), p) < 0) {
      OPENSSL_cleanse(bytes, sizeof(bytes));
      return candidate;
    }
  }
}

std::string ToBytes(const BIGNUM* bn, size_t size) {
  std::string out(size, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size));
  return out;
}

absl::Status CheckPoints(absl::Span<const uint32_t> xs) {
  std::set<uint32_t> seen;
  for (uint32_t x : xs) {
    if (x == 0) return absl::InvalidArgumentError("Shamir share at x = 0 would be the secret");
    if (!seen.insert(x).second) {
      return absl::InvalidArgumentError(absl::StrCat("two Shamir shares at x = ", x));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ShamirPrime() {
  return std::string(reinterpret_cast<const char*>(kPrime), sizeof(kPrime));
}

absl::StatusOr<std::vector<ShamirShare>> SplitSecret(const Key& secret, int threshold,
                                                     absl::Span<const uint32_t> xs) {
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("threshold ", threshold, " with ", xs.size(),
                                                   " shares: need 1 <= threshold <= shares"));
  }
  FLS_RETURN_IF_ERROR(CheckPoints(xs));
  BnCtxPtr ctx(BN_CTX_secure_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a BN_CTX");
  FLS_ASSIGN_OR_RETURN(BnPtr p, Prime());
  // coefficients[0] is the secret; the others are uniform in GF(p).
  std::vector<BnPtr> coefficients;
  FLS_ASSIGN_OR_RETURN(BnPtr constant, FromBytes(secret.data(), secret.size()));
  coefficients.push_back(std::move(constant));
  for (int i = 1; i < threshold; ++i) {
    FLS_ASSIGN_OR_RETURN(BnPtr c, RandomFieldElement(p.get()));
    coefficients.push_back(std::move(c));
  }
  std::vector<ShamirShare> shares;
  shares.reserve(xs.size());
  FLS_ASSIGN_OR_RETURN(BnPtr y, NewBn());
  for (uint32_t x : xs) {
    FLS_ASSIGN_OR_RETURN(BnPtr bx, FromWord(x));
    // Horner: y = (...(c[t-1] x + c[t-2]) x + ...) x + c[0].
    if (BN_copy(y.get(), coefficients.back().get()) == nullptr) {
      return absl::InternalError("BN_copy failed");
    }
    for (int i = threshold - 2; i >= 0; --i) {
      if (BN_mod_mul(y.get(), y.get(), bx.get(), p.get(), ctx.get()) != 1 ||
          BN_mod_add(y.get(), y.get(), coefficients[static_cast<size_t>(i)].get(), p.get(),
                     ctx.get()) != 1) {
        return absl::InternalError("polynomial evaluation failed");
      }
    }
    shares.push_back({x, ToBytes(y.get(), kShareValueBytes)});
  }
  return shares;
}

absl::Status ValidateShareValue(absl::string_view value) {
  if (value.size() != kShareValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a share value has ", kShareValueBytes, " bytes, not ", value.size()));
  }
  FLS_ASSIGN_OR_RETURN(BnPtr v,
                       FromBytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  FLS_ASSIGN_OR_RETURN(BnPtr p, Prime());
  if (BN_cmp(v.get(), p.get()) >= 0) {
    return absl::InvalidArgumentError("a share value is not below the field prime");
  }
  return absl::OkStatus();
}

absl::StatusOr<Key> CombineShares(absl::Span<const ShamirShare> shares) {
  if (shares.empty()) return absl::InvalidArgumentError("no shares to combine");
  std::vector<uint32_t> xs;
  for (const ShamirShare& share : shares) {
    FLS_RETURN_IF_ERROR(ValidateShareValue(share.value));
    xs.push_back(share.x);
  }
  FLS_RETURN_IF_ERROR(CheckPoints(xs));
  BnCtxPtr ctx(BN_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot allocate a BN_CTX");
  FLS_ASSIGN_OR_RETURN(BnPtr p, Prime());
  FLS_ASSIGN_OR_RETURN(BnPtr secret, NewBn());
  FLS_ASSIGN_OR_RETURN(BnPtr numerator, NewBn());
  FLS_ASSIGN_OR_RETURN(BnPtr denominator, NewBn());
  FLS_ASSIGN_OR_RETURN(BnPtr term, NewBn());
  BN_zero(secret.get());
  // f(0) = sum_i y_i prod_{j != i} x_j / (x_j - x_i).
  for (size_t i = 0; i < shares.size(); ++i) {
    if (BN_one(numerator.get()) != 1 || BN_one(denominator.get()) != 1) {
      return absl::InternalError("BN_one failed");
    }
    FLS_ASSIGN_OR_RETURN(BnPtr xi, FromWord(shares[i].x));
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      FLS_ASSIGN_OR_RETURN(BnPtr xj, FromWord(shares[j].x));
      if (BN_mod_mul(numerator.get(), numerator.get(), xj.get(), p.get(), ctx.get()) != 1 ||
          BN_mod_sub(term.get(), xj.get(), xi.get(), p.get(), ctx.get()) != 1 ||
          BN_mod_mul(denominator.get(), denominator.get(), term.get(), p.get(), ctx.get()) != 1) {
        return absl::InternalError("Lagrange coefficient failed");
      }
    }
    FLS_ASSIGN_OR_RETURN(BnPtr yi,
                         FromBytes(reinterpret_cast<const uint8_t*>(shares[i].value.data()),
                                   shares[i].value.size()));
    if (BN_mod_inverse(denominator.get(), denominator.get(), p.get(), ctx.get()) == nullptr ||
        BN_mod_mul(term.get(), numerator.get(), denominator.get(), p.get(), ctx.get()) != 1 ||
        BN_mod_mul(term.get(), term.get(), yi.get(), p.get(), ctx.get()) != 1 ||
        BN_mod_add(secret.get(), secret.get(), term.get(), p.get(), ctx.get()) != 1) {
      return absl::InternalError("Lagrange interpolation failed");
    }
  }
  if (BN_num_bits(secret.get()) > 256) {
    return absl::InvalidArgumentError(
        "the shares do not combine to a 256-bit secret: at least one of them is wrong");
  }
  std::string bytes = ToBytes(secret.get(), kKeyBytes);
  absl::StatusOr<Key> key = KeyFromBytes(bytes, "combined secret");
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

}  // namespace flsailer::secagg
