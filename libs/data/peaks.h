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

// Parses BED: tab- or space-separated chrom, start, end (further columns ignored); blank lines and
// "#", "track" and "browser" lines skipped. Rejects start >= end, negative or non-integer
// coordinates, and missing columns, naming the line. An empty peak set is an error.
absl::StatusOr<std::vector<Peak>> ParseBed(LineReader& reader);
absl::StatusOr<std::vector<Peak>> ReadBed(const std::string& path);

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
