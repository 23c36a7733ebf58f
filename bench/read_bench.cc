// read_bench: times reading one cells x peaks file the way FL-Sailer reads it and reports the
// process's peak memory against the size of the resulting CSR matrix.
//
//   read_bench FILE [REPEATS]   FILE: matrix.mtx[.gz] or .h5ad
//
// Prints one line of key=value figures (median seconds over REPEATS, peak RSS). Run it once per
// format in a fresh process so that the peak memory belongs to that format alone.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "libs/data/hdf5_formats.h"
#include "libs/data/matrix_market.h"

namespace {

absl::StatusOr<flsailer::data::CsrMatrix> Read(const std::string& path) {
  if (absl::EndsWith(path, ".h5ad")) {
    auto ds = flsailer::data::ReadH5ad(path);
    if (!ds.ok()) return ds.status();
    return std::move(ds->matrix);
  }
  return flsailer::data::ReadMatrixMarket(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: read_bench FILE [REPEATS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "read_bench: cannot stat %s\n", path.c_str());
    return 1;
  }
  std::vector<double> seconds;
  int64_t nnz = 0;
  size_t csr_bytes = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto m = Read(path);
    const auto stop = std::chrono::steady_clock::now();
    if (!m.ok()) {
      std::fprintf(stderr, "read_bench: %s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    nnz = m->nnz();
    csr_bytes = m->MemoryBytes();
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double peak_rss = static_cast<double>(usage.ru_maxrss) * 1024.0;
  std::printf("file=%s file_mb=%.1f nnz=%lld median_s=%.3f file_mb_per_s=%.1f csr_mb=%.1f "
              "peak_rss_mb=%.1f peak_over_csr=%.2f repeats=%d\n",
              path.c_str(), st.st_size / 1e6, static_cast<long long>(nnz), median,
              st.st_size / 1e6 / median, csr_bytes / 1e6, peak_rss / 1e6, peak_rss / csr_bytes,
              repeats);
  return 0;
}
