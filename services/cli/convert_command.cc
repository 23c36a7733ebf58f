// `flsailer convert INPUT --out OUT.h5ad`: any supported input to an AnnData file.
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "libs/data/dataset.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/load_flags.h"

namespace flsailer::cli {

int RunConvert(int argc, char** argv) {
  std::set<std::string> flags = LoadFlagNames();
  flags.insert("out");
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok() || args->Has("help") || args->positional().size() != 1 || !args->Has("out")) {
    if (!args.ok()) std::fprintf(stderr, "flsailer convert: %s\n", args.status().ToString().c_str());
    std::fprintf(stderr,
                 "usage: flsailer convert INPUT --out OUT.h5ad [flags]\n"
                 "Reads INPUT (10x folder, .h5, .h5ad, fragments) and writes an AnnData file with\n"
                 "X (csr_matrix), obs (barcodes, metadata columns) and var (peaks).\n%s",
                 kLoadFlagsHelp);
    return args.ok() && args->Has("help") ? 0 : 2;
  }
  const std::string out = args->Get("out");
  if (!absl::EndsWith(out, ".h5ad")) {
    std::fprintf(stderr, "flsailer convert: --out must end in .h5ad\n");
    return 2;
  }
  auto options = LoadOptionsFromArgs(*args);
  if (!options.ok()) {
    std::fprintf(stderr, "flsailer convert: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  auto ds = data::LoadDataset(args->positional()[0], *options);
  if (!ds.ok()) {
    std::fprintf(stderr, "flsailer convert: %s\n", std::string(ds.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = data::WriteH5ad(out, *ds); !s.ok()) {
    std::fprintf(stderr, "flsailer convert: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("wrote %s: %lld cells x %lld peaks, %lld non-zeros\n", out.c_str(),
              static_cast<long long>(ds->matrix.rows), static_cast<long long>(ds->matrix.cols),
              static_cast<long long>(ds->matrix.nnz()));
  return 0;
}

}  // namespace flsailer::cli
