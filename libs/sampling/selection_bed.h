// The kept peaks as a BED file, with their selection scores and ranks (the interpretable output of
// feature selection, DESIGN.md §2 and §3 "the selected peaks (BED with scores)").
//
// Layout: BED6+2, one line per kept peak in the order of the selection (ascending peak index,
// i.e. the model's input order), after '#' header lines (which data::ParseBed, bedtools and genome
// browsers skip):
//   1 chrom  2 start  3 end  4 name (chrom:start-end)
//   5 score  BED's integer 0-1000: round(1000 x selection score / the largest score of all peaks)
//   6 strand "." (peaks are unstranded)
//   7 selection score, exact (shortest round-trip decimal; leverage scores sum to 1 over all peaks)
//   8 rank   1 = highest score among all peaks, ties to the lower peak index
// Read back by data::ReadBed (first three columns) and usable as `--reference` everywhere.
#ifndef FLSAILER_LIBS_SAMPLING_SELECTION_BED_H_
#define FLSAILER_LIBS_SAMPLING_SELECTION_BED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/data/peaks.h"

namespace flsailer::sampling {

// Rank of every score: 1 for the highest, ties to the lower index. REQUIRES: no NaN.
std::vector<int64_t> ScoreRanks(const std::vector<double>& scores);

// The BED text of `selected` (indices into `peaks` and `scores`, which have one entry per peak).
// `description` becomes the first header line (method, rate, version...). Errors: sizes that
// disagree, an index out of range, no peak selected, a NaN score.
absl::StatusOr<std::string> FormatSelectionBed(const std::vector<data::Peak>& peaks,
                                               const std::vector<double>& scores,
                                               const std::vector<int32_t>& selected,
                                               absl::string_view description);
// FormatSelectionBed written to `path` atomically (gzip if it ends in .gz); errors name the path.
absl::Status WriteSelectionBed(const std::string& path, const std::vector<data::Peak>& peaks,
                               const std::vector<double>& scores,
                               const std::vector<int32_t>& selected,
                               absl::string_view description);

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_SELECTION_BED_H_
