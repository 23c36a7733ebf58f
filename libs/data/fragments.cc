// Placeholder until fragment counting lands.
#include "libs/data/fragments.h"

namespace flsailer::data {
absl::StatusOr<Dataset> CountFragments(LineReader&, const std::vector<Peak>&,
                                       const FragmentCountOptions&) {
  return absl::UnimplementedError("fragments");
}
}  // namespace flsailer::data
