#include "libs/federation/secure_sum.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace flsailer::federation {
namespace {

constexpr int kFinestScaleBits = 40;

struct StepEncoding {
  int modulus_bits;
  double range;
  bool divide_by_cells;
};

StepEncoding EncodingFor(StepKind kind) {
  switch (kind) {
    case StepKind::kStatistics: return {64, std::ldexp(1.0, 36), false};
    case StepKind::kSubspace: return {64, std::ldexp(1.0, 24), true};
    case StepKind::kTrain: return {32, 4.0, true};
    case StepKind::kClusters: return {64, 2.0, true};
  }
  return {64, 1.0, false};
}

}  // namespace

std::set<std::string> SecureSumMembers(const StepPlan& step) {
  std::set<std::string> present;
  for (const std::string& id : step.expected) {
    if (step.absent.count(id) == 0) present.insert(id);
  }
  const size_t needed = static_cast<size_t>(std::max<int32_t>(step.min_contributors, 2));
  return present.size() >= needed ? present : step.expected;
}

absl::StatusOr<SecureSumTask> PlanSecureSum(const StepPlan& step, const std::string& aggregator) {
  const int n = static_cast<int>(step.expected.size());
  if (n < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secure aggregation needs at least 2 institutions in a step, step ", step.step_id,
        " has ", n, " (the sum of one institution would be its own numbers)"));
  }
  const StepEncoding encoding = EncodingFor(step.kind);
  if (encoding.divide_by_cells && !(step.total_cells >= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("step ", step.step_id, " (", StepKindName(step.kind),
                     "): the job's cell count is not known"));
  }
  SecureSumTask task;
  task.aggregator = aggregator;
  task.divisor = encoding.divide_by_cells ? step.total_cells : 1.0;
  secagg::SecAggConfig& config = task.config;
  config.vector_length = step.length;
  config.modulus_bits = encoding.modulus_bits;
  config.clip_range = encoding.range;
  // Weights are cell counts: integers, each at most the job's cells once those are known.
  config.weight_scale_bits = 0;
  config.max_weight = encoding.modulus_bits == 32 ? std::ceil(step.total_cells)
                                                  : std::ldexp(1.0, 40);
  config.graph_seed = static_cast<uint64_t>(step.step_id);
  // A round that cannot reach the job's minimum is useless: let it abort (and the step be
  // retried) rather than complete without enough institutions. Only where every client holds
  // shares of every secret (the complete graph); the default majority otherwise.
  const int majority = n / 2 + 1;
  if (step.min_contributors > majority && n <= config.graph_threshold) {
    config.threshold = std::min(step.min_contributors, n);
  }
  // The finest scale that fits: scaled values exact as doubles, the sum of n inside the modulus.
  const int exact_bits = 53 - static_cast<int>(std::ceil(std::log2(encoding.range)));
  absl::Status fits = absl::OkStatus();
  for (int bits = std::min(kFinestScaleBits, exact_bits); bits >= 0; --bits) {
    config.scale_bits = bits;
    if (fits = secagg::ValidateConfig(config); !fits.ok()) continue;
    if (fits = secagg::CheckSumFits(config, n); fits.ok()) return task;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("step ", step.step_id, " (", StepKindName(step.kind), ") of ", n,
                   " institutions cannot be summed securely: ", fits.message()));
}

}  // namespace flsailer::federation
