#include "libs/data/fragments.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/common/text.h"
#include "libs/data/peak_mapping.h"

namespace flsailer::data {

absl::StatusOr<Dataset> CountFragments(LineReader& reader, const std::vector<Peak>& peaks,
                                       const FragmentCountOptions& options) {
  if (peaks.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat(reader.name(), ": ", peaks.size(), " peaks, more than 2^31-1"));
  }
  Dataset ds;
  ds.source = reader.name();
  ds.peaks = peaks;

  // Barcode -> row. Looked up by string_view, so skipping a barcode allocates nothing.
  absl::flat_hash_map<std::string, int32_t> rows;
  const bool fixed_cells = !options.allowlist.empty();
  if (fixed_cells) {
    if (options.allowlist.size() > static_cast<size_t>(INT32_MAX)) {
      return absl::InvalidArgumentError(
          absl::StrCat(reader.name(), ": allow-list of ", options.allowlist.size(), " barcodes"));
    }
    rows.reserve(options.allowlist.size());
    for (size_t i = 0; i < options.allowlist.size(); ++i) {
      if (!rows.try_emplace(options.allowlist[i], static_cast<int32_t>(i)).second) {
        return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": barcode allow-list has '",
                                                       options.allowlist[i], "' twice"));
      }
    }
    ds.barcodes = options.allowlist;
  }

  const PeakIndex index(peaks);
  // A cell's insertions into the peak of its latest entry extend that entry instead of adding
  // one: both ends of a fragment usually fall in the same peak, and a position-sorted file brings
  // a cell's fragments in a peak one after the other. Memory thus follows the number of distinct
  // (cell, peak) pairs, not the number of fragments.
  CsrMatrix& m = ds.matrix;
  std::vector<int32_t> entry_cells;  // entry k: cell entry_cells[k], peak m.indices[k], m.values[k]
  std::vector<int64_t> latest(ds.barcodes.size(), -1);  // per cell: its latest entry, or -1
  std::string chrom;      // chromosome of the previous fragment (never empty once set)...
  int32_t chrom_id = -1;  // ...and its handle in `index`
  std::vector<int32_t> hits;
  int64_t fragments = 0;
  absl::string_view line;
  absl::string_view fields[5];
  while (reader.Next(&line)) {
    if (line.empty() || line[0] == '#' || IsBlank(line)) continue;
    if (SplitFields(line, '\t', fields, 5) < 4) {
      return reader.LineError(
          "expected at least 4 tab-separated columns (chrom, start, end, barcode)");
    }
    int64_t start, end;
    if (!ParseInt64(fields[1], &start) || !ParseInt64(fields[2], &end)) {
      return reader.LineError(absl::StrCat("start and end must be integers, got '", fields[1],
                                           "' and '", fields[2], "'"));
    }
    if (start < 0) return reader.LineError(absl::StrCat("negative start ", start));
    if (start >= end) {
      return reader.LineError(absl::StrCat("start ", start, " >= end ", end, " (empty fragment)"));
    }
    if (fields[0].empty()) return reader.LineError("empty chromosome name");
    const absl::string_view barcode = fields[3];
    if (barcode.empty()) return reader.LineError("empty barcode");
    ++fragments;

    int32_t cell;
    auto it = rows.find(barcode);
    if (it != rows.end()) {
      cell = it->second;
    } else if (fixed_cells) {
      continue;
    } else {
      if (ds.barcodes.size() == static_cast<size_t>(INT32_MAX)) {
        return reader.LineError("more than 2^31-1 barcodes");
      }
      cell = static_cast<int32_t>(ds.barcodes.size());
      rows.emplace(std::string(barcode), cell);
      ds.barcodes.emplace_back(barcode);
      latest.push_back(-1);
    }

    if (fields[0] != chrom) {
      chrom.assign(fields[0].data(), fields[0].size());
      chrom_id = index.ChromosomeId(fields[0]);
    }
    if (chrom_id < 0) continue;
    for (const int64_t site : {start, end - 1}) {
      index.ContainingOn(chrom_id, site, &hits);
      for (const int32_t peak : hits) {
        const int64_t last = latest[cell];
        if (last >= 0 && m.indices[last] == peak) {
          m.values[last] += 1.0f;
          continue;
        }
        latest[cell] = static_cast<int64_t>(entry_cells.size());
        entry_cells.push_back(cell);
        m.indices.push_back(peak);
        m.values.push_back(1.0f);
      }
    }
  }
  FLS_RETURN_IF_ERROR(reader.status());
  if (fragments == 0) {
    return absl::InvalidArgumentError(absl::StrCat(reader.name(), ": no fragments"));
  }
  std::vector<int64_t>().swap(latest);

  m.rows = static_cast<int64_t>(ds.barcodes.size());
  m.cols = static_cast<int64_t>(peaks.size());
  CsrFromEntries(&entry_cells, &m);
  return ds;
}

}  // namespace flsailer::data
