#include "libs/sampling/feature_selector.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::sampling {
namespace {

// Below this fraction of the largest singular value a direction is noise of the iteration, not
// of the data: its Ritz vector is arbitrary and would hand leverage to arbitrary peaks.
constexpr double kRankTolerance = 1e-8;

}  // namespace

std::vector<int32_t> NewToOldIndices(const std::vector<int32_t>& old_peaks,
                                     const std::vector<int32_t>& new_peaks) {
  std::vector<int32_t> new_to_old(new_peaks.size(), -1);
  size_t o = 0;
  for (size_t n = 0; n < new_peaks.size(); ++n) {
    while (o < old_peaks.size() && old_peaks[o] < new_peaks[n]) ++o;
    if (o < old_peaks.size() && old_peaks[o] == new_peaks[n]) {
      new_to_old[n] = static_cast<int32_t>(o);
    }
  }
  return new_to_old;
}

absl::StatusOr<FeatureSelector> FeatureSelector::Create(const TfIdfSums& sums,
                                                        const FeatureSelectorOptions& options) {
  if (!(options.selection.rate > 0 && options.selection.rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature selection: rate ", options.selection.rate, " is not in (0, 1]"));
  }
  if (options.refresh_power_iterations < 0 || options.refresh_interval < 0) {
    return absl::InvalidArgumentError(
        "feature selection: refresh power iterations and interval must be >= 0");
  }
  FeatureSelector selector;
  selector.options_ = options;
  FLS_ASSIGN_OR_RETURN(selector.tfidf_, TfIdf::FromSums(sums, options.tfidf));
  const int64_t open_peaks = std::count_if(sums.document_frequency.begin(),
                                           sums.document_frequency.end(),
                                           [](double df) { return df > 0; });
  if (open_peaks == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature selection: none of the ", sums.document_frequency.size(),
                     " peaks is open in any of the ", sums.cells, " cells"));
  }
  if (options.rank_at_most_data) {
    selector.options_.subspace.rank = static_cast<int32_t>(
        std::max<int64_t>(1, std::min<int64_t>({options.subspace.rank, sums.cells, open_peaks})));
  }
  const int64_t rank = selector.options_.subspace.rank;
  if (rank > sums.cells || rank > open_peaks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feature selection: rank ", rank, " exceeds the rank the data can have (", sums.cells,
        " cells, ", open_peaks, " peaks open in any cell)"));
  }
  FLS_ASSIGN_OR_RETURN(SubspaceIteration start,
                       SubspaceIteration::Start(selector.peaks(), selector.options_.subspace));
  selector.iteration_ = std::move(start);
  selector.iteration_power_steps_ = options.subspace.power_iterations;
  return selector;
}

absl::StatusOr<FeatureSelector> FeatureSelector::Restore(const TfIdfSums& sums,
                                                         const FeatureSelectorOptions& options,
                                                         FeatureSelection current,
                                                         RowMatrix subspace) {
  FLS_ASSIGN_OR_RETURN(FeatureSelector selector, Create(sums, options));
  const int64_t p = selector.peaks();
  if (static_cast<int64_t>(current.scores.size()) != p || subspace.rows() != p ||
      subspace.cols() < 1 || current.peaks.empty() ||
      current.new_to_old.size() != current.peaks.size()) {
    return absl::InvalidArgumentError("feature selection: a checkpoint that does not fit the sums");
  }
  for (size_t j = 0; j < current.peaks.size(); ++j) {
    if (current.peaks[j] < 0 || current.peaks[j] >= p ||
        (j > 0 && current.peaks[j] <= current.peaks[j - 1])) {
      return absl::InvalidArgumentError("feature selection: checkpoint peaks are not ascending");
    }
  }
  selector.iteration_.reset();
  selector.subspace_ = std::move(subspace);
  selector.current_ = std::move(current);
  return selector;
}

absl::Status FeatureSelector::Update(const SubspaceSums& summed) {
  if (!estimating()) {
    return absl::FailedPreconditionError("feature selection: no estimate in progress");
  }
  FLS_RETURN_IF_ERROR(iteration_->Update(summed));
  if (!iteration_->done()) return absl::OkStatus();

  SubspaceIteration finished = std::move(*iteration_);
  iteration_.reset();
  const std::vector<double>& sigma = finished.singular_values();
  const auto rank = std::count_if(sigma.begin(), sigma.end(), [&](double s) {
    return s > kRankTolerance * sigma.front();
  });
  const bool rank_deficient = rank < static_cast<int64_t>(sigma.size());
  if (rank == 0 || (rank_deficient && !options_.rank_at_most_data)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "feature selection: the TF-IDF matrix has rank ", rank, ", below the requested rank ",
        options_.subspace.rank, "; lower the rank"));
  }
  if (rank_deficient) {
    // A default rank meets data of lower rank (empty or repeated cells): the leading Ritz vectors
    // span all the data has; the rest are noise. Refreshes estimate this rank from now on.
    options_.subspace.rank = static_cast<int32_t>(rank);
  }
  FeatureSelection next;
  next.version = current_ ? current_->version + 1 : 0;
  next.scores = LeverageScores(finished.right_vectors().leftCols(rank));
  // A peak open in no cell has an empty column, so its exact score is 0; the iteration leaves
  // rounding residue there, which must not rank it above a real peak.
  for (size_t j = 0; j < next.scores.size(); ++j) {
    if (tfidf_.idf()[j] == 0) next.scores[j] = 0;
  }
  FLS_ASSIGN_OR_RETURN(next.peaks, SelectPeaks(next.scores, options_.selection));
  next.singular_values.assign(sigma.begin(), sigma.begin() + rank);
  next.power_iterations = iteration_power_steps_;
  next.new_to_old = current_ ? NewToOldIndices(current_->peaks, next.peaks)
                             : std::vector<int32_t>(next.peaks.size(), -1);
  subspace_ = finished.basis();
  current_ = std::move(next);
  return absl::OkStatus();
}

bool FeatureSelector::RefreshDue(int64_t rounds_done) const {
  return options_.refresh_interval > 0 && rounds_done > 0 &&
         rounds_done % options_.refresh_interval == 0;
}

absl::Status FeatureSelector::BeginRefresh() {
  if (estimating()) {
    return absl::FailedPreconditionError("feature selection: an estimate is already in progress");
  }
  if (!current_) {
    return absl::FailedPreconditionError("feature selection: no version to refresh yet");
  }
  SubspaceOptions refresh = options_.subspace;
  refresh.power_iterations = options_.refresh_power_iterations;
  // Fresh columns are only drawn when the basis is narrower than l; give each version its own.
  refresh.seed = options_.subspace.seed + static_cast<uint64_t>(current_->version) + 1;
  FLS_ASSIGN_OR_RETURN(SubspaceIteration warm, SubspaceIteration::WarmStart(subspace_, refresh));
  iteration_ = std::move(warm);
  iteration_power_steps_ = refresh.power_iterations;
  return absl::OkStatus();
}

absl::Status RunEstimate(FeatureSelector* selector,
                         const std::vector<const data::CsrMatrix*>& tfidf_clients, int threads) {
  if (!selector->estimating()) {
    return absl::FailedPreconditionError("feature selection: no estimate in progress");
  }
  while (selector->estimating()) {
    FLS_ASSIGN_OR_RETURN(SubspaceSums summed,
                         SumLocalSubspaceSums(tfidf_clients, selector->basis(), threads));
    FLS_RETURN_IF_ERROR(selector->Update(summed));
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureSelection> SelectCentrally(const data::CsrMatrix& x,
                                                 const FeatureSelectorOptions& options,
                                                 int threads) {
  FLS_ASSIGN_OR_RETURN(FeatureSelector selector,
                       FeatureSelector::Create(LocalTfIdfSums(x), options));
  FLS_ASSIGN_OR_RETURN(const data::CsrMatrix tfidf, selector.tfidf().Transform(x));
  FLS_RETURN_IF_ERROR(RunEstimate(&selector, {&tfidf}, threads));
  return selector.current();
}

}  // namespace flsailer::sampling
