// flsailer-read-dataset FORMAT PATH: reads an HDF5-based dataset (FORMAT "h5ad" or "10x-h5") and
// writes it to descriptor 3 for ReadInHelperProcess (isolated_reader.h). Not meant to be run by
// hand: it exists so that a crash of libhdf5 on a corrupt file ends this process, not the caller.
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "libs/data/hdf5_formats.h"
#include "libs/data/isolated_reader.h"

int main(int argc, char** argv) {
  using flsailer::data::Dataset;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s h5ad|10x-h5 PATH (output on descriptor %d)\n", argv[0],
                 flsailer::data::kHelperOutputFd);
    return 2;
  }
  FILE* out = fdopen(flsailer::data::kHelperOutputFd, "wb");
  if (out == nullptr) {
    std::fprintf(stderr, "%s: descriptor %d is not open for writing\n", argv[0],
                 flsailer::data::kHelperOutputFd);
    return 2;
  }
  const std::string format = argv[1];
  absl::StatusOr<Dataset> result =
      format == "h5ad"     ? flsailer::data::ReadH5ad(argv[2])
      : format == "10x-h5" ? flsailer::data::ReadTenxH5(argv[2])
                           : absl::StatusOr<Dataset>(absl::InvalidArgumentError(
                                 "flsailer-read-dataset: unknown format " + format));
  return flsailer::data::WriteReaderResult(result, out) ? 0 : 2;
}
