// The one interface every sum of the FL-Sailer schedule goes through (TF-IDF counts, subspace
// sketches, model updates, centroid sums): vectors from named contributors in, only their sum,
// total weight and the list of contributors out. The secure-aggregation service implements it
// (services/coordinator/secure_aggregator.h: clients send masked vectors to the aggregator and
// only an acknowledgement to the coordinator); InsecurePlainAggregator (the coordinator adds the
// vectors itself) exists for development and as the benchmark baseline, and must be chosen
// explicitly.
#ifndef FLSAILER_LIBS_FEDERATION_AGGREGATION_H_
#define FLSAILER_LIBS_FEDERATION_AGGREGATION_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "libs/federation/protocol.h"

namespace flsailer::federation {

struct AggregateResult {
  std::vector<double> sum;
  double total_weight = 0;
  std::vector<std::string> contributors;  // sorted
};

// What a sum is for: one step of the schedule.
struct StepPlan {
  int64_t step_id = 0;
  StepKind kind = StepKind::kStatistics;
  int64_t length = 0;               // values per contribution
  std::set<std::string> expected;   // the step's cohort
  // Members of `expected` that missed an earlier deadline and have not asked for work since.
  // A plain sum still takes them if they return; a secure sum fixes its members when it opens,
  // so it leaves them out (see SecureSumMembers) rather than hold every stage open for them.
  std::set<std::string> absent;
  double total_cells = 0;           // cells in the job (0 before the statistics are known)
  int32_t min_contributors = 1;     // fewer make the step useless (the job's minimum)
};

// One sum: created for a step with its expected contributors and vector length.
// Not thread-safe; the caller serialises calls.
class Aggregation {
 public:
  virtual ~Aggregation() = default;
  // Adds one contributor's vector and weight (for a secure sum, secure_sum() != nullptr, the
  // vector went to the aggregator and `values` is empty: the contributor's acknowledgement).
  // Refused (and the sum left unchanged): a contributor not expected, a second vector from the
  // same contributor (replay), a wrong length, non-finite values or weight, a negative weight.
  virtual absl::Status Add(const std::string& contributor, absl::Span<const double> values,
                           double weight) = 0;
  // Contributors whose vectors (or acknowledgements) were accepted so far.
  virtual const std::set<std::string>& contributors() const = 0;
  // Who may contribute: the plan's `expected`, or fewer for a secure sum (SecureSumMembers).
  virtual const std::set<std::string>& members() const = 0;
  // The sum over the contributors, waiting up to `wait` for it. FailedPrecondition when none
  // contributed; Unavailable when the sum is not ready yet (a secure round still running: call
  // again later); any other error means the sum is lost.
  virtual absl::StatusOr<AggregateResult> Finish(absl::Duration wait) = 0;
  // How clients deliver their vectors: nullptr for the coordinator itself (plain), else through
  // the aggregator with these settings.
  virtual const SecureSumTask* secure_sum() const { return nullptr; }
};

// The checks every Aggregation::Add makes first: `contributor` is expected and not yet among
// `accepted`, and `weight` is finite and not negative. PermissionDenied, AlreadyExists or
// InvalidArgument naming the contributor.
absl::Status CheckContributor(const std::set<std::string>& expected,
                              const std::set<std::string>& accepted,
                              const std::string& contributor, double weight);

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual absl::StatusOr<std::unique_ptr<Aggregation>> Begin(const StepPlan& step) = 0;
};

// The coordinator sees every contributor's vector: no privacy. Only behind the explicit
// "insecure plain aggregation" setting.
class InsecurePlainAggregator final : public Aggregator {
 public:
  absl::StatusOr<std::unique_ptr<Aggregation>> Begin(const StepPlan& step) override;
};

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_AGGREGATION_H_
