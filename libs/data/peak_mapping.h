// Interval-overlap queries on a peak set and re-mapping of a matrix onto a reference peak set.
#ifndef FLSAILER_LIBS_DATA_PEAK_MAPPING_H_
#define FLSAILER_LIBS_DATA_PEAK_MAPPING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/peaks.h"

namespace flsailer::data {

// Answers "which peaks overlap this interval / contain this position" in O(log n + hits).
// Peaks may overlap each other and come in any order. Immutable after construction: safe to
// share between threads.
class PeakIndex {
 public:
  explicit PeakIndex(const std::vector<Peak>& peaks);

  // Appends to *out the indices (into the constructor's vector) of peaks overlapping
  // [start, end); *out is cleared first.
  void Overlapping(absl::string_view chrom, int64_t start, int64_t end,
                   std::vector<int32_t>* out) const;
  // Same, for peaks containing the single base `pos`.
  void Containing(absl::string_view chrom, int64_t pos, std::vector<int32_t>* out) const {
    Overlapping(chrom, pos, pos + 1, out);
  }

 private:
  struct Chromosome;
  std::vector<Chromosome> chroms_;  // sorted by name
  const Chromosome* Find(absl::string_view chrom) const;
};

struct PeakMappingStats {
  int64_t source_peaks = 0;
  int64_t source_peaks_mapped = 0;      // overlapping at least one reference peak
  int64_t reference_peaks = 0;
  int64_t reference_peaks_covered = 0;  // overlapped by at least one source peak
  double fraction_of_counts_kept = 0;   // counts on mapped peaks / all counts
};

// Re-expresses `m` (cells x source_peaks) on `reference`: each reference peak receives the sum of
// the values of the source peaks overlapping it (a source peak overlapping two reference peaks
// counts for both). Identical peak sets return the matrix unchanged.
absl::StatusOr<CsrMatrix> MapToReference(const CsrMatrix& m, const std::vector<Peak>& source_peaks,
                                         const std::vector<Peak>& reference,
                                         PeakMappingStats* stats = nullptr);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_PEAK_MAPPING_H_
