// Runs a dataset reader in a separate process, so that a crash inside a third-party library on a
// corrupt file becomes an error instead of taking the caller down.
//
// Why: libhdf5 1.10 (Debian 12) reads out of bounds on some corrupt .h5ad files (its global heap of
// variable-length strings); no check of ours can prevent that. The helper program
// flsailer-read-dataset (read_dataset_main.cc) reads the file and sends the Dataset back through
// an unlinked temporary file on its descriptor 3; the caller never touches libhdf5 state.
//
// Why a separate program rather than fork(): the callers are multithreaded (gRPC, training), and a
// forked copy of such a process can block forever on a lock another thread held at the fork. The
// helper is started with posix_spawn, which is safe from any thread.
//
// Cost: one process start and one extra write and read of the dataset through the page cache.
// Thread safety: ReadInHelperProcess may run concurrently from any number of threads.
#ifndef FLSAILER_LIBS_DATA_ISOLATED_READER_H_
#define FLSAILER_LIBS_DATA_ISOLATED_READER_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::data {

inline constexpr char kHelperReaderName[] = "flsailer-read-dataset";
// The descriptor the helper writes its result to.
inline constexpr int kHelperOutputFd = 3;

// The helper program: $FLSAILER_READ_DATASET if set, else flsailer-read-dataset next to the
// running executable, else the one in the build tree. NotFound names the places looked in.
absl::StatusOr<std::string> HelperReaderPath();

// Runs `command` + {path} (command[0] is a path, started with posix_spawn) and returns the Dataset
// it writes with WriteReaderResult to descriptor kHelperOutputFd. A reader's own error comes back
// with its code and message. If the reader dies of a signal: DataLoss "<path>: the reader crashed
// (signal N): the file is corrupt or not what it claims"; any other failure: Internal.
absl::StatusOr<Dataset> ReadInHelperProcess(const std::vector<std::string>& command,
                                            const std::string& path);

// The helper's side: writes `result` (a Dataset or the error) to `out` in the private format that
// ReadInHelperProcess reads. False if writing failed.
bool WriteReaderResult(const absl::StatusOr<Dataset>& result, FILE* out);

}  // namespace flsailer::data

#endif  // FLSAILER_LIBS_DATA_ISOLATED_READER_H_
