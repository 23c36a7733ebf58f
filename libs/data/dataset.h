// libs/data public entry point: one institution's single-cell ATAC-seq data, loaded from any
// supported input format, and the per-institution result file.
#ifndef FLSAILER_LIBS_DATA_DATASET_H_
#define FLSAILER_LIBS_DATA_DATASET_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/cell_table.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/peaks.h"

namespace flsailer::data {

// A dense row-major matrix (cells x dims), e.g. an embedding.
struct DenseMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows * cols, row-major
};

// Cells x peaks counts with their names and per-cell annotations.
// Invariants (checked by Validate): barcodes.size() == matrix.rows, peaks.size() == matrix.cols,
// metadata columns and obsm matrices have one row per cell.
struct Dataset {
  CsrMatrix matrix;
  std::vector<std::string> barcodes;
  std::vector<Peak> peaks;
  CellMetadata metadata;
  std::map<std::string, DenseMatrix> obsm;  // per-cell embeddings (written to .h5ad obsm)
  std::string source;                       // where it was read from, for messages

  absl::Status Validate() const;
};

enum class InputFormat {
  kAuto,         // decide from the path (see DetectInputFormat)
  kTenxFolder,   // folder with matrix.mtx[.gz], barcodes.tsv[.gz] and peaks.bed[.gz] or
                 // (Cell Ranger ARC) features.tsv[.gz], whose "Peaks" rows are kept
  kTenxH5,       // Cell Ranger (ATAC/ARC) .h5
  kH5ad,         // AnnData .h5ad, X as csr_matrix, csc_matrix or dense
  kFragments,    // 10x fragments.tsv.gz counted into LoadOptions::reference_bed
};

// Folder -> kTenxFolder, *.h5ad -> kH5ad, *.h5 -> kTenxH5, *fragments*.tsv[.gz] -> kFragments.
absl::StatusOr<InputFormat> DetectInputFormat(const std::string& path);

struct LoadOptions {
  InputFormat format = InputFormat::kAuto;
  // cell_metadata.tsv to join by barcode. Default: <folder>/cell_metadata.tsv for a 10x folder or
  // a fragments file's folder, when present.
  std::string metadata_path;
  // Reference peak set (BED). Required for fragments; for other formats the data is mapped onto
  // it by interval overlap when given.
  std::string reference_bed;
  // Barcodes to keep (fragments input). Default: barcodes.tsv beside the fragments file if any.
  std::string barcode_allowlist;
};

// Loads and validates a dataset; every error names the offending file and line or offset.
absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options = {});

// Writes an AnnData .h5ad that anndata/scanpy read: X (csr_matrix), obs (barcode index, metadata
// columns as categoricals), var (peak names; chrom/start/end columns), obsm matrices. Atomic.
absl::Status WriteH5ad(const std::string& path, const Dataset& dataset);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_DATASET_H_
