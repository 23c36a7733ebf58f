// Readers of the HDF5-based formats: 10x Cell Ranger .h5 and AnnData .h5ad.
// (WriteH5ad is declared in dataset.h.)
#ifndef FLSAILER_LIBS_DATA_HDF5_FORMATS_H_
#define FLSAILER_LIBS_DATA_HDF5_FORMATS_H_

#include <string>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

// Cell Ranger ATAC / ARC feature-barcode matrix (.h5, group /matrix, CSC peaks x cells).
// Only features of type "Peaks" are kept (ARC files also hold genes). Peaks come from
// features/id ("chr1:100-200"). Metadata is not joined here (LoadDataset does that).
absl::StatusOr<Dataset> ReadTenxH5(const std::string& path);

// AnnData .h5ad written by anndata >= 0.7: X as csr_matrix or csc_matrix (cells x peaks), the obs
// index as barcodes, the var index (or var columns chrom/start/end) as peaks, and obs columns
// (categorical or string) as metadata. Dense X is rejected with a clear error.
absl::StatusOr<Dataset> ReadH5ad(const std::string& path);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_HDF5_FORMATS_H_
