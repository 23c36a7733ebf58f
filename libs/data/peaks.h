// Genomic peaks (the columns of a cells x peaks matrix): BED input/output and peak names.
#ifndef FLSAILER_LIBS_DATA_PEAKS_H_
#define FLSAILER_LIBS_DATA_PEAKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/common/file_io.h"

namespace flsailer::data {

// A genomic interval, 0-based half-open [start, end) as in BED.
struct Peak {
  std::string chrom;
  int64_t start = 0;
  int64_t end = 0;

  bool operator==(const Peak& o) const {
    return start == o.start && end == o.end && chrom == o.chrom;
  }
};

// Parses BED: tab- or space-separated chrom, start, end (further columns ignored); blank lines,
// "#", "track" and "browser" lines, and a first line of column names (start and end not numbers)
// skipped. A line of one field is a peak name (see ParsePeakName), so a list of names reads too. Rejects start >= end, negative or non-integer
// coordinates, and missing columns, naming the line. An empty peak set is an error.
absl::StatusOr<std::vector<Peak>> ParseBed(LineReader& reader);
absl::StatusOr<std::vector<Peak>> ReadBed(const std::string& path);

// The peaks of a 10x features.tsv (Cell Ranger ARC folders; one line per matrix row: id, name,
// type, optionally chrom, start, end). Rows with a type other than "Peaks" (genes) are left out;
// a file without a type column lists peaks only. A peak is its id ("chr1:100-200", as ARC writes
// it) or else columns 4-6. Errors name the line: a peak that is neither, a blank line, no peaks.
struct FeatureTable {
  std::vector<Peak> peaks;
  std::vector<int32_t> rows;  // the matrix row (feature index) of each peak, increasing
  int64_t features = 0;       // lines read: the matrix's number of feature rows
};
absl::StatusOr<FeatureTable> ParseFeatures(LineReader& reader);
absl::StatusOr<FeatureTable> ReadFeatures(const std::string& path);

// BED text: chrom, start, end (+ optional per-peak extra columns, already tab-joined) after
// `header` verbatim (lines that start with '#', each ending in '\n', so that ParseBed skips them).
// Errors: extra columns for a different number of peaks, a header line without '#'.
absl::StatusOr<std::string> FormatBed(const std::vector<Peak>& peaks,
                                      const std::vector<std::string>& extra_columns = {},
                                      absl::string_view header = "");
// FormatBed written atomically to `path` (gzip if it ends in .gz).
absl::Status WriteBed(const std::string& path, const std::vector<Peak>& peaks,
                      const std::vector<std::string>& extra_columns = {},
                      absl::string_view header = "");

// "chr1:100-200" (the form used here), also accepting "chr1-100-200" and "chr1_100_200"
// as written by Signac, ArchR and scMoMaT. Coordinates are taken as BED (0-based start).
absl::StatusOr<Peak> ParsePeakName(absl::string_view name);
std::string PeakName(const Peak& peak);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_PEAKS_H_
