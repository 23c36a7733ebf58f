#include "libs/secagg/config.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/secagg/crypto.h"

namespace flsailer::secagg {
namespace {

constexpr int64_t kMaxVectorLength = int64_t{1} << 40;
constexpr int64_t kMaxChunkWords = int64_t{1} << 24;
constexpr size_t kMaxJobIdBytes = 128;

// The smallest even number >= 3 log2 n.
int DefaultDegree(int n) {
  int degree = static_cast<int>(std::ceil(3 * std::log2(static_cast<double>(n))));
  return degree + degree % 2;
}

// What does not fit and what would: the largest scale that fits `clients`, if any.
absl::Status SumDoesNotFit(absl::string_view what, double range, int scale_bits,
                           absl::string_view scale_field, int modulus_bits, int clients,
                           const FixedPointCodec& codec) {
  std::string advice;
  for (int bits = scale_bits - 1; bits >= 0; --bits) {
    absl::StatusOr<FixedPointCodec> smaller = FixedPointCodec::Create(range, bits, modulus_bits);
    if (smaller.ok() && smaller->MaxSummands() >= static_cast<uint64_t>(clients)) {
      advice = absl::StrCat("; ", scale_field, " <= ", bits, " would fit");
      break;
    }
  }
  if (modulus_bits == 32) absl::StrAppend(&advice, "; modulus_bits = 64 has more room");
  return absl::InvalidArgumentError(
      absl::StrCat("secure aggregation refused: the sum of ", clients, " ", what, " in [-", range,
                   ", ", range, "] at scale 2^", scale_bits, " (", clients, " x ",
                   codec.max_magnitude(), ") would overflow the modulus 2^", modulus_bits,
                   ", which holds ", codec.MaxSummands(), advice));
}

}  // namespace

absl::Status ValidateConfig(const SecAggConfig& config) {
  if (config.vector_length < 0 || config.vector_length > kMaxVectorLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector_length must be in [0, 2^40], not ", config.vector_length));
  }
  absl::StatusOr<FixedPointCodec> values =
      FixedPointCodec::Create(config.clip_range, config.scale_bits, config.modulus_bits);
  if (!values.ok())
    return absl::InvalidArgumentError(absl::StrCat("values: ", values.status().message()));
  absl::StatusOr<FixedPointCodec> weights =
      FixedPointCodec::Create(config.max_weight, config.weight_scale_bits, config.modulus_bits);
  if (!weights.ok())
    return absl::InvalidArgumentError(absl::StrCat("weights: ", weights.status().message()));
  if (config.graph_threshold < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("graph_threshold must be at least 2, not ", config.graph_threshold));
  }
  if (config.degree != 0 && (config.degree < 2 || config.degree % 2 != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("degree must be 0 (default) or an even number >= 2, not ", config.degree));
  }
  if (config.threshold != 0 && config.threshold < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("threshold must be 0 (default) or at least 2, not ", config.threshold));
  }
  if (config.chunk_words < 1 || config.chunk_words > kMaxChunkWords) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_words must be in [1, 2^24], not ", config.chunk_words));
  }
  return absl::OkStatus();
}

absl::Status ValidateContext(const RoundContext& context) {
  if (context.job_id.empty() || context.job_id.size() > kMaxJobIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the job id must have 1 to ", kMaxJobIdBytes,
                                                   " bytes, not ", context.job_id.size()));
  }
  return absl::OkStatus();
}

FixedPointCodec ValueCodec(const SecAggConfig& config) {
  return *FixedPointCodec::Create(config.clip_range, config.scale_bits, config.modulus_bits);
}

FixedPointCodec WeightCodec(const SecAggConfig& config) {
  return *FixedPointCodec::Create(config.max_weight, config.weight_scale_bits, config.modulus_bits);
}

absl::Status CheckSumFits(const SecAggConfig& config, int clients) {
  const FixedPointCodec values = ValueCodec(config);
  if (values.MaxSummands() < static_cast<uint64_t>(clients)) {
    return SumDoesNotFit("clients' values", config.clip_range, config.scale_bits, "scale_bits",
                         config.modulus_bits, clients, values);
  }
  const FixedPointCodec weights = WeightCodec(config);
  if (weights.MaxSummands() < static_cast<uint64_t>(clients)) {
    return SumDoesNotFit("clients' weights", config.max_weight, config.weight_scale_bits,
                         "weight_scale_bits", config.modulus_bits, clients, weights);
  }
  return absl::OkStatus();
}

absl::StatusOr<RoundPlan> PlanRound(const SecAggConfig& config, const RoundContext& context,
                                    int participants) {
  if (participants < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secure aggregation needs at least 2 participants, the round has ", participants));
  }
  const int n = participants;
  const int degree = config.degree != 0 ? config.degree : DefaultDegree(n);
  absl::StatusOr<NeighbourGraph> graph = NeighbourGraph::Complete(n);
  if (n > config.graph_threshold && degree < n - 1) {
    const std::string seed = Sha256(Binding("flsailer secagg neighbour graph v1")
                                        .Add(context.job_id)
                                        .AddNumber(context.round)
                                        .AddNumber(config.graph_seed)
                                        .AddNumber(static_cast<uint64_t>(n))
                                        .bytes());
    FLS_ASSIGN_OR_RETURN(Key key, KeyFromBytes(seed, "graph seed"));
    graph = NeighbourGraph::RandomHarary(n, degree, key);
  }
  if (!graph.ok()) return graph.status();
  RoundPlan plan{*std::move(graph), 0, 0};
  plan.holders = plan.graph.degree() + 1;
  plan.threshold = config.threshold != 0 ? config.threshold : plan.holders / 2 + 1;
  if (plan.threshold > plan.holders) {
    return absl::FailedPreconditionError(
        absl::StrCat("threshold ", plan.threshold, " exceeds the ", plan.holders,
                     " holders of each client's shares (", n, " participants",
                     plan.graph.complete() ? "" : absl::StrCat(", degree ", plan.graph.degree()),
                     "): no secret could ever be rebuilt"));
  }
  return plan;
}

}  // namespace flsailer::secagg
