#include "services/coordinator/secure_aggregator.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/federation/secure_sum.h"
#include "services/aggregator/secagg_client.h"

namespace flsailer::coordinator {
namespace {

class SecureAggregation final : public federation::Aggregation {
 public:
  // `plan.expected` holds the round's members.
  SecureAggregation(federation::StepPlan plan, federation::SecureSumTask task,
                    secagg::RoundContext context, std::shared_ptr<grpc::Channel> channel)
      : plan_(std::move(plan)),
        task_(std::move(task)),
        context_(std::move(context)),
        channel_(std::move(channel)) {}

  absl::Status Add(const std::string& contributor, absl::Span<const double> values,
                   double weight) override {
    FLS_RETURN_IF_ERROR(
        federation::CheckContributor(plan_.expected, acknowledged_, contributor, weight));
    if (!values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", contributor, "' sent ", values.size(), " values to the coordinator; step ",
          plan_.step_id, " is summed securely: values go to the aggregator, the coordinator "
          "takes only an acknowledgement"));
    }
    acknowledged_.insert(contributor);
    return absl::OkStatus();
  }

  const std::set<std::string>& contributors() const override { return acknowledged_; }
  const std::set<std::string>& members() const override { return plan_.expected; }

  absl::StatusOr<federation::AggregateResult> Finish(absl::Duration wait) override {
    absl::StatusOr<aggregator::RoundResult> round =
        aggregator::GetRoundResult(channel_, context_, plan_.length, wait);
    if (absl::IsDeadlineExceeded(round.status())) {
      return absl::UnavailableError(
          absl::StrCat("the secure sum of step ", plan_.step_id, " is still running"));
    }
    if (!round.ok()) {
      return absl::Status(round.status().code(),
                          absl::StrCat("the aggregator: ", round.status().message()));
    }
    if (!round->sum.ok()) {
      return absl::AbortedError(absl::StrCat("the secure sum was aborted: ",
                                             round->sum.status().message()));
    }
    if (round->contributors.empty()) {
      return absl::FailedPreconditionError("no contributor completed the secure sum");
    }
    if (static_cast<int64_t>(round->sum->size()) != plan_.length) {
      return absl::DataLossError(absl::StrCat("the aggregator returned ", round->sum->size(),
                                              " values, expected ", plan_.length));
    }
    federation::AggregateResult result;
    result.sum = std::move(*round->sum);
    for (double& v : result.sum) v *= task_.divisor;
    result.total_weight = round->total_weight;
    result.contributors = std::move(round->contributors);
    std::sort(result.contributors.begin(), result.contributors.end());
    return result;
  }

  const federation::SecureSumTask* secure_sum() const override { return &task_; }

 private:
  const federation::StepPlan plan_;
  const federation::SecureSumTask task_;
  const secagg::RoundContext context_;
  const std::shared_ptr<grpc::Channel> channel_;
  std::set<std::string> acknowledged_;
};

}  // namespace

SecureAggregator::SecureAggregator(std::string job_id, SecureAggregationOptions options,
                                   absl::Duration stage_timeout)
    : job_id_(std::move(job_id)), options_(std::move(options)), stage_timeout_(stage_timeout) {}

absl::StatusOr<std::unique_ptr<federation::Aggregation>> SecureAggregator::Begin(
    const federation::StepPlan& step) {
  federation::StepPlan round = step;
  round.expected = federation::SecureSumMembers(step);
  FLS_ASSIGN_OR_RETURN(federation::SecureSumTask task,
                       federation::PlanSecureSum(round, options_.address));
  secagg::RoundContext context{job_id_, static_cast<uint64_t>(step.step_id)};
  const std::vector<std::string> institutions(round.expected.begin(), round.expected.end());
  absl::Status opened = aggregator::OpenRound(options_.channel, context, institutions, task.config,
                                              stage_timeout_);
  if (!opened.ok()) {
    return absl::Status(opened.code(), absl::StrCat("the aggregator at ", options_.address,
                                                    " did not open the secure sum of step ",
                                                    step.step_id, ": ", opened.message()));
  }
  return std::make_unique<SecureAggregation>(std::move(round), std::move(task),
                                             std::move(context), options_.channel);
}

}  // namespace flsailer::coordinator
