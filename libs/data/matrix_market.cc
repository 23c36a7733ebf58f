#include "libs/data/matrix_market.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"

namespace flsailer::data {
namespace {

enum class Field { kInteger, kReal, kPattern };

inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Parses an unsigned decimal at *p (after optional blanks); advances *p past it.
inline bool ScanUint(const char** p, const char* end, uint64_t* out) {
  const char* s = *p;
  while (s < end && IsSpace(*s)) ++s;
  const char* digits = s;
  uint64_t v = 0;
  while (s < end && static_cast<unsigned>(*s - '0') < 10) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<unsigned>(*s - '0');
    ++s;
  }
  if (s == digits) return false;
  *out = v;
  *p = s;
  return true;
}

template <typename T>
void AppendNumber(std::string* out, T value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  out->append(text, result.ptr - text);
}

int64_t MaxEntriesForMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return INT64_MAX;
  // 12 bytes per entry on the unsorted path (cell, peak, value).
  return static_cast<int64_t>(pages) * page_size / 12;
}

}  // namespace

absl::StatusOr<CsrMatrix> ParseMatrixMarket(LineReader& reader, const MtxReadOptions& options) {
  absl::string_view line;
  if (!reader.Next(&line)) {
    FLS_RETURN_IF_ERROR(reader.status());
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": empty file"));
  }
  // Banner: %%MatrixMarket matrix coordinate <field> <symmetry>
  absl::string_view banner[6];
  const size_t nb = SplitWhitespace(line, banner, 6);
  if (nb != 5 || absl::AsciiStrToLower(banner[0]) != "%%matrixmarket" ||
      absl::AsciiStrToLower(banner[1]) != "matrix") {
    return reader.LineError(
        "not a MatrixMarket file: expected '%%MatrixMarket matrix coordinate <field> general'");
  }
  if (absl::AsciiStrToLower(banner[2]) != "coordinate") {
    return reader.LineError(absl::StrCat("format '", banner[2],
                                         "' not supported: only sparse 'coordinate' files"));
  }
  Field field;
  const std::string field_name = absl::AsciiStrToLower(banner[3]);
  if (field_name == "integer") {
    field = Field::kInteger;
  } else if (field_name == "real" || field_name == "double") {
    field = Field::kReal;
  } else if (field_name == "pattern") {
    field = Field::kPattern;
  } else {
    return reader.LineError(absl::StrCat("field '", banner[3],
                                         "' not supported (integer, real or pattern)"));
  }
  if (absl::AsciiStrToLower(banner[4]) != "general") {
    return reader.LineError(absl::StrCat("symmetry '", banner[4],
                                         "' not supported for cells x peaks data (general only)"));
  }

  // Comments, then the size line.
  bool have_size = false;
  while (reader.Next(&line)) {
    if (!line.empty() && line[0] == '%') continue;
    if (IsBlank(line)) continue;
    have_size = true;
    break;
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (!have_size) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": no size line"));
  }
  absl::string_view size_fields[4];
  int64_t file_rows, file_cols, declared;
  if (SplitWhitespace(line, size_fields, 4) != 3 || !ParseInt64(size_fields[0], &file_rows) ||
      !ParseInt64(size_fields[1], &file_cols) || !ParseInt64(size_fields[2], &declared) ||
      file_rows < 0 || file_cols < 0 || declared < 0) {
    return reader.LineError("size line must be three non-negative integers: rows cols entries");
  }

  // Orientation: 10x writes peaks x cells.
  bool transposed = true;
  if (options.cells >= 0 && options.peaks >= 0) {
    if (file_rows == options.peaks && file_cols == options.cells) {
      transposed = true;
    } else if (file_rows == options.cells && file_cols == options.peaks) {
      transposed = false;
    } else {
      return reader.LineError(absl::StrCat(
          "matrix is ", file_rows, " x ", file_cols, " but there are ", options.peaks,
          " peaks and ", options.cells, " barcodes (expected peaks x cells or cells x peaks)"));
    }
  }
  CsrMatrix m;
  m.rows = transposed ? file_cols : file_rows;
  m.cols = transposed ? file_rows : file_cols;
  if (m.cols > INT32_MAX) return reader.LineError("more than 2^31-1 peaks");
  if (m.rows > INT32_MAX) return reader.LineError("more than 2^31-1 cells");
  const int64_t limit = options.max_elements >= 0 ? options.max_elements : MaxEntriesForMemory();
  if (declared > limit || m.rows > limit) {
    return reader.LineError(absl::StrCat("declares ", declared, " entries and ", m.rows,
                                         " cells, more than this reader accepts (", limit, ")"));
  }
  if (static_cast<__int128>(declared) > static_cast<__int128>(m.rows) * m.cols) {
    return reader.LineError(absl::StrCat("declares ", declared, " entries for a ", file_rows,
                                         " x ", file_cols, " matrix"));
  }

  const bool binary = field == Field::kPattern;
  m.indptr.clear();
  m.indptr.reserve(static_cast<size_t>(m.rows) + 1);
  m.indptr.push_back(0);
  m.indices.reserve(static_cast<size_t>(declared));
  if (!binary) m.values.reserve(static_cast<size_t>(declared));

  // Entries sorted by cell stream straight into CSR; the first out-of-order cell switches to
  // collecting a parallel cell array (sorted in place at the end).
  std::vector<int32_t> cells;
  bool sorted_by_cell = true;
  int64_t current_cell = 0;  // rows [0, current_cell) are finished in indptr
  int64_t seen = 0;
  while (reader.Next(&line)) {
    const char* p = line.data();
    const char* end = p + line.size();
    uint64_t i, j;
    if (!ScanUint(&p, end, &i) || !ScanUint(&p, end, &j)) {
      if (IsBlank(line)) continue;
      return reader.LineError("expected 'row col [value]' with positive integer indices");
    }
    if (i < 1 || i > static_cast<uint64_t>(file_rows) || j < 1 ||
        j > static_cast<uint64_t>(file_cols)) {
      return reader.LineError(absl::StrCat("index (", i, ", ", j, ") outside the declared ",
                                           file_rows, " x ", file_cols, " matrix"));
    }
    float value = 1.0f;
    if (field != Field::kPattern) {
      while (p < end && IsSpace(*p)) ++p;
      const char* vbegin = p;
      while (p < end && !IsSpace(*p)) ++p;
      absl::string_view vtext(vbegin, p - vbegin);
      double v;
      if (field == Field::kInteger) {
        int64_t iv;
        if (!ParseInt64(vtext, &iv)) {
          return reader.LineError(absl::StrCat("value '", vtext, "' is not an integer"));
        }
        v = static_cast<double>(iv);
      } else if (!ParseDouble(vtext, &v)) {
        return reader.LineError(absl::StrCat("value '", vtext, "' is not a number"));
      }
      if (!std::isfinite(v)) return reader.LineError(absl::StrCat("value ", vtext, " is not finite"));
      if (v < 0) return reader.LineError(absl::StrCat("negative value ", vtext));
      value = static_cast<float>(v);
    }
    while (p < end && IsSpace(*p)) ++p;
    if (p != end) return reader.LineError("unexpected text after the entry");
    if (++seen > declared) {
      return reader.LineError(absl::StrCat("more entries than the ", declared, " declared"));
    }
    if (value == 0.0f) continue;  // explicit zeros are not stored

    const int64_t cell = static_cast<int64_t>(transposed ? j : i) - 1;
    const int32_t peak = static_cast<int32_t>((transposed ? i : j) - 1);
    if (sorted_by_cell) {
      if (cell >= current_cell) {
        while (current_cell < cell) {
          m.indptr.push_back(static_cast<int64_t>(m.indices.size()));
          ++current_cell;
        }
      } else {
        // Switch to the unsorted path: recover the cells of the entries so far.
        sorted_by_cell = false;
        cells.reserve(static_cast<size_t>(declared));
        for (int64_t r = 0; r < current_cell; ++r) {
          cells.insert(cells.end(), m.indptr[r + 1] - m.indptr[r], static_cast<int32_t>(r));
        }
        cells.insert(cells.end(), m.indices.size() - cells.size(),
                     static_cast<int32_t>(current_cell));
      }
    }
    if (!sorted_by_cell) cells.push_back(static_cast<int32_t>(cell));
    m.indices.push_back(peak);
    if (!binary) m.values.push_back(value);
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (seen != declared) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": ", seen,
                                                   " entries, but the size line declares ",
                                                   declared, " (truncated file?)"));
  }
  if (sorted_by_cell) {
    while (current_cell < m.rows) {
      m.indptr.push_back(static_cast<int64_t>(m.indices.size()));
      ++current_cell;
    }
  } else {
    CsrFromEntries(&cells, &m);
    return m;
  }
  SortRowsAndSumDuplicates(&m);
  return m;
}

absl::StatusOr<CsrMatrix> ReadMatrixMarket(const std::string& path, const MtxReadOptions& options) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseMatrixMarket(*reader, options);
}

absl::Status WriteMatrixMarket(const std::string& path, const CsrMatrix& m) {
  bool integral = true;
  for (float v : m.values) {
    if (v != std::floor(v)) {
      integral = false;
      break;
    }
  }
  const char* field = m.is_binary() ? "pattern" : integral ? "integer" : "real";
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path, absl::EndsWith(path, ".gz")));
  FLS_RETURN_IF_ERROR(out->Write(absl::StrCat("%%MatrixMarket matrix coordinate ", field,
                                              " general\n%metadata_json: {\"software\": "
                                              "\"flsailer\"}\n",
                                              m.cols, " ", m.rows, " ", m.nnz(), "\n")));
  std::string buf;
  buf.reserve(1 << 20);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      AppendNumber(&buf, m.indices[k] + 1);
      buf.push_back(' ');
      AppendNumber(&buf, r + 1);
      if (!m.is_binary()) {
        buf.push_back(' ');
        if (integral) {
          AppendNumber(&buf, static_cast<int64_t>(m.values[k]));
        } else {
          AppendNumber(&buf, m.values[k]);
        }
      }
      buf.push_back('\n');
    }
    if (buf.size() > (1 << 20) - 128) {
      FLS_RETURN_IF_ERROR(out->Write(buf));
      buf.clear();
    }
  }
  FLS_RETURN_IF_ERROR(out->Write(buf));
  return out->Close();
}

}  // namespace flsailer::data
