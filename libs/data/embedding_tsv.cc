#include "libs/data/embedding_tsv.h"

#include <charconv>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"

namespace flsailer::data {

absl::Status WriteEmbeddingTsv(const std::string& path, const std::vector<std::string>& barcodes,
                               const DenseMatrix& embedding) {
  if (static_cast<int64_t>(barcodes.size()) != embedding.rows ||
      static_cast<int64_t>(embedding.data.size()) != embedding.rows * embedding.cols) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", barcodes.size(), " barcodes for a ",
                                                   embedding.rows, " x ", embedding.cols,
                                                   " embedding"));
  }
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path));
  std::string line = "barcode";
  for (int64_t c = 0; c < embedding.cols; ++c) absl::StrAppend(&line, "\tdim_", c + 1);
  line.push_back('\n');
  FLS_RETURN_IF_ERROR(out->Write(line));
  char number[32];
  for (int64_t r = 0; r < embedding.rows; ++r) {
    line = barcodes[r];
    for (int64_t c = 0; c < embedding.cols; ++c) {
      const auto result =
          std::to_chars(number, number + sizeof(number), embedding.data[r * embedding.cols + c]);
      line.push_back('\t');
      line.append(number, result.ptr - number);
    }
    line.push_back('\n');
    FLS_RETURN_IF_ERROR(out->Write(line));
  }
  return out->Close();
}

absl::StatusOr<EmbeddingTable> ParseEmbeddingTsv(LineReader& reader) {
  absl::string_view line;
  if (!reader.Next(&line)) {
    FLS_RETURN_IF_ERROR(reader.status());
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": empty, expected a header"));
  }
  const std::vector<absl::string_view> header = absl::StrSplit(line, '\t');
  if (header.size() < 2) return reader.LineError("header needs a barcode column and dimensions");
  EmbeddingTable table;
  table.values.cols = static_cast<int64_t>(header.size()) - 1;
  absl::flat_hash_map<std::string, int64_t> first_line;
  std::vector<absl::string_view> fields;
  while (reader.Next(&line)) {
    if (IsBlank(line)) continue;
    fields = absl::StrSplit(line, '\t');
    if (fields.size() != header.size()) {
      return reader.LineError(absl::StrCat("expected ", header.size(), " fields, got ",
                                           fields.size()));
    }
    if (fields[0].empty()) return reader.LineError("empty barcode");
    auto [it, inserted] = first_line.emplace(std::string(fields[0]), reader.line_number());
    if (!inserted) {
      return reader.LineError(absl::StrCat("duplicate barcode '", fields[0], "' (first on line ",
                                           it->second, ")"));
    }
    for (size_t c = 1; c < fields.size(); ++c) {
      double v;
      if (!ParseDouble(fields[c], &v) || !std::isfinite(v)) {
        return reader.LineError(absl::StrCat("column ", c + 1, ": '", fields[c],
                                             "' is not a finite number"));
      }
      table.values.data.push_back(static_cast<float>(v));
    }
    table.barcodes.emplace_back(fields[0]);
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (table.barcodes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": no cells"));
  }
  table.values.rows = static_cast<int64_t>(table.barcodes.size());
  return table;
}

absl::StatusOr<EmbeddingTable> ReadEmbeddingTsv(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseEmbeddingTsv(*reader);
}

}  // namespace flsailer::data
