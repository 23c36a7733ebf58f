#include "libs/data/cell_table.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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

absl::StatusOr<CellMetadata> ParseCellMetadata(LineReader& reader,
                                               const std::vector<std::string>& barcodes,
                                               MetadataJoinStats* stats) {
  absl::string_view line;
  if (!reader.Next(&line)) {
    FLS_RETURN_IF_ERROR(reader.status());
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": empty, expected a header"));
  }
  std::vector<std::string> header = absl::StrSplit(line, '\t');
  if (header.size() < 2) {
    return reader.LineError("header needs a barcode column and at least one more column");
  }
  CellMetadata meta;
  for (size_t c = 1; c < header.size(); ++c) {
    if (header[c].empty()) return reader.LineError(absl::StrCat("column ", c + 1, " has no name"));
    if (meta.Find(header[c]) >= 0) {
      return reader.LineError(absl::StrCat("duplicate column name '", header[c], "'"));
    }
    meta.names.push_back(header[c]);
  }
  meta.columns.assign(meta.names.size(), std::vector<std::string>(barcodes.size()));

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
    if (fields.size() != header.size()) {
      return reader.LineError(absl::StrCat("expected ", header.size(), " tab-separated fields, got ",
                                           fields.size()));
    }
    if (fields[0].empty()) return reader.LineError("empty barcode");
    auto it = cell_of.find(fields[0]);
    if (it == cell_of.end()) {
      auto [u, inserted] = unused_seen.emplace(std::string(fields[0]), reader.line_number());
      if (!inserted) {
        return reader.LineError(absl::StrCat("duplicate barcode '", fields[0],
                                             "' (first on line ", u->second, ")"));
      }
      ++local.unused_rows;
      continue;
    }
    const int64_t cell = it->second;
    if (seen_on_line[cell] != 0) {
      return reader.LineError(absl::StrCat("duplicate barcode '", fields[0], "' (first on line ",
                                           seen_on_line[cell], ")"));
    }
    seen_on_line[cell] = reader.line_number();
    for (size_t c = 1; c < fields.size(); ++c) meta.columns[c - 1][cell] = std::string(fields[c]);
    ++local.matched;
  }
  FLS_RETURN_IF_ERROR(reader.status());
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
