// `flsailer inspect PATH`: what a dataset holds, before anyone trains on it.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "libs/data/dataset.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/load_flags.h"
#include "services/cli/quantiles.h"

namespace flsailer::cli {
namespace {

constexpr size_t kMaxCategories = 50;

void PrintQuantiles(const char* what, std::vector<double> values) {
  const FiveNumbers q = Summarise(std::move(values));
  std::printf("%-22s min %.0f  q25 %.0f  median %.0f  q75 %.0f  max %.0f\n", what, q.min, q.q25,
              q.median, q.q75, q.max);
}

void PrintUsage() {
  std::fprintf(stderr,
               "usage: flsailer inspect PATH [flags]\n"
               "PATH: a 10x folder (matrix.mtx[.gz], peaks.bed, barcodes.tsv), a 10x .h5,\n"
               "an AnnData .h5ad, or a fragments.tsv.gz (with --reference).\n%s",
               kLoadFlagsHelp);
}

}  // namespace

int RunInspect(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, LoadFlagNames(), {"help"});
  if (!args.ok() || args->Has("help") || args->positional().size() != 1) {
    if (!args.ok()) std::fprintf(stderr, "flsailer inspect: %s\n", args.status().ToString().c_str());
    PrintUsage();
    return args.ok() && args->Has("help") ? 0 : 2;
  }
  auto options = LoadOptionsFromArgs(*args);
  if (!options.ok()) {
    std::fprintf(stderr, "flsailer inspect: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  const std::string path = args->positional()[0];
  auto ds = data::LoadDataset(path, *options);
  if (!ds.ok()) {
    std::fprintf(stderr, "flsailer inspect: %s\n", std::string(ds.status().message()).c_str());
    return 1;
  }
  const data::CsrMatrix& m = ds->matrix;
  std::printf("dataset                %s\n", path.c_str());
  std::printf("cells                  %lld\n", static_cast<long long>(m.rows));
  std::printf("peaks                  %lld\n", static_cast<long long>(m.cols));
  std::printf("non-zeros              %lld\n", static_cast<long long>(m.nnz()));
  std::printf("density                %.4f%%\n", 100.0 * m.density());
  std::printf("values                 %s\n", m.is_binary() ? "binary" : "counts");
  std::printf("CSR memory             %.1f MiB\n", m.MemoryBytes() / 1048576.0);
  PrintQuantiles("counts per cell", m.RowSums());
  std::vector<double> open(m.rows);
  for (int64_t r = 0; r < m.rows; ++r) open[r] = static_cast<double>(m.row_nnz(r));
  PrintQuantiles("open peaks per cell", open);
  const std::vector<int64_t> col_nnz = m.ColumnNnz();
  const int64_t never_open = std::count(col_nnz.begin(), col_nnz.end(), 0);
  std::printf("peaks open in no cell  %lld\n", static_cast<long long>(never_open));

  const data::CellMetadata& meta = ds->metadata;
  if (meta.empty()) {
    std::printf("metadata               none\n");
    return 0;
  }
  for (size_t c = 0; c < meta.names.size(); ++c) {
    std::map<std::string, int64_t> counts;
    for (const std::string& v : meta.columns[c]) {
      ++counts[v];
      if (counts.size() > kMaxCategories) break;
    }
    if (counts.size() > kMaxCategories) {
      std::printf("\ncolumn %-15s (more than %zu distinct values)\n", meta.names[c].c_str(),
                  kMaxCategories);
      continue;
    }
    std::printf("\ncolumn %s (%zu values)\n", meta.names[c].c_str(), counts.size());
    for (const auto& [value, n] : counts) {
      std::printf("  %-30s %8lld  %5.1f%%\n", value.empty() ? "(missing)" : value.c_str(),
                  static_cast<long long>(n), 100.0 * n / std::max<int64_t>(1, m.rows));
    }
  }
  return 0;
}

}  // namespace flsailer::cli
