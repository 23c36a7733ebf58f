#include "libs/sampling/subspace.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <utility>

#include "Eigen/Eigenvalues"
#include "Eigen/QR"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::sampling {
namespace {

// The two products T Q and T^T Y touch a row of Q (or of the result) per non-zero, at peak
// positions that jump around: on 10^5 peaks those rows do not fit in cache, and each visit is a
// cache miss (a plain row-by-row loop was 7x slower on 10^4 cells x 2x10^4 peaks). So both
// products go tile by tile: a block of peaks whose rows of Q (or of T^T Y) stay in cache while
// every row of T visits its entries in that block, with a per-row cursor into the sorted column
// indices. Peaks per block: 512 KiB of their rows (L2-resident), at least 64 peaks.
constexpr int64_t kBlockBytes = int64_t{512} << 10;
// Cells per chunk of T Q: every block of Q is read from memory once per chunk, so chunks are
// large (8 MiB of rows of T Q); they are also the unit of parallel work.
constexpr int64_t kChunkBytes = int64_t{8} << 20;

int64_t RowsPer(int64_t bytes, int64_t l) {
  return std::max<int64_t>(64, bytes / (static_cast<int64_t>(sizeof(double)) * l));
}

// The inner loops carry all the work, so they are vectorised (GCC's -O2 leaves loops of unknown
// trip count alone) and cloned for AVX2 where the CPU has it. Every clone computes the same
// values: no reassociation, and ISO C++ mode contracts no multiply-add into an FMA.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FLS_HOT                                                              \
  __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"), \
                 target_clones("avx2", "default")))
#else
#define FLS_HOT
#endif

// y[r - rows_begin] += sum of T[r, j] Q[j] over the entries of rows [rows_begin, rows_end) from
// cursor[r] on with j < peaks_end, advancing cursor[r] past them. Y rows are l wide.
FLS_HOT void GatherTile(const data::CsrMatrix& t, const double* __restrict q, int64_t l,
                        int64_t rows_begin, int64_t rows_end, int64_t peaks_end,
                        int64_t* __restrict cursor, double* __restrict y) {
  for (int64_t r = rows_begin; r < rows_end; ++r) {
    double* __restrict yr = y + (r - rows_begin) * l;
    int64_t k = cursor[r];
    const int64_t end = t.indptr[r + 1];
    for (; k < end && t.indices[k] < peaks_end; ++k) {
      const double v = t.value(k);
      const double* __restrict qj = q + static_cast<int64_t>(t.indices[k]) * l;
      for (int64_t c = 0; c < l; ++c) yr[c] += v * qj[c];
    }
    cursor[r] = k;
  }
}

// power[j] += sum over rows r of T[r, j] Y[r] for the peaks j < peaks_end not yet passed by
// cursor[r] (all rows of t); Y has t.rows rows of l.
FLS_HOT void ScatterTile(const data::CsrMatrix& t, const double* __restrict y, int64_t l,
                         int64_t peaks_end, int64_t* __restrict cursor,
                         double* __restrict power) {
  for (int64_t r = 0; r < t.rows; ++r) {
    const double* __restrict yr = y + r * l;
    int64_t k = cursor[r];
    const int64_t end = t.indptr[r + 1];
    for (; k < end && t.indices[k] < peaks_end; ++k) {
      const double v = t.value(k);
      double* __restrict pj = power + static_cast<int64_t>(t.indices[k]) * l;
      for (int64_t c = 0; c < l; ++c) pj[c] += v * yr[c];
    }
    cursor[r] = k;
  }
}

// Runs work(i) for i in [0, parts) on up to `threads` threads (part i on thread i % threads).
template <typename Work>
void ParallelParts(int64_t parts, int threads, const Work& work) {
  std::vector<std::thread> workers;
  for (int w = 1; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (int64_t i = w; i < parts; i += threads) work(i);
    });
  }
  for (int64_t i = 0; i < parts; i += threads) work(i);
  for (std::thread& w : workers) w.join();
}

// Thin Q factor of a tall matrix (columns orthonormal).
RowMatrix Orthonormalise(const RowMatrix& a) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd thin = qr.householderQ() * Eigen::MatrixXd::Identity(a.rows(), a.cols());
  return thin;
}

RowMatrix Gaussian(int64_t rows, int64_t cols, uint64_t seed) {
  // mt19937_64 + Box-Muller of our own: std::normal_distribution is not specified bit-for-bit,
  // and the basis must be identical on every platform that joins a federation.
  std::mt19937_64 rng(seed);
  RowMatrix m(rows, cols);
  const double two_pi = 6.283185307179586;
  for (int64_t i = 0; i < m.size(); i += 2) {
    const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    m.data()[i] = radius * std::cos(two_pi * u2);
    if (i + 1 < m.size()) m.data()[i + 1] = radius * std::sin(two_pi * u2);
  }
  return m;
}

absl::Status CheckOptions(int64_t peaks, const SubspaceOptions& options) {
  if (peaks < 1) return absl::InvalidArgumentError("subspace iteration: no peaks");
  if (options.rank < 1) return absl::InvalidArgumentError("subspace iteration: rank must be >= 1");
  if (options.oversampling < 0 || options.power_iterations < 0) {
    return absl::InvalidArgumentError(
        "subspace iteration: oversampling and power iterations must be >= 0");
  }
  if (options.rank > peaks) {
    return absl::InvalidArgumentError(absl::StrCat("subspace iteration: rank ", options.rank,
                                                   " exceeds the number of peaks ", peaks));
  }
  return absl::OkStatus();
}

int64_t Width(int64_t peaks, const SubspaceOptions& options) {
  return std::min<int64_t>(peaks, static_cast<int64_t>(options.rank) + options.oversampling);
}

}  // namespace

absl::StatusOr<SubspaceSums> LocalSubspaceSums(const data::CsrMatrix& t, const RowMatrix& q,
                                               int threads) {
  if (q.rows() != t.cols) {
    return absl::InvalidArgumentError(absl::StrCat("subspace sums: basis has ", q.rows(),
                                                   " rows for ", t.cols, " peaks"));
  }
  const int64_t l = q.cols(), p = q.rows(), n = t.rows;
  threads = std::max(1, threads);
  // Y = T Q, by chunks of cells (disjoint rows of Y, so chunks run in parallel).
  RowMatrix y = RowMatrix::Zero(n, l);
  const int64_t block = RowsPer(kBlockBytes, l);
  // At least one chunk per thread.
  const int64_t chunk =
      std::max<int64_t>(1, std::min(RowsPer(kChunkBytes, l), (n + threads - 1) / threads));
  std::vector<int64_t> cursor(t.indptr.begin(), t.indptr.end() - 1);
  ParallelParts((n + chunk - 1) / chunk, threads, [&](int64_t i) {
    const int64_t begin = i * chunk, end = std::min(n, begin + chunk);
    for (int64_t peaks_end = block; peaks_end < p + block; peaks_end += block) {
      GatherTile(t, q.data(), l, begin, end, peaks_end, cursor.data(), y.data() + begin * l);
    }
  });
  SubspaceSums sums;
  sums.gram = y.transpose() * y;
  // T^T Y, by blocks of peaks (disjoint rows of the result). Each thread owns a contiguous range
  // of blocks and a cursor per cell that it advances block after block.
  sums.power = RowMatrix::Zero(p, l);
  const int64_t blocks = (p + block - 1) / block;
  const int parts = static_cast<int>(std::min<int64_t>(threads, blocks));
  ParallelParts(parts, parts, [&](int64_t part) {
    const int64_t first = blocks * part / parts, last = blocks * (part + 1) / parts;
    std::vector<int64_t> own(static_cast<size_t>(n));
    const auto indices = t.indices.begin();
    const auto first_peak = static_cast<int32_t>(std::min(p, first * block));
    for (int64_t r = 0; r < n; ++r) {
      own[r] = std::lower_bound(indices + t.indptr[r], indices + t.indptr[r + 1], first_peak) -
               indices;
    }
    for (int64_t b = first; b < last; ++b) {
      ScatterTile(t, y.data(), l, std::min(p, (b + 1) * block), own.data(), sums.power.data());
    }
  });
  return sums;
}

absl::StatusOr<SubspaceIteration> SubspaceIteration::Start(int64_t peaks,
                                                           const SubspaceOptions& options) {
  FLS_RETURN_IF_ERROR(CheckOptions(peaks, options));
  SubspaceIteration it;
  it.options_ = options;
  it.q_ = Orthonormalise(Gaussian(peaks, Width(peaks, options), options.seed));
  return it;
}

absl::StatusOr<SubspaceIteration> SubspaceIteration::WarmStart(const RowMatrix& warm,
                                                               const SubspaceOptions& options) {
  FLS_RETURN_IF_ERROR(CheckOptions(warm.rows(), options));
  const int64_t l = Width(warm.rows(), options);
  RowMatrix start = Gaussian(warm.rows(), l, options.seed);
  const int64_t keep = std::min<int64_t>(l, warm.cols());
  start.leftCols(keep) = warm.leftCols(keep);
  SubspaceIteration it;
  it.options_ = options;
  it.q_ = Orthonormalise(start);
  return it;
}

absl::Status SubspaceIteration::Update(const SubspaceSums& summed) {
  if (done_) return absl::FailedPreconditionError("subspace iteration already finished");
  if (summed.power.rows() != q_.rows() || summed.power.cols() != q_.cols() ||
      summed.gram.rows() != q_.cols() || summed.gram.cols() != q_.cols()) {
    return absl::InvalidArgumentError("subspace iteration: sums have the wrong shape");
  }
  if (!summed.power.allFinite() || !summed.gram.allFinite()) {
    return absl::InvalidArgumentError("subspace iteration: sums contain NaN or Inf");
  }
  if (needs_power_step()) {
    q_ = Orthonormalise(summed.power);
    ++steps_done_;
    return absl::OkStatus();
  }
  // Rayleigh-Ritz: Q^T T^T T Q = U diag(sigma^2) U^T.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(Eigen::MatrixXd(summed.gram));
  if (eig.info() != Eigen::Success) {
    return absl::InternalError("subspace iteration: eigendecomposition did not converge");
  }
  const int64_t l = q_.cols();
  const int64_t k = std::min<int64_t>(options_.rank, l);
  Eigen::MatrixXd u(l, k);
  sigma_.resize(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {  // eigenvalues come ascending
    u.col(i) = eig.eigenvectors().col(l - 1 - i);
    sigma_[i] = std::sqrt(std::max(0.0, eig.eigenvalues()(l - 1 - i)));
  }
  v_ = q_ * u;
  done_ = true;
  return absl::OkStatus();
}

absl::StatusOr<SubspaceSums> SumLocalSubspaceSums(
    const std::vector<const data::CsrMatrix*>& clients, const RowMatrix& q, int threads) {
  if (clients.empty()) return absl::InvalidArgumentError("subspace sums: no clients");
  FLS_ASSIGN_OR_RETURN(SubspaceSums total, LocalSubspaceSums(*clients[0], q, threads));
  for (size_t c = 1; c < clients.size(); ++c) {
    FLS_ASSIGN_OR_RETURN(SubspaceSums local, LocalSubspaceSums(*clients[c], q, threads));
    total.power += local.power;
    total.gram += local.gram;
  }
  return total;
}

absl::StatusOr<SubspaceIteration> RunSubspaceIteration(
    const std::vector<const data::CsrMatrix*>& clients, const SubspaceOptions& options,
    int threads) {
  if (clients.empty()) return absl::InvalidArgumentError("subspace iteration: no clients");
  FLS_ASSIGN_OR_RETURN(SubspaceIteration it, SubspaceIteration::Start(clients[0]->cols, options));
  while (!it.done()) {
    FLS_ASSIGN_OR_RETURN(SubspaceSums total, SumLocalSubspaceSums(clients, it.basis(), threads));
    FLS_RETURN_IF_ERROR(it.Update(total));
  }
  return it;
}

}  // namespace flsailer::sampling
