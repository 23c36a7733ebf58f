// Placeholder until the HDF5 readers land.
#include "libs/data/hdf5_formats.h"

namespace flsailer::data {
absl::StatusOr<Dataset> ReadTenxH5(const std::string&) { return absl::UnimplementedError("h5"); }
absl::StatusOr<Dataset> ReadH5ad(const std::string&) { return absl::UnimplementedError("h5ad"); }
absl::Status WriteH5ad(const std::string&, const Dataset&) { return absl::UnimplementedError("h5ad"); }
}  // namespace flsailer::data
