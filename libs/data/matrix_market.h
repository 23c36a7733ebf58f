// MatrixMarket coordinate files (10x Cell Ranger `matrix.mtx[.gz]`).
#ifndef FLSAILER_LIBS_DATA_MATRIX_MARKET_H_
#define FLSAILER_LIBS_DATA_MATRIX_MARKET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "libs/common/file_io.h"
#include "libs/data/csr_matrix.h"

namespace flsailer::data {

struct MtxReadOptions {
  // Expected numbers of cells and peaks (-1: unknown). When both are known the file's orientation
  // is inferred: peaks x cells (the 10x convention) or cells x peaks; any other shape is an
  // error. When unknown, the file is taken as peaks x cells.
  int64_t cells = -1;
  int64_t peaks = -1;
  // Largest number of entries (and of cells) accepted from the size line; -1 means what fits in
  // this machine's memory. Fuzzers set a small bound.
  int64_t max_elements = -1;
};

// Reads a `coordinate` MatrixMarket file of field integer, real or pattern, `general` symmetry,
// into a cells x peaks CSR matrix (pattern files give a binary matrix; duplicate entries are
// summed). Memory: entries sorted by cell are streamed straight into the CSR arrays (peak memory =
// final size); otherwise one extra 4-byte array per entry is used and sorted in place.
// Errors name the file and line: bad banner or size line, indices out of range, zero, negative,
// NaN or Inf values, fewer or more entries than declared, corrupt or truncated gzip.
absl::StatusOr<CsrMatrix> ParseMatrixMarket(LineReader& reader, const MtxReadOptions& options = {});
absl::StatusOr<CsrMatrix> ReadMatrixMarket(const std::string& path,
                                           const MtxReadOptions& options = {});

// Writes `m` (cells x peaks) as a 10x-style peaks x cells integer (or real, if any value is not
// integral) coordinate file, sorted by cell; gzip-compressed when the path ends in ".gz".
absl::Status WriteMatrixMarket(const std::string& path, const CsrMatrix& m);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_MATRIX_MARKET_H_
