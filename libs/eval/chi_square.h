// Internal to libs/eval: the chi-square distribution's upper tail, for kBET's test.
#ifndef FLSAILER_LIBS_EVAL_CHI_SQUARE_H_
#define FLSAILER_LIBS_EVAL_CHI_SQUARE_H_

namespace flsailer::eval::internal {

// P(X >= x) for X ~ chi-square with `df` degrees of freedom (R's 1 - pchisq(x, df), scipy's
// chi2.sf), via the regularised upper incomplete gamma function Q(df / 2, x / 2): its series
// below x / 2 < df / 2 + 1, Lentz's continued fraction above (relative accuracy ~1e-14).
// Returns 1 for x <= 0. REQUIRES: df >= 1.
double ChiSquareSurvival(double x, int df);

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_CHI_SQUARE_H_
