// The fixed-point settings of each step's secure sum (DESIGN.md §4): which modulus, clipping
// range and scale a step's contributions are encoded with, chosen before the round from what is
// known about the values, so that the sum cannot wrap around and its error stays far below the
// values' own precision.
//
// Per step (n = the cohort's size, N = the job's cells):
//   statistics  mod 2^64, range 2^36, divisor 1: counts and sums of log depth. Integer counts are
//               exact (stochastic rounding never moves an integer).
//   subspace    mod 2^64, range 2^24, divisor N: the sketch per cell of the job.
//   train       mod 2^32, range 4, divisor N: (n_k / N)(w_k - w) is at most one client's
//               parameter change, clipped at +-4 like a large gradient clip; the loss travels per
//               peak. 32-bit words make the secure update exactly as large as the plain float32
//               one.
//   clusters    mod 2^64, range 2, divisor N: counts and sums of unit vectors per cell.
// The scale is the finest (at most 2^-40) with n * range * 2^scale inside the modulus, so the
// decoded sum is off by less than n * 2^-scale in the divided units (fixed_point.h), with mean
// zero. For 10 institutions the training step gets 2^-25: the mean update is off by < 3e-7 per
// parameter, the float32 model's own precision. Weights (cell counts) are summed exactly.
//
// Threshold: the default majority of the share holders, raised to the job's minimum number of
// contributors (for cohorts small enough for the complete graph), so that a round that cannot
// reach the minimum aborts instead of summing too few.
//
// Thread safety: pure functions.
#ifndef FLSAILER_LIBS_FEDERATION_SECURE_SUM_H_
#define FLSAILER_LIBS_FEDERATION_SECURE_SUM_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "libs/federation/aggregation.h"
#include "libs/federation/protocol.h"

namespace flsailer::federation {

// Who takes part in the secure sum of `step`: its expected institutions without the absent
// ones, unless that would leave fewer than the step's minimum or than 2 (then all are waited
// for, as before they went absent). A secure round's members are fixed when it opens and each
// of its stages waits for all of them, so an institution that vanished would otherwise stall
// every later round; one that returns joins the next step.
std::set<std::string> SecureSumMembers(const StepPlan& step);

// The settings for a round of `step.expected` (SecureSumMembers already applied) with the
// aggregator at `aggregator` (host:port). FailedPrecondition for a cohort of one (a sum of one
// is that institution's own numbers) or one too large for any scale; InvalidArgument for a step
// after the statistics without a cell count.
absl::StatusOr<SecureSumTask> PlanSecureSum(const StepPlan& step, const std::string& aggregator);

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_SECURE_SUM_H_
