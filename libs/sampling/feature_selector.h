// Adaptive leverage-score feature selection with versioned selections (DESIGN.md §2, Phase 1,
// "Adaptive"): the server-side state a federated coordinator keeps between training rounds.
//
// The selector never sees a cell. It is driven by sums, exactly as in subspace.h:
//
//   clients: LocalTfIdfSums(A_k)              server: FeatureSelector::Create(sum)  -> version 0
//   clients: T_k = tfidf().Transform(A_k)                                            estimate
//   while estimating():                                                              begins
//     clients: LocalSubspaceSums(T_k, basis())   server: Update(sum)
//   ... training rounds; when RefreshDue(rounds) ...
//   server: BeginRefresh()  (warm start from the last subspace, fewer power iterations)
//   while estimating(): as above                                                -> version v+1
//
// Every finished estimate publishes a new FeatureSelection whose new_to_old is what
// InvariantVae::RemapInputFeatures consumes. RunEstimate below plays the clients' part in
// process, so the centralised path (`flsailer select-features`) is this code with one client.
#ifndef FLSAILER_LIBS_SAMPLING_FEATURE_SELECTOR_H_
#define FLSAILER_LIBS_SAMPLING_FEATURE_SELECTOR_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/csr_matrix.h"
#include "libs/sampling/leverage.h"
#include "libs/sampling/subspace.h"
#include "libs/sampling/tfidf.h"

namespace flsailer::sampling {

struct FeatureSelectorOptions {
  TfIdfOptions tfidf;        // DESIGN.md's IDF log(1 + N / df) by default
  SubspaceOptions subspace;  // rank k, oversampling, power iterations and seed of version 0
  // Power iterations of a refresh. A refresh starts from the previous subspace, which is already
  // close, so it needs far fewer than a cold start (see feature_selector_test.cc).
  int32_t refresh_power_iterations = 2;
  // R: a refresh is due after every R finished training rounds; 0 = never (a fixed selection).
  int32_t refresh_interval = 10;
  // Rate and top/sample. With kSample every version draws the same uniform number for a peak,
  // so a version differs from the previous one only where the scores moved.
  SelectionOptions selection;
  // Lower subspace.rank to what the data allow instead of failing: to the sums' cells and open
  // peaks, then to the rank the estimate finds (empty or repeated cells lower it further). Set
  // for a default rank, so that a job on fewer cells than it still runs.
  bool rank_at_most_data = false;
};

// One published selection.
struct FeatureSelection {
  int32_t version = 0;
  std::vector<int32_t> peaks;           // kept peak indices, ascending: the model's input order
  std::vector<double> scores;           // leverage score of every peak (they sum to 1);
                                        // exactly 0 for peaks open in no cell
  std::vector<double> singular_values;  // top k of the TF-IDF matrix, descending; fewer when
                                        // rank_at_most_data lowered k to the data's rank
  int32_t power_iterations = 0;         // used by the estimate that produced this version
  // new_to_old[j]: index into the previous version's `peaks` of peaks[j], or -1 for a peak the
  // previous version did not keep (version 0: all -1). Sized like `peaks`.
  std::vector<int32_t> new_to_old;
};

// For two ascending peak lists: for each entry of `new_peaks`, its position in `old_peaks`, or -1.
std::vector<int32_t> NewToOldIndices(const std::vector<int32_t>& old_peaks,
                                     const std::vector<int32_t>& new_peaks);

// Server side of adaptive selection. A movable value; not thread-safe.
class FeatureSelector {
 public:
  // `sums`: the secure sum of every institution's LocalTfIdfSums (institutions without cells
  // contribute nothing). Begins the estimate of version 0. Errors: no cells at all, no peak open
  // in any cell, NaN or inconsistent sums (TfIdf::FromSums), rank k above the number of cells or
  // of open peaks, and bad options.
  static absl::StatusOr<FeatureSelector> Create(const TfIdfSums& sums,
                                                const FeatureSelectorOptions& options);

  // What every client applies to its rows before computing subspace sums.
  const TfIdf& tfidf() const { return tfidf_; }
  int64_t peaks() const { return static_cast<int64_t>(tfidf_.idf().size()); }

  // True while an estimate waits for sums; clients then compute LocalSubspaceSums(T_k, basis()).
  bool estimating() const { return iteration_.has_value(); }
  // REQUIRES: estimating().
  const RowMatrix& basis() const { return iteration_->basis(); }

  // Consumes the summed subspace sums for basis(). Sums of the wrong shape or with NaN/Inf are
  // rejected and leave the estimate where it was (the round can be repeated). When the estimate
  // completes, a new version becomes current() - unless the TF-IDF matrix has rank below k
  // (the k-th singular value under 1e-8 of the first) and rank_at_most_data is off, which fails
  // the estimate with the rank it found; the previous version then stays current.
  absl::Status Update(const SubspaceSums& summed);

  // Whether a refresh is due once `rounds_done` training rounds have finished.
  bool RefreshDue(int64_t rounds_done) const;
  // Begins the estimate of the next version, warm-started from the current version's subspace
  // with refresh_power_iterations power steps. FailedPrecondition while estimating or before
  // version 0 exists.
  absl::Status BeginRefresh();

  // The subspace of the last finished estimate: what a refresh warm-starts from.
  const RowMatrix& subspace() const { return subspace_; }

  // A selector at rest, rebuilt from a checkpoint: the same sums and options, the published
  // selection and its subspace (as current() and subspace() returned them). InvalidArgument when
  // they do not fit together (peak counts, shapes, indices).
  static absl::StatusOr<FeatureSelector> Restore(const TfIdfSums& sums,
                                                 const FeatureSelectorOptions& options,
                                                 FeatureSelection current, RowMatrix subspace);

  bool has_selection() const { return current_.has_value(); }
  // REQUIRES: has_selection().
  const FeatureSelection& current() const { return *current_; }

 private:
  FeatureSelectorOptions options_;
  TfIdf tfidf_;
  std::optional<SubspaceIteration> iteration_;
  int32_t iteration_power_steps_ = 0;  // of the estimate in progress
  RowMatrix subspace_;                 // basis of the last finished estimate (warm start)
  std::optional<FeatureSelection> current_;
};

// Runs the selector's estimate in progress to its end with the TF-IDF rows of every client
// (tfidf().Transform of each institution's matrix), summed by SumLocalSubspaceSums. With one
// client this is the centralised computation. FailedPrecondition when nothing is being estimated.
absl::Status RunEstimate(FeatureSelector* selector,
                         const std::vector<const data::CsrMatrix*>& tfidf_clients,
                         int threads = 1);

// The centralised selection of `x` (cells x peaks, binarised): version 0 of a selector over all
// its cells, i.e. the federated computation with one client holding every cell. Errors: those
// of FeatureSelector::Create and of the estimate.
absl::StatusOr<FeatureSelection> SelectCentrally(const data::CsrMatrix& x,
                                                 const FeatureSelectorOptions& options,
                                                 int threads = 1);

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_FEATURE_SELECTOR_H_
