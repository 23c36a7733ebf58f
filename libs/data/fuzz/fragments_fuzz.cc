// libFuzzer target: any bytes given to CountFragments yield a valid dataset or an error, and an
// allow-list only selects rows of the unrestricted count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "libs/data/fragments.h"

namespace {

using flsailer::data::CsrMatrix;
using flsailer::data::Dataset;
using flsailer::data::Peak;

// Overlapping, nested, duplicated and adjacent peaks on two chromosomes.
const std::vector<Peak>& FuzzPeaks() {
  static const std::vector<Peak> peaks = {
      {"chr1", 100, 200},
      {"chr1", 0, 10},
      {"chr1", 5, 20},
      {"chr1", 5, 20},
      {"chr1", 20, 30},
      {"chr2", 3, 4},
      {"chr1", 0, 1000},
  };
  return peaks;
}

bool SameRow(const CsrMatrix& a, int64_t ra, const CsrMatrix& b, int64_t rb) {
  return std::equal(a.indices.begin() + a.indptr[ra], a.indices.begin() + a.indptr[ra + 1],
                    b.indices.begin() + b.indptr[rb], b.indices.begin() + b.indptr[rb + 1]) &&
         std::equal(a.values.begin() + a.indptr[ra], a.values.begin() + a.indptr[ra + 1],
                    b.values.begin() + b.indptr[rb], b.values.begin() + b.indptr[rb + 1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flsailer::data;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto reader = flsailer::LineReader::FromString(text, "fuzz.tsv");
  absl::StatusOr<Dataset> all = CountFragments(*reader, FuzzPeaks());
  if (all.ok()) {
    if (!all->Validate().ok() || all->barcodes.empty() || all->peaks != FuzzPeaks()) {
      __builtin_trap();
    }
    for (float v : all->matrix.values) {
      if (v < 1 || v != static_cast<float>(static_cast<int64_t>(v))) __builtin_trap();
    }
  }

  FragmentCountOptions options;
  options.allowlist = {"B", "A", "AAACGAAAGAGCGAAA-1"};
  reader = flsailer::LineReader::FromString(text, "fuzz.tsv");
  absl::StatusOr<Dataset> some = CountFragments(*reader, FuzzPeaks(), options);
  // Every line is checked whether or not its barcode is kept: the outcome cannot differ.
  if (some.ok() != all.ok()) __builtin_trap();
  if (!some.ok()) return 0;
  if (!some->Validate().ok() || some->barcodes != options.allowlist) __builtin_trap();
  for (size_t i = 0; i < options.allowlist.size(); ++i) {
    auto it = std::find(all->barcodes.begin(), all->barcodes.end(), options.allowlist[i]);
    if (it == all->barcodes.end()) {
      if (some->matrix.row_nnz(static_cast<int64_t>(i)) != 0) __builtin_trap();
    } else if (!SameRow(some->matrix, static_cast<int64_t>(i), all->matrix,
                        it - all->barcodes.begin())) {
      __builtin_trap();
    }
  }
  return 0;
}
