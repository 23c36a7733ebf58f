// Counting a 10x fragments file into a reference peak set.
#ifndef FLSAILER_LIBS_DATA_FRAGMENTS_H_
#define FLSAILER_LIBS_DATA_FRAGMENTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

struct FragmentCountOptions {
  // Cells to count, in output order. Empty: every barcode seen, in order of first appearance.
  std::vector<std::string> allowlist;
};

// Reads fragments (chrom, start, end, barcode[, duplicate count]; tab-separated; 0-based
// half-open; "#" header lines and blank lines skipped) and counts, per barcode, the Tn5 insertion
// sites - both ends of each fragment, `start` and `end - 1` - that fall inside each reference peak
// (a fragment lying inside one peak adds 2, as in ArchR; a site inside overlapping peaks counts
// for each). Columns after the barcode are ignored: as in ArchR and Signac, the duplicate count
// does not weight a fragment. Fragments of barcodes not in the allow-list are skipped (their
// lines are checked all the same). Rejects malformed lines (missing columns, non-integer or
// negative coordinates, start >= end, empty chromosome or barcode), naming the line; also an input
// without fragments and an allow-list naming a barcode twice. The result's peaks are `peaks`, its
// rows are sorted and hold counts.
//
// Memory: while reading, about 12 bytes per distinct (cell, peak) pair for position-sorted files
// such as 10x's (unsorted input: up to one per insertion inside a peak), plus the barcode table;
// nothing for fragments outside peaks or of skipped barcodes. The result (8 bytes per non-zero)
// is then built beside them. Counts are floats, exact below 2^24.
absl::StatusOr<Dataset> CountFragments(LineReader& fragments, const std::vector<Peak>& peaks,
                                       const FragmentCountOptions& options = {});

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_FRAGMENTS_H_
