#include "libs/federation/aggregation.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::federation {
namespace {

class PlainAggregation final : public Aggregation {
 public:
  PlainAggregation(int64_t length, std::set<std::string> expected)
      : expected_(std::move(expected)), sum_(static_cast<size_t>(length), 0.0) {}

  absl::Status Add(const std::string& contributor, absl::Span<const double> values,
                   double weight) override {
    FLS_RETURN_IF_ERROR(CheckContributor(expected_, contributors_, contributor, weight));
    if (values.size() != sum_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("'", contributor, "' sent ", values.size(),
                                                     " values, expected ", sum_.size()));
    }
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", contributor, "' sent a non-finite value at index ", i));
      }
    }
    for (size_t i = 0; i < values.size(); ++i) sum_[i] += values[i];
    total_weight_ += weight;
    contributors_.insert(contributor);
    return absl::OkStatus();
  }

  const std::set<std::string>& contributors() const override { return contributors_; }
  const std::set<std::string>& members() const override { return expected_; }

  absl::StatusOr<AggregateResult> Finish(absl::Duration) override {
    if (contributors_.empty()) {
      return absl::FailedPreconditionError("no contributor sent a vector to this aggregation");
    }
    AggregateResult result;
    result.sum = std::move(sum_);
    result.total_weight = total_weight_;
    result.contributors.assign(contributors_.begin(), contributors_.end());
    return result;
  }

 private:
  std::set<std::string> expected_;
  std::set<std::string> contributors_;
  std::vector<double> sum_;
  double total_weight_ = 0;
};

}  // namespace

absl::Status CheckContributor(const std::set<std::string>& expected,
                              const std::set<std::string>& accepted,
                              const std::string& contributor, double weight) {
  if (expected.count(contributor) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("'", contributor, "' is not a contributor of this aggregation"));
  }
  if (accepted.count(contributor) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("'", contributor, "' already contributed to this aggregation"));
  }
  if (!std::isfinite(weight) || weight < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", contributor, "' sent an invalid weight ", weight));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Aggregation>> InsecurePlainAggregator::Begin(
    const StepPlan& step) {
  if (step.length < 0) return absl::InvalidArgumentError("negative aggregation length");
  if (step.expected.empty()) {
    return absl::InvalidArgumentError("an aggregation needs contributors");
  }
  return std::make_unique<PlainAggregation>(step.length, step.expected);
}

}  // namespace flsailer::federation
