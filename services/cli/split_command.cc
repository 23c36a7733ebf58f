// `flsailer split --input PATH --by COLUMN --out DIR`: one dataset as several institutions, one
// .h5ad per value of a metadata column (e.g. donor or sample), for trying a federation on data
// that lives in one place.
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/pki/pki.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {
namespace {

// The cells of `rows`, with their barcodes and metadata.
data::Dataset Subset(const data::Dataset& ds, const std::vector<int64_t>& rows) {
  data::Dataset out;
  out.matrix = ds.matrix.SelectRows(rows);
  out.peaks = ds.peaks;
  out.metadata.names = ds.metadata.names;
  out.metadata.columns.resize(ds.metadata.columns.size());
  for (int64_t r : rows) {
    out.barcodes.push_back(ds.barcodes[r]);
    for (size_t c = 0; c < ds.metadata.columns.size(); ++c) {
      out.metadata.columns[c].push_back(ds.metadata.columns[c][r]);
    }
  }
  return out;
}

absl::Status Split(const data::Dataset& ds, const std::string& column, const std::string& dir) {
  const int c = ds.metadata.Find(column);
  if (c < 0) return absl::InvalidArgumentError(absl::StrCat("no metadata column '", column, "'"));
  std::map<std::string, std::vector<int64_t>> groups;
  for (int64_t r = 0; r < ds.matrix.rows; ++r) groups[ds.metadata.columns[c][r]].push_back(r);
  for (const auto& [value, rows] : groups) {
    // The value names a file and, usually, an institution: it must be a valid id.
    FLS_RETURN_IF_ERROR(pki::ValidateId(value));
  }
  FLS_RETURN_IF_ERROR(MakeDirectories(dir));
  for (const auto& [value, rows] : groups) {
    const std::string path = absl::StrCat(dir, "/", value, ".h5ad");
    FLS_RETURN_IF_ERROR(data::WriteH5ad(path, Subset(ds, rows)));
    std::printf("%s\t%zu cells\n", path.c_str(), rows.size());
  }
  return absl::OkStatus();
}

}  // namespace

int RunSplit(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer split --input PATH --by COLUMN --out DIR\n"
      "Writes DIR/<value>.h5ad for each value of the metadata column (cells, peaks, metadata).\n",
      kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert({"input", "by", "out"});
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("split", args.status(), usage);
  if (args->Has("help")) return PrintUsage("split", absl::OkStatus(), usage);
  auto input = args->Required("input");
  auto by = args->Required("by");
  auto out = args->Required("out");
  auto load = LoadOptionsFromArgs(*args);
  for (const absl::Status& s : {input.status(), by.status(), out.status(), load.status()}) {
    if (!s.ok()) return PrintUsage("split", s, usage);
  }
  auto ds = data::LoadDataset(*input, *load);
  if (!ds.ok()) return PrintError("split", ds.status());
  absl::Status s = Split(*ds, *by, *out);
  return s.ok() ? 0 : PrintError("split", s);
}

}  // namespace flsailer::cli
