// The cells x peaks matrix every part of FL-Sailer works on.
#ifndef FLSAILER_LIBS_DATA_CSR_MATRIX_H_
#define FLSAILER_LIBS_DATA_CSR_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace flsailer::data {

// A sparse matrix in compressed sparse row form: rows are cells, columns are peaks.
//
// Row offsets are 64-bit so that a matrix may hold more than 2^31 non-zeros; column indices are
// 32-bit (peak sets stay far below 2^31). Within a row, column indices are strictly increasing
// (no duplicates). `values` is either parallel to `indices` (counts) or empty, which means every
// stored entry is 1 (a binary matrix, at half the memory).
//
// A plain value type: copyable, movable, not internally synchronised.
struct CsrMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> indptr{0};  // rows + 1 offsets into indices/values; indptr[0] == 0
  std::vector<int32_t> indices;    // column of each stored entry
  std::vector<float> values;       // empty, or one finite value > 0 per stored entry

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  bool is_binary() const { return values.empty(); }
  float value(int64_t k) const { return values.empty() ? 1.0f : values[static_cast<size_t>(k)]; }
  int64_t row_nnz(int64_t row) const { return indptr[row + 1] - indptr[row]; }
  double density() const;
  // Bytes held by the three arrays (the figure memory targets are stated against).
  size_t MemoryBytes() const;

  // Checks every invariant above; the message names the first violation.
  absl::Status Validate() const;

  // Sum of values per row (sequencing depth when values are counts).
  std::vector<double> RowSums() const;
  // Number of rows in which each column is non-zero.
  std::vector<int64_t> ColumnNnz() const;
  // The same pattern with every value 1 (values dropped).
  CsrMatrix Binarized() const;
  // The rows listed, in that order. REQUIRES: every entry in [0, rows).
  CsrMatrix SelectRows(const std::vector<int64_t>& rows_to_keep) const;
  // The columns listed, renumbered 0.. in that order (a peak selection). REQUIRES: entries
  // strictly increasing, each in [0, cols).
  CsrMatrix SelectColumns(const std::vector<int32_t>& columns_to_keep) const;
};

// Builds a CSR matrix one row at a time, in row order. Used by readers and the simulator.
class CsrBuilder {
 public:
  // `expected_nnz` (if known) is reserved up front so the arrays never reallocate.
  CsrBuilder(int64_t cols, bool binary, int64_t expected_nnz = 0);
  // Appends an entry to the current row. REQUIRES: col increasing within the row.
  void Add(int32_t col, float value) {
    matrix_.indices.push_back(col);
    if (!binary_) matrix_.values.push_back(value);
  }
  void FinishRow() { matrix_.indptr.push_back(static_cast<int64_t>(matrix_.indices.size())); }
  CsrMatrix Finish() &&;

 private:
  CsrMatrix matrix_;
  bool binary_;
};

// Turns entries collected in any order into CSR form in place. On entry, m->rows and m->cols give
// the shape, m->indices and m->values (empty for binary) each entry's column and value, and
// (*rows)[k] entry k's row (each in [0, m->rows)). Entries are bucketed by row without a second
// copy (in-place American flag sort), then rows are sorted and duplicates summed; *rows is freed.
void CsrFromEntries(std::vector<int32_t>* rows, CsrMatrix* m);

// Sorts each row by column and sums duplicate columns, compacting the arrays in place. Rows that
// are already sorted are only moved. REQUIRES: m->indptr is a valid set of row offsets.
void SortRowsAndSumDuplicates(CsrMatrix* m);

// Transposes a CSR matrix (equivalently, converts CSC to CSR). Output rows are sorted.
CsrMatrix Transpose(const CsrMatrix& m);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_CSR_MATRIX_H_
