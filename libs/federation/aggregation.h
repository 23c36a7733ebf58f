// The one interface every sum of the FL-Sailer schedule goes through (TF-IDF counts, subspace
// sketches, model updates, centroid sums): vectors from named contributors in, only their sum,
// total weight and the list of contributors out. The secure-aggregation service implements it
// later; InsecurePlainAggregation (the coordinator adds the vectors itself) exists for
// development and as the benchmark baseline, and must be chosen explicitly.
#ifndef FLSAILER_LIBS_FEDERATION_AGGREGATION_H_
#define FLSAILER_LIBS_FEDERATION_AGGREGATION_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace flsailer::federation {

struct AggregateResult {
  std::vector<double> sum;
  double total_weight = 0;
  std::vector<std::string> contributors;  // sorted
};

// One sum: created for a step with its expected contributors and vector length.
// Not thread-safe; the caller serialises calls.
class Aggregation {
 public:
  virtual ~Aggregation() = default;
  // Adds one contributor's vector and weight. Refused (and the sum left unchanged): a contributor
  // not expected, a second vector from the same contributor (replay), a wrong length, non-finite
  // values or weight, a negative weight.
  virtual absl::Status Add(const std::string& contributor, absl::Span<const double> values,
                           double weight) = 0;
  // Contributors whose vectors were accepted so far.
  virtual const std::set<std::string>& contributors() const = 0;
  // The sum over the accepted contributors. FailedPrecondition when none contributed.
  virtual absl::StatusOr<AggregateResult> Finish() = 0;
};

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual absl::StatusOr<std::unique_ptr<Aggregation>> Begin(
      int64_t length, const std::set<std::string>& expected) = 0;
};

// The coordinator sees every contributor's vector: no privacy. Only behind the explicit
// "insecure plain aggregation" setting.
class InsecurePlainAggregator final : public Aggregator {
 public:
  absl::StatusOr<std::unique_ptr<Aggregation>> Begin(
      int64_t length, const std::set<std::string>& expected) override;
};

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_AGGREGATION_H_
