// Synthetic scATAC-seq data with known cell types and institution (batch) effects.
#ifndef FLSAILER_LIBS_DATA_SIMULATE_H_
#define FLSAILER_LIBS_DATA_SIMULATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flsailer::data {

struct SimulationOptions {
  int64_t cells = 2000;              // total over all institutions
  int32_t peaks = 5000;
  int32_t cell_types = 5;
  int32_t institutions = 2;
  uint64_t seed = 1;
  // Fraction of peaks specific to each cell type (open mostly in that type).
  double type_specific_fraction = 0.05;
  // Mean fraction of peaks open per cell (density of the matrix), before batch effects.
  double density = 0.03;
  // Log-normal depth: sd of log(number of insertions) within an institution.
  double log_depth_sd = 0.5;
  // Institution effects. Depth: institution mean log depth ~ N(0, depth_shift_sd).
  double depth_shift_sd = 0.3;
  // Peak-wise accessibility distortion: each institution multiplies every peak's accessibility by
  // exp(N(0, distortion_sd)).
  double distortion_sd = 0.5;
  // Institution-specific noise peaks: this fraction of peaks is extra open in one institution.
  double noise_peak_fraction = 0.02;
  // Cell-type mix per institution ~ Dirichlet(mix_concentration); large = equal mixes.
  double mix_concentration = 2.0;
  // Output: one folder per institution (<out>/institution_<k>/) or one folder with a batch column.
  bool per_institution = false;
  bool gzip = true;  // matrix.mtx.gz instead of matrix.mtx
};

struct SimulationSummary {
  int64_t cells = 0;
  int64_t nnz = 0;
  std::vector<int64_t> cells_per_institution;
  std::vector<std::string> folders;  // the 10x folders written
};

// Writes 10x folders (matrix.mtx[.gz] peaks x cells, peaks.bed, barcodes.tsv, cell_metadata.tsv
// with cell_type, batch, depth) plus ground truth (truth_peaks.tsv: each peak's role - shared,
// specific to a cell type, or noise of an institution). Deterministic for a seed. Streams cell by
// cell: memory is O(peaks x cell types x institutions), independent of the number of cells.
absl::StatusOr<SimulationSummary> Simulate(const SimulationOptions& options,
                                           const std::string& out_dir);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_SIMULATE_H_
