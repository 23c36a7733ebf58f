// Per-cell embeddings as TSV: a header "barcode<TAB>dim_1<TAB>...", then one line per cell.
#ifndef FLSAILER_LIBS_DATA_EMBEDDING_TSV_H_
#define FLSAILER_LIBS_DATA_EMBEDDING_TSV_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

struct EmbeddingTable {
  std::vector<std::string> barcodes;
  DenseMatrix values;  // barcodes.size() x dims
};

// Writes atomically. REQUIRES: barcodes.size() == embedding.rows.
absl::Status WriteEmbeddingTsv(const std::string& path, const std::vector<std::string>& barcodes,
                               const DenseMatrix& embedding);

// Rejects a missing header, ragged rows, non-numeric, NaN or Inf values, empty or duplicate
// barcodes and an empty table, naming the line.
absl::StatusOr<EmbeddingTable> ParseEmbeddingTsv(LineReader& reader);
absl::StatusOr<EmbeddingTable> ReadEmbeddingTsv(const std::string& path);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_EMBEDDING_TSV_H_
