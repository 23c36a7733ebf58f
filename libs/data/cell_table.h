// Barcode lists and per-cell metadata tables (cell_metadata.tsv) joined onto a matrix's cells.
#ifndef FLSAILER_LIBS_DATA_CELL_TABLE_H_
#define FLSAILER_LIBS_DATA_CELL_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/common/file_io.h"

namespace flsailer::data {

// Per-cell string columns aligned with a matrix's rows (labels, batches, QC values).
// Cells absent from the metadata file hold the empty string.
struct CellMetadata {
  std::vector<std::string> names;                 // column names
  std::vector<std::vector<std::string>> columns;  // columns[c][cell]

  // Index of column `name`, or -1.
  int Find(const std::string& name) const;
  bool empty() const { return names.empty(); }
};

// One barcode per line (first tab-separated field). Rejects empty and duplicate barcodes,
// naming the line of the duplicate and of its first occurrence.
absl::StatusOr<std::vector<std::string>> ParseBarcodes(LineReader& reader);
absl::StatusOr<std::vector<std::string>> ReadBarcodes(const std::string& path);

struct MetadataJoinStats {
  int64_t matched = 0;           // matrix cells found in the table
  int64_t missing = 0;           // matrix cells not in the table (empty values)
  int64_t unused_rows = 0;       // table rows for barcodes not in the matrix
};

// Parses a TSV whose first line is a header and whose first column is the barcode, and returns
// its other columns aligned with `barcodes`. Also reads R's write.table output: fields in double
// quotes, and a header with no name over the barcode column (one field short). Missing-value
// tokens (NA, N/A, n/a, NaN, nan, <NA>, NULL, null) read as "". Rejects ragged rows, duplicate
// barcodes and duplicate or empty column names, naming the line.
absl::StatusOr<CellMetadata> ParseCellMetadata(LineReader& reader,
                                               const std::vector<std::string>& barcodes,
                                               MetadataJoinStats* stats = nullptr);
absl::StatusOr<CellMetadata> ReadCellMetadata(const std::string& path,
                                              const std::vector<std::string>& barcodes,
                                              MetadataJoinStats* stats = nullptr);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_CELL_TABLE_H_
