// libFuzzer target: barcode lists and cell_metadata.tsv tables parse or fail cleanly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "libs/data/cell_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flsailer::data;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto reader = flsailer::LineReader::FromString(text, "fuzz.tsv");
  absl::StatusOr<std::vector<std::string>> barcodes = ParseBarcodes(*reader);
  if (barcodes.ok() && barcodes->empty()) __builtin_trap();

  const std::vector<std::string> cells = {"A", "B", "AAACGAAAGAGCGAAA-1"};
  reader = flsailer::LineReader::FromString(text, "fuzz.tsv");
  MetadataJoinStats stats;
  absl::StatusOr<CellMetadata> meta = ParseCellMetadata(*reader, cells, &stats);
  if (meta.ok()) {
    if (meta->names.size() != meta->columns.size()) __builtin_trap();
    for (const auto& column : meta->columns) {
      if (column.size() != cells.size()) __builtin_trap();
    }
    if (stats.matched + stats.missing != static_cast<int64_t>(cells.size())) __builtin_trap();
  }
  return 0;
}
