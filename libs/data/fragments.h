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

// Reads fragments (chrom, start, end, barcode[, duplicate count]; 0-based half-open; "#" header
// lines skipped) and counts, per barcode, the Tn5 insertion sites - both ends of each fragment,
// `start` and `end - 1` - that fall inside each reference peak (a fragment lying inside one peak
// adds 2, as in ArchR; a site inside overlapping peaks counts for each). Fragments of barcodes not
// in the allow-list are skipped. Rejects malformed lines (missing columns, non-integer or negative
// coordinates, start >= end), naming the line. The result's peaks are `peaks`.
absl::StatusOr<Dataset> CountFragments(LineReader& fragments, const std::vector<Peak>& peaks,
                                       const FragmentCountOptions& options = {});

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_FRAGMENTS_H_
