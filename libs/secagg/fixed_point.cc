#include "libs/secagg/fixed_point.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace flsailer::secagg {
namespace {

uint64_t HalfModulusMinusOne(int modulus_bits) { return (uint64_t{1} << (modulus_bits - 1)) - 1; }

}  // namespace

absl::StatusOr<FixedPointCodec> FixedPointCodec::Create(double range, int scale_bits,
                                                        int modulus_bits) {
  if (modulus_bits != 32 && modulus_bits != 64) {
    return absl::InvalidArgumentError(absl::StrCat("modulus_bits is 32 or 64, not ", modulus_bits));
  }
  if (!std::isfinite(range) || range <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the clipping range must be finite and positive, not ", range));
  }
  if (scale_bits < 0 || scale_bits > 62) {
    return absl::InvalidArgumentError(
        absl::StrCat("scale_bits must be in [0, 62], not ", scale_bits));
  }
  const double scaled = std::ceil(std::ldexp(range, scale_bits));
  if (!(scaled <= std::ldexp(1.0, 53))) {
    return absl::InvalidArgumentError(absl::StrCat("range ", range, " x 2^", scale_bits,
                                                   " exceeds 2^53: lower scale_bits or the range"));
  }
  const auto max_magnitude = static_cast<uint64_t>(scaled);
  if (max_magnitude > HalfModulusMinusOne(modulus_bits)) {
    return absl::InvalidArgumentError(absl::StrCat("range ", range, " x 2^", scale_bits,
                                                   " does not fit the modulus 2^", modulus_bits));
  }
  return FixedPointCodec(range, scale_bits, modulus_bits, max_magnitude);
}

uint64_t FixedPointCodec::MaxSummands() const {
  // max_magnitude_ >= 1: it is the ceiling of a positive number.
  return HalfModulusMinusOne(modulus_bits_) / max_magnitude_;
}

double FixedPointCodec::ErrorBound(uint64_t summands) const {
  return std::ldexp(static_cast<double>(summands), -scale_bits_);
}

absl::StatusOr<int64_t> FixedPointCodec::Encode(absl::Span<const double> values,
                                                absl::Span<const uint64_t> random,
                                                absl::Span<uint64_t> out) const {
  if (random.size() != values.size() || out.size() != values.size()) {
    return absl::InvalidArgumentError("Encode needs as many random words and outputs as values");
  }
  const double scale = std::ldexp(1.0, scale_bits_);
  const uint64_t mask = modulus_bits_ == 64 ? ~uint64_t{0} : (uint64_t{1} << modulus_bits_) - 1;
  int64_t clipped = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    double x = values[i];
    if (!std::isfinite(x)) {
      return absl::InvalidArgumentError(absl::StrCat("value ", i, " is not finite (", x, ")"));
    }
    if (x > range_) {
      x = range_;
      ++clipped;
    } else if (x < -range_) {
      x = -range_;
      ++clipped;
    }
    // Scaling by a power of two and taking the fractional part are exact in binary floating
    // point, so the rounding probability is exactly the fractional part.
    const double y = x * scale;
    const double floor = std::floor(y);
    const double fraction = y - floor;
    const double u = static_cast<double>(random[i] >> 11) * 0x1p-53;
    const int64_t q = static_cast<int64_t>(floor) + (u < fraction ? 1 : 0);
    out[i] = static_cast<uint64_t>(q) & mask;
  }
  return clipped;
}

double FixedPointCodec::Decode(uint64_t word) const {
  const int64_t value =
      modulus_bits_ == 64 ? static_cast<int64_t>(word)
                          : static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(word)));
  return std::ldexp(static_cast<double>(value), -scale_bits_);
}

}  // namespace flsailer::secagg
