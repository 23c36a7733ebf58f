#include "libs/sampling/selection_bed.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"

namespace flsailer::sampling {
namespace {

// Shortest decimal that reads back as the same double.
std::string ExactDecimal(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

}  // namespace

std::vector<int64_t> ScoreRanks(const std::vector<double>& scores) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  std::vector<int64_t> rank(scores.size());
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = static_cast<int64_t>(i) + 1;
  return rank;
}

absl::StatusOr<std::string> FormatSelectionBed(const std::vector<data::Peak>& peaks,
                                               const std::vector<double>& scores,
                                               const std::vector<int32_t>& selected,
                                               absl::string_view description) {
  if (scores.size() != peaks.size()) {
    return absl::InvalidArgumentError(absl::StrCat(scores.size(), " scores for ", peaks.size(), " peaks"));
  }
  if (selected.empty()) return absl::InvalidArgumentError("no peak kept");
  for (int32_t j : selected) {
    if (j < 0 || static_cast<size_t>(j) >= peaks.size()) {
      return absl::InvalidArgumentError(absl::StrCat("peak index ", j, " out of range"));
    }
  }
  for (double s : scores) {
    if (std::isnan(s)) return absl::InvalidArgumentError("NaN score");
  }
  const std::vector<int64_t> rank = ScoreRanks(scores);
  const double top = *std::max_element(scores.begin(), scores.end());
  std::vector<data::Peak> kept;
  std::vector<std::string> columns;
  kept.reserve(selected.size());
  columns.reserve(selected.size());
  for (int32_t j : selected) {
    const long bed_score = top > 0 ? std::lround(1000 * std::max(0.0, scores[j]) / top) : 0;
    kept.push_back(peaks[j]);
    columns.push_back(absl::StrCat(data::PeakName(peaks[j]), "\t", bed_score, "\t.\t",
                                   ExactDecimal(scores[j]), "\t", rank[j]));
  }
  std::string header = absl::StrCat("# ", description, "\n");
  std::replace(header.begin(), header.end() - 1, '\n', ' ');
  header += "#chrom\tstart\tend\tname\tscore\tstrand\tselection_score\trank\n";
  return data::FormatBed(kept, columns, header);
}

absl::Status WriteSelectionBed(const std::string& path, const std::vector<data::Peak>& peaks,
                               const std::vector<double>& scores,
                               const std::vector<int32_t>& selected,
                               absl::string_view description) {
  absl::StatusOr<std::string> text = FormatSelectionBed(peaks, scores, selected, description);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", text.status().message()));
  }
  return WriteFileAtomically(path, *text);
}

}  // namespace flsailer::sampling
