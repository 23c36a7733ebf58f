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

// Accumulates T^T T Q and (TQ)^T (TQ) over rows [begin, end) into *power and *gram.
void AccumulateRows(const data::CsrMatrix& t, const RowMatrix& q, int64_t begin, int64_t end,
                    RowMatrix* power, RowMatrix* gram) {
  const int64_t l = q.cols();
  std::vector<double> y(static_cast<size_t>(l));
  const double* qd = q.data();
  double* pd = power->data();
  for (int64_t r = begin; r < end; ++r) {
    const int64_t kb = t.indptr[r], ke = t.indptr[r + 1];
    if (kb == ke) continue;
    std::fill(y.begin(), y.end(), 0.0);
    for (int64_t k = kb; k < ke; ++k) {
      const double v = t.value(k);
      const double* qrow = qd + static_cast<int64_t>(t.indices[k]) * l;
      for (int64_t c = 0; c < l; ++c) y[c] += v * qrow[c];
    }
    for (int64_t k = kb; k < ke; ++k) {
      const double v = t.value(k);
      double* prow = pd + static_cast<int64_t>(t.indices[k]) * l;
      for (int64_t c = 0; c < l; ++c) prow[c] += v * y[c];
    }
    // Gram: symmetric, fill the upper triangle here and mirror at the end.
    for (int64_t a = 0; a < l; ++a) {
      double* grow = gram->data() + a * l;
      const double ya = y[a];
      for (int64_t b = a; b < l; ++b) grow[b] += ya * y[b];
    }
  }
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
  const int64_t l = q.cols();
  SubspaceSums sums;
  sums.power = RowMatrix::Zero(q.rows(), l);
  sums.gram = RowMatrix::Zero(l, l);
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, t.rows / 256)));
  if (threads == 1) {
    AccumulateRows(t, q, 0, t.rows, &sums.power, &sums.gram);
  } else {
    // Split by non-zeros, not rows, so that threads get equal work; each has private sums.
    std::vector<SubspaceSums> partial(static_cast<size_t>(threads - 1));
    std::vector<std::thread> workers;
    std::vector<int64_t> bounds{0};
    for (int i = 1; i < threads; ++i) {
      const int64_t target = t.nnz() * i / threads;
      bounds.push_back(std::upper_bound(t.indptr.begin(), t.indptr.end(), target) -
                       t.indptr.begin() - 1);
    }
    bounds.push_back(t.rows);
    for (int i = 1; i < threads; ++i) {
      partial[i - 1].power = RowMatrix::Zero(q.rows(), l);
      partial[i - 1].gram = RowMatrix::Zero(l, l);
      workers.emplace_back(AccumulateRows, std::cref(t), std::cref(q), bounds[i], bounds[i + 1],
                           &partial[i - 1].power, &partial[i - 1].gram);
    }
    AccumulateRows(t, q, bounds[0], bounds[1], &sums.power, &sums.gram);
    for (auto& w : workers) w.join();
    for (const SubspaceSums& p : partial) {
      sums.power += p.power;
      sums.gram += p.gram;
    }
  }
  for (int64_t a = 0; a < l; ++a) {
    for (int64_t b = 0; b < a; ++b) sums.gram(a, b) = sums.gram(b, a);
  }
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

absl::StatusOr<SubspaceIteration> RunSubspaceIteration(
    const std::vector<const data::CsrMatrix*>& clients, const SubspaceOptions& options,
    int threads) {
  if (clients.empty()) return absl::InvalidArgumentError("subspace iteration: no clients");
  FLS_ASSIGN_OR_RETURN(SubspaceIteration it, SubspaceIteration::Start(clients[0]->cols, options));
  while (!it.done()) {
    SubspaceSums total;
    for (size_t c = 0; c < clients.size(); ++c) {
      FLS_ASSIGN_OR_RETURN(SubspaceSums local, LocalSubspaceSums(*clients[c], it.basis(), threads));
      if (c == 0) {
        total = std::move(local);
      } else {
        total.power += local.power;
        total.gram += local.gram;
      }
    }
    FLS_RETURN_IF_ERROR(it.Update(total));
  }
  return it;
}

}  // namespace flsailer::sampling
