// `flsailer split --input PATH --by COLUMN --out DIR`: one dataset as several institutions, one
// .h5ad per institution cut along a metadata column (e.g. donor or sample; see sites.h), for
// trying a federation on data that lives in one place.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/load_flags.h"
#include "services/cli/sites.h"

namespace flsailer::cli {
namespace {

absl::Status Split(const data::Dataset& ds, const std::string& column, int institutions,
                   uint64_t seed, const std::string& dir) {
  const int c = ds.metadata.Find(column);
  if (c < 0) return absl::InvalidArgumentError(absl::StrCat("no metadata column '", column, "'"));
  FLS_ASSIGN_OR_RETURN(std::vector<Site> sites,
                       PlanSites(ds.metadata.columns[c], institutions, seed));
  FLS_RETURN_IF_ERROR(MakeDirectories(dir));
  for (const Site& site : sites) {
    const std::string path = absl::StrCat(dir, "/", site.id, ".h5ad");
    FLS_RETURN_IF_ERROR(data::WriteH5ad(path, SubsetCells(ds, site.rows)));
    std::printf("%s\t%zu cells\n", path.c_str(), site.rows.size());
  }
  return absl::OkStatus();
}

}  // namespace

int RunSplit(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer split --input PATH --by COLUMN --out DIR [--institutions N] [--seed S]\n"
      "Writes DIR/<id>.h5ad (cells, peaks, metadata) for each institution: by default one per\n"
      "value of the column, named after it; with more institutions the largest is halved\n"
      "(cells drawn with --seed) into <id>-1 and <id>-2, with fewer whole values are merged\n"
      "into site-1, site-2, ...\n",
      kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert({"input", "by", "out", "institutions", "seed"});
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("split", args.status(), usage);
  if (args->Has("help")) return PrintUsage("split", absl::OkStatus(), usage);
  auto input = args->Required("input");
  auto by = args->Required("by");
  auto out = args->Required("out");
  auto load = LoadOptionsFromArgs(*args);
  auto institutions = args->GetInt("institutions", 0);
  auto seed = args->GetInt("seed", 0);
  for (const absl::Status& s : {input.status(), by.status(), out.status(), load.status(),
                                institutions.status(), seed.status()}) {
    if (!s.ok()) return PrintUsage("split", s, usage);
  }
  auto ds = data::LoadDataset(*input, *load);
  if (!ds.ok()) return PrintError("split", ds.status());
  if (*institutions < 0 || *institutions > 1000 || *seed < 0) {
    return PrintUsage("split", absl::InvalidArgumentError(
                                   "--institutions must be in [0, 1000], --seed >= 0"), usage);
  }
  absl::Status s = Split(*ds, *by, static_cast<int>(*institutions),
                         static_cast<uint64_t>(*seed), *out);
  return s.ok() ? 0 : PrintError("split", s);
}

}  // namespace flsailer::cli
