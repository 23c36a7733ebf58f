#include "libs/eval/chi_square.h"

#include <cmath>
#include <limits>

namespace flsailer::eval::internal {
namespace {

constexpr int kMaxTerms = 1000;
constexpr double kEpsilon = 1e-16;

// Regularised lower incomplete gamma P(a, x) by its power series (converges fast for x < a + 1).
double LowerSeries(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < kMaxTerms; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEpsilon) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Regularised upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz), for
// x >= a + 1.
double UpperFraction(double a, double x) {
  constexpr double kTiny = std::numeric_limits<double>::min() / kEpsilon;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < kMaxTerms; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < kEpsilon) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

double ChiSquareSurvival(double x, int df) {
  if (!(x > 0)) return 1.0;
  if (std::isinf(x)) return 0.0;
  const double a = df / 2.0, half = x / 2;
  return half < a + 1 ? 1 - LowerSeries(a, half) : UpperFraction(a, half);
}

}  // namespace flsailer::eval::internal
