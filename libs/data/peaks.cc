#include "libs/data/peaks.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"

namespace flsailer::data {

absl::StatusOr<std::vector<Peak>> ParseBed(LineReader& reader) {
  std::vector<Peak> peaks;
  absl::string_view line;
  absl::string_view fields[4];
  while (reader.Next(&line)) {
    if (IsBlank(line) || line[0] == '#' || absl::StartsWith(line, "track") ||
        absl::StartsWith(line, "browser")) {
      continue;
    }
    const size_t n = line.find('\t') != absl::string_view::npos
                         ? SplitFields(line, '\t', fields, 4)
                         : SplitWhitespace(line, fields, 4);
    if (n < 3) {
      return reader.LineError("expected at least 3 columns (chrom, start, end)");
    }
    Peak peak;
    if (fields[0].empty()) return reader.LineError("empty chromosome name");
    if (!ParseInt64(fields[1], &peak.start) || !ParseInt64(fields[2], &peak.end)) {
      return reader.LineError(absl::StrCat("start and end must be integers, got '", fields[1],
                                           "' and '", fields[2], "'"));
    }
    if (peak.start < 0) return reader.LineError("negative start coordinate");
    if (peak.start >= peak.end) {
      return reader.LineError(
          absl::StrCat("start ", peak.start, " >= end ", peak.end, " (empty or inverted interval)"));
    }
    peak.chrom = std::string(fields[0]);
    peaks.push_back(std::move(peak));
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (peaks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": no peaks"));
  }
  if (peaks.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": too many peaks"));
  }
  return peaks;
}

absl::StatusOr<std::vector<Peak>> ReadBed(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseBed(*reader);
}

absl::StatusOr<std::string> FormatBed(const std::vector<Peak>& peaks,
                                      const std::vector<std::string>& extra_columns,
                                      absl::string_view header) {
  if (!extra_columns.empty() && extra_columns.size() != peaks.size()) {
    return absl::InvalidArgumentError(absl::StrCat(extra_columns.size(), " extra columns for ",
                                                   peaks.size(), " peaks"));
  }
  for (absl::string_view rest = header; !rest.empty();) {
    const size_t newline = rest.find('\n');
    if (rest[0] != '#' || newline == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "BED header lines must start with '#' and end in a newline");
    }
    rest.remove_prefix(newline + 1);
  }
  std::string text(header);
  for (size_t i = 0; i < peaks.size(); ++i) {
    absl::StrAppend(&text, peaks[i].chrom, "\t", peaks[i].start, "\t", peaks[i].end);
    if (!extra_columns.empty()) absl::StrAppend(&text, "\t", extra_columns[i]);
    text.push_back('\n');
  }
  return text;
}

absl::Status WriteBed(const std::string& path, const std::vector<Peak>& peaks,
                      const std::vector<std::string>& extra_columns, absl::string_view header) {
  absl::StatusOr<std::string> text = FormatBed(peaks, extra_columns, header);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", text.status().message()));
  return WriteFileAtomically(path, *text);
}

absl::StatusOr<Peak> ParsePeakName(absl::string_view name) {
  // The chromosome may itself contain '_' or '-' (chrUn_gl000220), so split at the last two
  // separators.
  const size_t end_sep = name.find_last_of("-_:");
  if (end_sep == absl::string_view::npos || end_sep == 0) {
    return absl::InvalidArgumentError(absl::StrCat("peak name '", name,
                                                   "' is not chrom:start-end"));
  }
  const size_t start_sep = name.find_last_of("-_:", end_sep - 1);
  if (start_sep == absl::string_view::npos || start_sep == 0) {
    return absl::InvalidArgumentError(absl::StrCat("peak name '", name,
                                                   "' is not chrom:start-end"));
  }
  Peak peak;
  peak.chrom = std::string(name.substr(0, start_sep));
  if (!ParseInt64(name.substr(start_sep + 1, end_sep - start_sep - 1), &peak.start) ||
      !ParseInt64(name.substr(end_sep + 1), &peak.end) || peak.start < 0 ||
      peak.start >= peak.end) {
    return absl::InvalidArgumentError(absl::StrCat("peak name '", name,
                                                   "' has no valid start < end coordinates"));
  }
  return peak;
}

std::string PeakName(const Peak& peak) {
  return absl::StrCat(peak.chrom, ":", peak.start, "-", peak.end);
}

}  // namespace flsailer::data
