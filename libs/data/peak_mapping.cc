// Placeholder until peak mapping lands.
#include "libs/data/peak_mapping.h"

namespace flsailer::data {
absl::StatusOr<CsrMatrix> MapToReference(const CsrMatrix&, const std::vector<Peak>&,
                                         const std::vector<Peak>&, PeakMappingStats*) {
  return absl::UnimplementedError("mapping");
}
}  // namespace flsailer::data
