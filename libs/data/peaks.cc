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
  bool first = true;
  while (reader.Next(&line)) {
    if (IsBlank(line) || line[0] == '#' || absl::StartsWith(line, "track") ||
        absl::StartsWith(line, "browser")) {
      continue;
    }
    const size_t n = line.find('\t') != absl::string_view::npos
                         ? SplitFields(line, '\t', fields, 4)
                         : SplitWhitespace(line, fields, 4);
    if (n == 1) {  // a list of peak names (chr1:100-200, chr1-100-200), as R and Python write
      absl::StatusOr<Peak> named = ParsePeakName(fields[0]);
      if (!named.ok()) {
        return reader.LineError(absl::StrCat(named.status().message(),
                                             "; expected chrom, start, end or a peak name"));
      }
      first = false;
      peaks.push_back(*std::move(named));
      continue;
    }
    if (n < 3) {
      return reader.LineError("expected at least 3 columns (chrom, start, end)");
    }
    Peak peak;
    // A first line of column names ("chrom start end", as data-frame writers put it) is skipped.
    const bool header = first && !ParseInt64(fields[1], &peak.start) &&
                        !ParseInt64(fields[2], &peak.end);
    first = false;
    if (header) continue;
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

absl::StatusOr<FeatureTable> ParseFeatures(LineReader& reader) {
  FeatureTable table;
  absl::string_view line;
  absl::string_view fields[6];
  while (reader.Next(&line)) {
    if (IsBlank(line)) return reader.LineError("empty line (every line is a matrix row)");
    const size_t n = SplitFields(line, '\t', fields, 6);
    const int64_t row = table.features++;
    if (n >= 3 && fields[2] != "Peaks") continue;  // genes of a multiome folder
    absl::StatusOr<Peak> peak = ParsePeakName(fields[0]);
    if (!peak.ok() && n == 6) {  // id is not a name: take the chrom, start, end columns
      Peak p{std::string(fields[3]), 0, 0};
      if (!p.chrom.empty() && ParseInt64(fields[4], &p.start) && ParseInt64(fields[5], &p.end) &&
          p.start >= 0 && p.start < p.end) {
        peak = std::move(p);
      }
    }
    if (!peak.ok()) {
      return reader.LineError(absl::StrCat("feature '", fields[0],
                                           "' is not a peak (chrom:start-end, or chrom, start "
                                           "and end in columns 4-6)"));
    }
    if (row >= INT32_MAX) return reader.LineError("more than 2^31-1 features");
    table.rows.push_back(static_cast<int32_t>(row));
    table.peaks.push_back(*std::move(peak));
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (table.peaks.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(reader.name(), ": no features of type 'Peaks' (not a scATAC-seq matrix?)"));
  }
  return table;
}

absl::StatusOr<FeatureTable> ReadFeatures(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseFeatures(*reader);
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
