// Fixed-point encoding of real values in Z_{2^32} or Z_{2^64}, so that masked values can be
// summed with wrapping integer arithmetic and the sum read back as a real number.
//
// A value x is clipped to [-range, range], multiplied by 2^scale_bits, and rounded
// stochastically to one of the two nearest integers: up with probability equal to the
// fractional part, so the encoding is unbiased (up to the 2^-53 resolution of the random draw).
// The integer is stored in two's complement mod 2^modulus_bits. A sum of encodings decodes
// correctly while it cannot wrap around, that is for at most MaxSummands() encodings.
//
// Error bound. Each encoding is strictly within 2^-scale_bits of its clipped value, so the
// decoded sum of n encodings differs from the sum of the n clipped values by less than
// ErrorBound(n) = n * 2^-scale_bits, plus the rounding of the decoded sum to a double (relative
// 2^-53). The error has mean zero and standard deviation at most sqrt(n)/2 * 2^-scale_bits.
// Values beyond the range lose everything beyond it; Encode counts them.
//
// Thread safety: a codec is immutable; all methods may be called concurrently.
#ifndef FLSAILER_LIBS_SECAGG_FIXED_POINT_H_
#define FLSAILER_LIBS_SECAGG_FIXED_POINT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace flsailer::secagg {

class FixedPointCodec {
 public:
  // InvalidArgument unless modulus_bits is 32 or 64, range is finite and positive, scale_bits
  // is in [0, 62], range * 2^scale_bits <= 2^53 (so that scaled values are exact doubles), and
  // one encoding fits the modulus.
  static absl::StatusOr<FixedPointCodec> Create(double range, int scale_bits, int modulus_bits);

  double range() const { return range_; }
  int scale_bits() const { return scale_bits_; }
  int modulus_bits() const { return modulus_bits_; }
  // ceil(range * 2^scale_bits): the largest magnitude of an encoded value.
  uint64_t max_magnitude() const { return max_magnitude_; }
  // The largest n with n * max_magnitude() <= 2^(modulus_bits - 1) - 1.
  uint64_t MaxSummands() const;
  // n * 2^-scale_bits (see the error bound above).
  double ErrorBound(uint64_t summands) const;

  // out[i] = the encoding of values[i], rounded up when random[i] / 2^64 is below the
  // fractional part. Returns how many values were clipped; InvalidArgument (naming the index)
  // for a value that is not finite.
  // REQUIRES: values, random and out have the same length.
  absl::StatusOr<int64_t> Encode(absl::Span<const double> values, absl::Span<const uint64_t> random,
                                 absl::Span<uint64_t> out) const;

  // The real value of an encoding or of a sum of encodings (mod 2^modulus_bits).
  double Decode(uint64_t word) const;

 private:
  FixedPointCodec(double range, int scale_bits, int modulus_bits, uint64_t max_magnitude)
      : range_(range),
        scale_bits_(scale_bits),
        modulus_bits_(modulus_bits),
        max_magnitude_(max_magnitude) {}

  double range_;
  int scale_bits_;
  int modulus_bits_;
  uint64_t max_magnitude_;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_FIXED_POINT_H_
