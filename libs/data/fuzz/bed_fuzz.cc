// libFuzzer target: BED text, 10x features tables and peak names parse to valid intervals or an
// error.
#include <cstddef>
#include <cstdint>

#include "libs/data/peaks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flsailer::data;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto reader = flsailer::LineReader::FromString(text, "fuzz.bed");
  absl::StatusOr<std::vector<Peak>> peaks = ParseBed(*reader);
  if (peaks.ok()) {
    if (peaks->empty()) __builtin_trap();
    for (const Peak& p : *peaks) {
      if (p.chrom.empty() || p.start < 0 || p.start >= p.end) __builtin_trap();
    }
  }
  reader = flsailer::LineReader::FromString(text, "fuzz.tsv");
  absl::StatusOr<FeatureTable> features = ParseFeatures(*reader);
  if (features.ok()) {
    if (features->peaks.empty() || features->peaks.size() != features->rows.size()) {
      __builtin_trap();
    }
    for (size_t i = 0; i < features->rows.size(); ++i) {
      const Peak& p = features->peaks[i];
      if (p.chrom.empty() || p.start < 0 || p.start >= p.end) __builtin_trap();
      const bool increasing = i == 0 || features->rows[i] > features->rows[i - 1];
      if (features->rows[i] >= features->features || !increasing) __builtin_trap();
    }
  }
  absl::StatusOr<Peak> named = ParsePeakName(text);
  if (named.ok()) {
    if (named->start < 0 || named->start >= named->end) __builtin_trap();
    // A parsed name prints back to a name that parses to the same peak.
    absl::StatusOr<Peak> again = ParsePeakName(PeakName(*named));
    if (!again.ok() || !(*again == *named)) __builtin_trap();
  }
  return 0;
}
