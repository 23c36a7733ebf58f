// The parameters of one secure sum, and the plan both sides derive from them once they know who
// takes part: the neighbour graph and the Shamir threshold.
//
// Thread safety: plain data and pure functions.
#ifndef FLSAILER_LIBS_SECAGG_CONFIG_H_
#define FLSAILER_LIBS_SECAGG_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/secagg/fixed_point.h"
#include "libs/secagg/messages.h"
#include "libs/secagg/neighbour_graph.h"

namespace flsailer::secagg {

// The most clients a round may have.
constexpr int kMaxClients = 1 << 20;

// The server and every client of a round must use the same configuration (the coordinator sends
// it with the round plan).
struct SecAggConfig {
  // Values each client contributes. Its weight travels as one more word, so masked vectors have
  // vector_length + 1 words. At most 2^40.
  int64_t vector_length = 0;
  // Masked arithmetic is mod 2^modulus_bits, 32 or 64: 32 halves the traffic, 64 leaves room for
  // more clients, wider ranges and finer scales.
  int modulus_bits = 64;
  // Values are clipped to [-clip_range, clip_range] and rounded stochastically to multiples of
  // 2^-scale_bits; the sum of n inputs is then off by less than n * 2^-scale_bits (see
  // fixed_point.h). The round is refused up front unless n * ceil(clip_range * 2^scale_bits)
  // fits in modulus_bits - 1 bits.
  double clip_range = 1.0;
  int scale_bits = 24;
  // Weights (cell counts, say) lie in [0, max_weight] and are rounded the same way to multiples
  // of 2^-weight_scale_bits: integer weights are summed exactly with the default 0.
  double max_weight = 1e6;
  int weight_scale_bits = 0;
  // Rounds of up to graph_threshold participants use the complete graph; larger rounds a random
  // Harary graph of `degree` neighbours per client (0: the smallest even number >= 3 log2 n;
  // the complete graph whenever the degree would reach n - 1). graph_threshold is at least 2.
  int graph_threshold = 32;
  int degree = 0;
  // Shares needed to rebuild a client's secret (t), at least 2. Each client's shares go to its
  // h = degree + 1 share holders (itself and its neighbours; h = n for the complete graph).
  // 0 means a majority of them, floor(h / 2) + 1: the round survives as long as t holders of
  // every secret it needs are still there (for the complete graph: up to n - t dropouts in
  // all), and the server together with fewer than t clients learns nothing beyond the sum.
  int threshold = 0;
  // Seeds the random Harary graph, together with the round context; fixed before the round so
  // that the server cannot pick a graph after seeing who takes part.
  uint64_t graph_seed = 0;
  // Words per MaskedInputChunk, 1 to 2^24: bounds message sizes.
  int64_t chunk_words = int64_t{1} << 16;
};

// OK when the configuration can be used at all: see the field comments for the limits.
absl::Status ValidateConfig(const SecAggConfig& config);

// OK when the job id is 1 to 128 bytes (it goes into every key derivation).
absl::Status ValidateContext(const RoundContext& context);

// OK when the sum of `clients` inputs cannot wrap around the modulus; otherwise
// InvalidArgument saying which limit is exceeded and what would fit.
// REQUIRES: ValidateConfig(config) is OK.
absl::Status CheckSumFits(const SecAggConfig& config, int clients);

// The codecs of the values and of the weight. REQUIRES: ValidateConfig(config) is OK.
FixedPointCodec ValueCodec(const SecAggConfig& config);
FixedPointCodec WeightCodec(const SecAggConfig& config);

struct RoundPlan {
  NeighbourGraph graph;
  int holders = 0;    // share holders per client: graph.degree() + 1
  int threshold = 0;  // t
};

// The graph and threshold for `participants` clients. FailedPrecondition when fewer than 2 take
// part or the threshold exceeds the holders (too few participants for a configured threshold).
// REQUIRES: ValidateConfig(config) and ValidateContext(context) are OK.
absl::StatusOr<RoundPlan> PlanRound(const SecAggConfig& config, const RoundContext& context,
                                    int participants);

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_CONFIG_H_
