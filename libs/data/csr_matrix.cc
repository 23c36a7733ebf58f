#include "libs/data/csr_matrix.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace flsailer::data {

double CsrMatrix::density() const {
  if (rows == 0 || cols == 0) return 0.0;
  return static_cast<double>(nnz()) / (static_cast<double>(rows) * static_cast<double>(cols));
}

size_t CsrMatrix::MemoryBytes() const {
  return indptr.size() * sizeof(int64_t) + indices.size() * sizeof(int32_t) +
         values.size() * sizeof(float);
}

absl::Status CsrMatrix::Validate() const {
  if (rows < 0 || cols < 0 || cols > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("bad shape ", rows, " x ", cols));
  }
  if (static_cast<int64_t>(indptr.size()) != rows + 1 || indptr.front() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("row offsets: expected ", rows + 1, " starting at 0, got ", indptr.size()));
  }
  if (indptr.back() != nnz()) {
    return absl::InvalidArgumentError(
        absl::StrCat("row offsets end at ", indptr.back(), " but there are ", nnz(), " entries"));
  }
  if (!values.empty() && values.size() != indices.size()) {
    return absl::InvalidArgumentError(absl::StrCat("values: ", values.size(), " for ",
                                                   indices.size(), " entries"));
  }
  // Offsets first: monotone offsets ending at nnz keep the entry scan below in bounds.
  for (int64_t r = 0; r < rows; ++r) {
    if (indptr[r + 1] < indptr[r]) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r, ": offsets decrease"));
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      if (indices[k] < 0 || indices[k] >= cols) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", r, ": column ", indices[k], " outside [0, ", cols, ")"));
      }
      if (k > indptr[r] && indices[k] <= indices[k - 1]) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", r, ": columns not strictly increasing at ", indices[k]));
      }
      if (!values.empty() && !(std::isfinite(values[k]) && values[k] > 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", r, " column ", indices[k], ": value ", values[k],
                         " is not a finite positive number"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<double> CsrMatrix::RowSums() const {
  std::vector<double> sums(static_cast<size_t>(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    if (values.empty()) {
      sums[r] = static_cast<double>(row_nnz(r));
    } else {
      double s = 0;
      for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) s += values[k];
      sums[r] = s;
    }
  }
  return sums;
}

std::vector<int64_t> CsrMatrix::ColumnNnz() const {
  std::vector<int64_t> counts(static_cast<size_t>(cols), 0);
  for (int32_t c : indices) ++counts[c];
  return counts;
}

CsrMatrix CsrMatrix::Binarized() const {
  CsrMatrix out;
  out.rows = rows;
  out.cols = cols;
  out.indptr = indptr;
  out.indices = indices;
  return out;
}

CsrMatrix CsrMatrix::SelectRows(const std::vector<int64_t>& rows_to_keep) const {
  int64_t total = 0;
  for (int64_t r : rows_to_keep) total += row_nnz(r);
  CsrBuilder builder(cols, is_binary(), total);
  for (int64_t r : rows_to_keep) {
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) builder.Add(indices[k], value(k));
    builder.FinishRow();
  }
  return std::move(builder).Finish();
}

CsrMatrix CsrMatrix::SelectColumns(const std::vector<int32_t>& columns_to_keep) const {
  std::vector<int32_t> new_index(static_cast<size_t>(cols), -1);
  for (size_t j = 0; j < columns_to_keep.size(); ++j) {
    new_index[columns_to_keep[j]] = static_cast<int32_t>(j);
  }
  CsrBuilder builder(static_cast<int64_t>(columns_to_keep.size()), is_binary());
  for (int64_t r = 0; r < rows; ++r) {
    // Ascending kept columns keep each row's entries ascending.
    for (int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      const int32_t j = new_index[indices[k]];
      if (j >= 0) builder.Add(j, value(k));
    }
    builder.FinishRow();
  }
  return std::move(builder).Finish();
}

CsrBuilder::CsrBuilder(int64_t cols, bool binary, int64_t expected_nnz) : binary_(binary) {
  matrix_.cols = cols;
  if (expected_nnz > 0) {
    matrix_.indices.reserve(static_cast<size_t>(expected_nnz));
    if (!binary) matrix_.values.reserve(static_cast<size_t>(expected_nnz));
  }
}

CsrMatrix CsrBuilder::Finish() && {
  matrix_.rows = static_cast<int64_t>(matrix_.indptr.size()) - 1;
  return std::move(matrix_);
}

void SortRowsAndSumDuplicates(CsrMatrix* m) {
  std::vector<std::pair<int32_t, float>> row;
  int64_t write = 0;
  int64_t read_begin = 0;
  for (int64_t r = 0; r < m->rows; ++r) {
    const int64_t read_end = m->indptr[r + 1];
    bool sorted = true;
    for (int64_t k = read_begin + 1; k < read_end; ++k) {
      if (m->indices[k] <= m->indices[k - 1]) {
        sorted = false;
        break;
      }
    }
    if (sorted) {
      if (write != read_begin) {
        std::copy(m->indices.begin() + read_begin, m->indices.begin() + read_end,
                  m->indices.begin() + write);
        if (!m->values.empty()) {
          std::copy(m->values.begin() + read_begin, m->values.begin() + read_end,
                    m->values.begin() + write);
        }
      }
      write += read_end - read_begin;
    } else {
      row.clear();
      for (int64_t k = read_begin; k < read_end; ++k) row.emplace_back(m->indices[k], m->value(k));
      std::sort(row.begin(), row.end());
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0 && row[i].first == row[i - 1].first) {
          if (!m->values.empty()) m->values[write - 1] += row[i].second;
          continue;
        }
        m->indices[write] = row[i].first;
        if (!m->values.empty()) m->values[write] = row[i].second;
        ++write;
      }
    }
    read_begin = read_end;
    m->indptr[r + 1] = write;
  }
  m->indices.resize(write);
  if (!m->values.empty()) m->values.resize(write);
}

void CsrFromEntries(std::vector<int32_t>* rows, CsrMatrix* m) {
  m->indptr.assign(m->rows + 1, 0);
  for (int32_t r : *rows) ++m->indptr[r + 1];
  for (int64_t r = 0; r < m->rows; ++r) m->indptr[r + 1] += m->indptr[r];
  std::vector<int64_t> next(m->indptr.begin(), m->indptr.end() - 1);
  const bool has_values = !m->values.empty();
  for (int64_t bucket = 0; bucket < m->rows; ++bucket) {
    const int64_t bucket_end = m->indptr[bucket + 1];
    while (next[bucket] < bucket_end) {
      const int64_t pos = next[bucket];
      const int32_t row = (*rows)[pos];
      if (row == bucket) {
        ++next[bucket];
        continue;
      }
      // Swap the element into its own bucket; the element we get back is examined next.
      const int64_t dest = next[row]++;
      std::swap((*rows)[pos], (*rows)[dest]);
      std::swap(m->indices[pos], m->indices[dest]);
      if (has_values) std::swap(m->values[pos], m->values[dest]);
    }
  }
  std::vector<int32_t>().swap(*rows);
  SortRowsAndSumDuplicates(m);
}

CsrMatrix Transpose(const CsrMatrix& m) {
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  t.indptr.assign(static_cast<size_t>(m.cols) + 1, 0);
  for (int32_t c : m.indices) ++t.indptr[c + 1];
  for (int64_t c = 0; c < m.cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(m.indices.size());
  if (!m.is_binary()) t.values.resize(m.values.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Walking source rows in order fills each output row in increasing column order.
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const int64_t pos = next[m.indices[k]]++;
      t.indices[pos] = static_cast<int32_t>(r);
      if (!m.is_binary()) t.values[pos] = m.values[k];
    }
  }
  return t;
}

}  // namespace flsailer::data
