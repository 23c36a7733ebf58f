#include "libs/data/cell_table.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"

namespace flsailer::data {

int CellMetadata::Find(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::vector<std::string>> ParseBarcodes(LineReader& reader) {
  std::vector<std::string> barcodes;
  absl::flat_hash_map<std::string, int64_t> first_line;
  absl::string_view line;
  absl::string_view fields[2];
  while (reader.Next(&line)) {
    SplitFields(line, '\t', fields, 2);
    absl::string_view barcode = fields[0];
    if (IsBlank(barcode)) return reader.LineError("empty barcode");
    auto [it, inserted] = first_line.emplace(std::string(barcode), reader.line_number());
    if (!inserted) {
      return reader.LineError(absl::StrCat("duplicate barcode '", barcode, "' (first on line ",
                                           it->second, ")"));
    }
    barcodes.emplace_back(barcode);
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (barcodes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": no barcodes"));
  }
  return barcodes;
}

absl::StatusOr<std::vector<std::string>> ReadBarcodes(const std::string& path) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseBarcodes(*reader);
}

namespace {

// A field without the double quotes R's write.table puts around text ("" inside stands for ").
std::string Unquote(absl::string_view field) {
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
    return absl::StrReplaceAll(field.substr(1, field.size() - 2), {{"\"\"", "\""}});
  }
  return std::string(field);
}

// What R (NA), pandas (NaN, <NA>) and databases (NULL) write for a missing value.
bool IsMissingToken(absl::string_view value) {
  static constexpr absl::string_view kMissing[] = {"NA",  "N/A", "n/a",  "NaN",
                                                   "nan", "<NA>", "NULL", "null"};
  for (absl::string_view token : kMissing) {
    if (value == token) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<CellMetadata> ParseCellMetadata(LineReader& reader,
                                               const std::vector<std::string>& barcodes,
                                               MetadataJoinStats* stats) {
  absl::string_view line;
  if (!reader.Next(&line)) {
    FLS_RETURN_IF_ERROR(reader.status());
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": empty, expected a header"));
  }
  std::vector<std::string> header;
  for (absl::string_view field : absl::StrSplit(line, '\t')) header.push_back(Unquote(field));
  const std::string header_at = absl::StrCat(reader.name(), ":", reader.line_number(), ": ");

  // The column names are settled by the first row: R's write.table(row.names = TRUE) leaves the
  // barcode column unnamed, so its rows have one field more than the header.
  CellMetadata meta;
  size_t width = 0;  // fields per row; 0 until the first row
  auto settle_names = [&](size_t row_width) -> absl::Status {
    width = row_width == header.size() + 1 ? row_width : header.size();
    const size_t first = width == header.size() ? 1 : 0;
    if (width < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          header_at, "header needs a barcode column and at least one more column"));
    }
    for (size_t c = first; c < header.size(); ++c) {
      if (header[c].empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(header_at, "column ", c + 1, " has no name"));
      }
      if (meta.Find(header[c]) >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(header_at, "duplicate column name '", header[c], "'"));
      }
      meta.names.push_back(header[c]);
    }
    meta.columns.assign(meta.names.size(), std::vector<std::string>(barcodes.size()));
    return absl::OkStatus();
  };

  absl::flat_hash_map<absl::string_view, int64_t> cell_of;
  cell_of.reserve(barcodes.size());
  for (size_t i = 0; i < barcodes.size(); ++i) cell_of.emplace(barcodes[i], i);
  std::vector<int64_t> seen_on_line(barcodes.size(), 0);
  absl::flat_hash_map<std::string, int64_t> unused_seen;

  MetadataJoinStats local;
  std::vector<absl::string_view> fields;
  while (reader.Next(&line)) {
    if (IsBlank(line)) continue;
    fields = absl::StrSplit(line, '\t');
    if (width == 0) FLS_RETURN_IF_ERROR(settle_names(fields.size()));
    if (fields.size() != width) {
      return reader.LineError(
          absl::StrCat("expected ", width, " tab-separated fields, got ", fields.size()));
    }
    const std::string barcode = Unquote(fields[0]);
    if (barcode.empty()) return reader.LineError("empty barcode");
    auto it = cell_of.find(barcode);
    if (it == cell_of.end()) {
      auto [u, inserted] = unused_seen.emplace(barcode, reader.line_number());
      if (!inserted) {
        return reader.LineError(absl::StrCat("duplicate barcode '", barcode, "' (first on line ",
                                             u->second, ")"));
      }
      ++local.unused_rows;
      continue;
    }
    const int64_t cell = it->second;
    if (seen_on_line[cell] != 0) {
      return reader.LineError(absl::StrCat("duplicate barcode '", barcode, "' (first on line ",
                                           seen_on_line[cell], ")"));
    }
    seen_on_line[cell] = reader.line_number();
    for (size_t c = 1; c < fields.size(); ++c) {
      std::string value = Unquote(fields[c]);
      if (!IsMissingToken(value)) meta.columns[c - 1][cell] = std::move(value);
    }
    ++local.matched;
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (width == 0) FLS_RETURN_IF_ERROR(settle_names(header.size()));
  local.missing = static_cast<int64_t>(barcodes.size()) - local.matched;
  if (stats != nullptr) *stats = local;
  return meta;
}

absl::StatusOr<CellMetadata> ReadCellMetadata(const std::string& path,
                                              const std::vector<std::string>& barcodes,
                                              MetadataJoinStats* stats) {
  FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
  return ParseCellMetadata(*reader, barcodes, stats);
}

}  // namespace flsailer::data
