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

// Answers "which peaks overlap this interval / contain this position". Peaks may overlap each
// other and come in any order. Per chromosome, peaks are sorted by start; a chromosome whose peaks
// are pairwise disjoint (the usual case: 10x, MACS2 and ArchR peak sets) is answered by binary
// search in O(log n + hits), any other by an implicit interval tree augmented with the largest
// end of each subtree, in O(log n + hits) typically and O((hits + 1) log n) at worst.
// Immutable after construction: safe to share between threads.
class PeakIndex {
 public:
  // REQUIRES: peaks.size() <= INT32_MAX (indices are 32-bit, as CsrMatrix columns).
  explicit PeakIndex(const std::vector<Peak>& peaks);
  ~PeakIndex();
  PeakIndex(PeakIndex&&) noexcept;
  PeakIndex& operator=(PeakIndex&&) noexcept;

  // Appends to *out the indices (into the constructor's vector) of peaks overlapping
  // [start, end); *out is cleared first.
  void Overlapping(absl::string_view chrom, int64_t start, int64_t end,
                   std::vector<int32_t>* out) const;
  // Same, for peaks containing the single base `pos`.
  void Containing(absl::string_view chrom, int64_t pos, std::vector<int32_t>* out) const {
    Overlapping(chrom, pos, pos + 1, out);
  }

  // Handle of `chrom` for the calls below, or -1 if no peak lies on it. Lets callers that query
  // one chromosome many times in a row (position-sorted fragment files) look its name up once.
  int32_t ChromosomeId(absl::string_view chrom) const;
  // Overlapping() / Containing() on the chromosome with handle `chrom_id` (-1: no peaks).
  void OverlappingOn(int32_t chrom_id, int64_t start, int64_t end, std::vector<int32_t>* out) const;
  void ContainingOn(int32_t chrom_id, int64_t pos, std::vector<int32_t>* out) const {
    OverlappingOn(chrom_id, pos, pos + 1, out);
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
  double fraction_of_counts_kept = 0;   // counts on mapped peaks / all counts (1 if no counts)
};

// Re-expresses `m` (cells x source_peaks) on `reference`: each reference peak receives the sum of
// the values of the source peaks overlapping it (a source peak overlapping two reference peaks
// counts for both). A binary matrix stays binary: a reference peak is open in a cell when any
// source peak overlapping it is (a logical OR, not a sum). Identical peak sets return the matrix
// unchanged. Errors: m.cols != source_peaks.size(), an invalid `m`, more than INT32_MAX peaks.
absl::StatusOr<CsrMatrix> MapToReference(const CsrMatrix& m, const std::vector<Peak>& source_peaks,
                                         const std::vector<Peak>& reference,
                                         PeakMappingStats* stats = nullptr);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_PEAK_MAPPING_H_
