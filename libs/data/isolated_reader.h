// Runs a dataset reader in a child process, so that a crash inside a third-party library on a
// corrupt file becomes an error instead of taking the caller down.
//
// Why: libhdf5 1.10 (Debian 12) reads out of bounds on some corrupt .h5ad files (its global heap of
// variable-length strings); no check of ours can prevent that. The child reads the file and sends
// the Dataset back through an unlinked temporary file; the parent never touches libhdf5 state.
//
// Cost: one extra write and read of the dataset through the page cache (~1 GB/s). The child is
// created with fork(): call this from a thread that holds no locks the reader needs.
#ifndef FLSAILER_LIBS_DATA_ISOLATED_READER_H_
#define FLSAILER_LIBS_DATA_ISOLATED_READER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

// Returns read(path) computed in a child process. If the child dies (signal, abort), returns
// DataLoss "<path>: the reader crashed (signal N): the file is corrupt or not what it claims".
absl::StatusOr<Dataset> ReadInChildProcess(
    const std::string& path, const std::function<absl::StatusOr<Dataset>(const std::string&)>& read);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_ISOLATED_READER_H_
