// Synthetic scATAC-seq data with known cell types and institution (batch) effects.
//
// The generative model (every draw below comes from the seed; see "Determinism"):
//
//   Peaks. P peaks of 500 bp on chr1..chr22 (fewer chromosomes when P < 22), irregularly spaced
//   (Exponential gaps of mean 10 kb between them). Base accessibility a_j ~ LogNormal(0, 1): heavy
//   tailed, so a few peaks are open in most cells and most peaks in few. Each peak has one role,
//   assigned at random positions: specific to one cell type (type_specific_fraction of the peaks
//   per type), a noise peak of one institution (noise_peak_fraction of the peaks per
//   institution), or shared.
//
//   Institutions. Institution k holds an equal share of the cells (the first ones get one more
//   when the split is uneven) and has a peak-wise distortion exp(N(0, distortion_sd)) multiplying
//   every peak, its noise peaks multiplied by noise_peak_boost, a mean log-depth shift
//   s_k ~ N(0, depth_shift_sd), and a cell-type mix pi_k ~ Dirichlet(mix_concentration).
//
//   Cells. A cell of institution k has type t ~ pi_k and draws d insertions,
//   log d ~ N(mu + s_k, log_depth_sd) (rounded, at least 1), from the categorical over peaks
//   p_j proportional to a_j * distortion_kj * [noise boost] * [type_specific_boost if j is
//   specific to t]. Its counts are the numbers of insertions per peak (a multinomial). mu is
//   solved for so that the expected density of the whole matrix equals `density`.
//
// Output. Each folder is a 10x folder that LoadDataset reads: matrix.mtx[.gz] (peaks x cells,
// "integer general", sorted by cell), peaks.bed, barcodes.tsv, and cell_metadata.tsv with
// columns barcode, cell_type ("type_<t>"), batch ("institution_<k>") and depth (d, the cell's
// total count). The ground truth goes to out_dir: truth_peaks.tsv (peak_index (0-based column),
// peak_name, role: "shared", "type:type_<t>" or "noise:institution_<k>") and
// truth_institutions.tsv (institution, cells, mean_log_depth = mu + s_k, and pi_k as one column
// per cell type). Every file is written atomically.
//
// Determinism. Each cell's randomness comes from a generator seeded by (seed, global cell index)
// alone, so a seed gives byte-identical files, and the per-institution layout holds exactly the
// cells of the combined layout, split by institution.
//
// Cost. Memory is O(peaks x cell types) (the sampling tables of one institution) plus fixed
// buffers, independent of the number of cells: the matrix body streams to a temporary file and
// is appended after the header once the number of entries is known. Time is O(total depth).
#ifndef FLSAILER_LIBS_DATA_SIMULATE_H_
#define FLSAILER_LIBS_DATA_SIMULATE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace flsailer::data {

struct SimulationOptions {
  int64_t cells = 2000;  // total over all institutions
  int32_t peaks = 5000;
  int32_t cell_types = 5;
  int32_t institutions = 2;
  uint64_t seed = 1;
  // Fraction of peaks specific to each cell type (open mostly in that type).
  double type_specific_fraction = 0.05;
  // How much more accessible a type-specific peak is in its own type than elsewhere.
  double type_specific_boost = 10.0;
  // Expected fraction of peaks open per cell over the whole output (the matrix density, batch
  // effects included); the mean depth is solved for it. At least 1/peaks (every cell has a count).
  double density = 0.03;
  // Log-normal depth: sd of log(number of insertions) within an institution.
  double log_depth_sd = 0.5;
  // Institution effects. Depth: institution mean log depth ~ N(0, depth_shift_sd).
  double depth_shift_sd = 0.3;
  // Peak-wise accessibility distortion: each institution multiplies every peak's accessibility by
  // exp(N(0, distortion_sd)).
  double distortion_sd = 0.5;
  // Institution-specific noise peaks: this fraction of peaks (per institution) is extra open in
  // one institution, by noise_peak_boost.
  double noise_peak_fraction = 0.02;
  double noise_peak_boost = 5.0;
  // Cell-type mix per institution ~ Dirichlet(mix_concentration); large = equal mixes.
  double mix_concentration = 2.0;
  // Output: one folder per institution (<out>/institution_<k>/) or one folder with a batch column.
  bool per_institution = false;
  bool gzip = true;  // matrix.mtx.gz instead of matrix.mtx
  // Called every few hundred cells and at the end with the cells and non-zeros written so far.
  std::function<void(int64_t cells_done, int64_t nnz_done)> progress;
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
// cell: memory is O(peaks x cell types), independent of the number of cells.
// out_dir (and its parents) are created as needed. Invalid options are an InvalidArgument error
// reported before anything is written.
absl::StatusOr<SimulationSummary> Simulate(const SimulationOptions& options,
                                           const std::string& out_dir);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_SIMULATE_H_
