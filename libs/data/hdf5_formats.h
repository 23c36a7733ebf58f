// Readers of the HDF5-based formats: 10x Cell Ranger .h5 and AnnData .h5ad.
// (WriteH5ad, declared in dataset.h, is implemented beside them in hdf5_formats.cc.)
//
// Errors: every failure - missing or mistyped objects, malformed sparse arrays, a truncated,
// corrupt or non-HDF5 file - is a Status reading "<file>: <object path>: <what>". HDF5's own
// error printing is switched off (H5Eset_auto2) so stderr stays clean.
//
// Matrices: values are read with HDF5's type conversion to float; NaN, Inf and negative values
// are rejected, explicit zeros dropped, unsorted indices within a cell sorted and duplicates
// summed. Big arrays are read in hyperslabs of 2^20 elements, so peak memory is about the size
// of the final CSR matrix. A matrix whose stored values are all 1 is returned binary.
//
// Known limit: libhdf5 1.10.8 itself can crash on some deliberately corrupted files (out-of-bounds
// reads in its global heap, which holds variable-length strings); nothing above it can catch that.
// LoadDataset therefore calls these readers in a child process (isolated_reader.h).
//
// Thread safety: Debian's HDF5 is the serial (non-thread-safe) build. These functions must not
// run concurrently with each other or with any other HDF5 use in the process.
#ifndef FLSAILER_LIBS_DATA_HDF5_FORMATS_H_
#define FLSAILER_LIBS_DATA_HDF5_FORMATS_H_

#include <string>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

// Cell Ranger ATAC / ARC feature-barcode matrix (.h5, group /matrix, CSC peaks x cells).
// Only features of type "Peaks" are kept (ARC files also hold genes). Peaks come from
// features/id ("chr1:100-200"). Metadata is not joined here (LoadDataset does that).
// Strings may be fixed-length (as Cell Ranger writes them) or variable-length.
absl::StatusOr<Dataset> ReadTenxH5(const std::string& path);

// AnnData .h5ad written by anndata >= 0.7: X as csr_matrix, csc_matrix or a dense array (cells x
// peaks), the obs index as barcodes, the var index (or var columns chrom/start/end, also spelled
// seqnames/chromosome/chr and chromStart/chromEnd) as peaks, and obs columns (categorical or
// string) as metadata.
// Also read: legacy h5sparse_format X attributes, anndata 0.7 categoricals (codes referring to
// obs/__categories), numeric and boolean obs columns (as text: integers without decimals, NaN
// as ""), nullable columns (masked entries as ""), and obsm 2-D numeric arrays with one row per
// cell. obs columns of other encodings are skipped. Barcodes must be non-empty and unique.
// csc_matrix X is converted with a counting pass and a fill pass over chunks (no second copy);
// dense X is read in blocks of rows, keeping only its non-zero entries.
//
// WriteH5ad writes the anndata 0.8 layout (X csr_matrix float32/int32/int64, metadata columns as
// categoricals with "" as missing, var chrom/start/end, obsm as float32 arrays) to
// "<path>.tmp.<pid>" and renames it into place only on success.
absl::StatusOr<Dataset> ReadH5ad(const std::string& path);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_HDF5_FORMATS_H_
