#include "libs/eval/integration_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/eval/categories.h"
#include "libs/eval/chi_square.h"
#include "libs/eval/exact_knn.h"
#include "libs/eval/parallel.h"
#include "libs/eval/random.h"

namespace flsailer::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class DisjointSets {
 public:
  explicit DisjointSets(int64_t n) : parent_(static_cast<size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int64_t Find(int64_t x) {
    while (parent_[static_cast<size_t>(x)] != x) {
      parent_[static_cast<size_t>(x)] =
          parent_[static_cast<size_t>(parent_[static_cast<size_t>(x)])];
      x = parent_[static_cast<size_t>(x)];
    }
    return x;
  }
  void Union(int64_t a, int64_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent_[static_cast<size_t>(std::max(a, b))] = std::min(a, b);
  }

 private:
  std::vector<int64_t> parent_;
};

absl::Status CheckBatches(const std::vector<int32_t>& batches, int64_t cells) {
  if (static_cast<int64_t>(batches.size()) != cells) {
    return absl::InvalidArgumentError(
        absl::StrCat(batches.size(), " batches for ", cells, " cells"));
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("negative batch at cell ", i));
    }
  }
  return absl::OkStatus();
}

// harmony's Hbeta on distances shifted by their minimum: fills p (normalised) and returns H.
double EntropyAtBeta(const float* distances, int k, double beta, double* p) {
  const double d0 = distances[0];
  double sum = 0, weighted = 0;
  for (int j = 0; j < k; ++j) {
    const double d = distances[j] - d0;
    p[j] = std::exp(-d * beta);
    sum += p[j];
    weighted += d * p[j];
  }
  for (int j = 0; j < k; ++j) p[j] /= sum;
  return std::log(sum) + beta * weighted / sum;
}

}  // namespace

absl::StatusOr<double> GraphConnectivity(const KnnGraph& knn, const std::vector<int32_t>& labels) {
  if (static_cast<int64_t>(labels.size()) != knn.num_cells) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels.size(), " labels for ", knn.num_cells, " cells"));
  }
  std::vector<int32_t> codes;
  const int32_t num_labels = DenseCodes(labels, &codes);
  if (num_labels == 0) return kNaN;
  DisjointSets sets(knn.num_cells);
  for (int64_t i = 0; i < knn.num_cells; ++i) {
    const int32_t own = codes[static_cast<size_t>(i)];
    if (own < 0) continue;
    for (int j = 0; j < knn.k; ++j) {
      const int32_t other = knn.neighbor(i, j);
      if (codes[static_cast<size_t>(other)] == own) sets.Union(i, other);
    }
  }
  std::vector<int64_t> component_size(static_cast<size_t>(knn.num_cells), 0);
  std::vector<int64_t> label_size(static_cast<size_t>(num_labels), 0);
  std::vector<int64_t> largest(static_cast<size_t>(num_labels), 0);
  for (int64_t i = 0; i < knn.num_cells; ++i) {
    const int32_t own = codes[static_cast<size_t>(i)];
    if (own < 0) continue;
    ++label_size[static_cast<size_t>(own)];
    const int64_t size = ++component_size[static_cast<size_t>(sets.Find(i))];
    largest[static_cast<size_t>(own)] = std::max(largest[static_cast<size_t>(own)], size);
  }
  double total = 0;
  for (int32_t l = 0; l < num_labels; ++l) {
    total += static_cast<double>(largest[static_cast<size_t>(l)]) /
             static_cast<double>(label_size[static_cast<size_t>(l)]);
  }
  return total / num_labels;
}

absl::StatusOr<std::vector<double>> LocalInverseSimpson(const KnnGraph& knn,
                                                        const std::vector<int32_t>& categories,
                                                        double perplexity, int threads) {
  FLS_RETURN_IF_ERROR(CheckBatches(categories, knn.num_cells));
  if (!(perplexity > 0) || !std::isfinite(perplexity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LISI perplexity must be > 0, got ", perplexity));
  }
  const int k = static_cast<int>(std::min<double>(knn.k, std::floor(3 * perplexity)));
  if (k < 1) return absl::InvalidArgumentError("LISI needs at least one neighbour per cell");
  perplexity = std::min(perplexity, k / 3.0);
  std::vector<int32_t> codes;
  const int32_t num_categories = DenseCodes(categories, &codes);
  const double log_u = std::log(perplexity);
  constexpr double kTolerance = 1e-5;
  constexpr int kMaxTries = 50;
  std::vector<double> lisi(static_cast<size_t>(knn.num_cells));
  internal::ParallelFor(knn.num_cells, 512, threads, [&](int64_t begin, int64_t end) {
    std::vector<double> p(static_cast<size_t>(k)), mass(static_cast<size_t>(num_categories));
    for (int64_t i = begin; i < end; ++i) {
      const float* distances = &knn.distances[static_cast<size_t>(i * knn.k)];
      double beta = 1, beta_min = -std::numeric_limits<double>::infinity(),
             beta_max = std::numeric_limits<double>::infinity();
      double h_diff = EntropyAtBeta(distances, k, beta, p.data()) - log_u;
      for (int tries = 0; std::fabs(h_diff) > kTolerance && tries < kMaxTries; ++tries) {
        if (h_diff > 0) {
          beta_min = beta;
          beta = std::isinf(beta_max) ? beta * 2 : (beta + beta_max) / 2;
        } else {
          beta_max = beta;
          beta = std::isinf(beta_min) ? beta / 2 : (beta + beta_min) / 2;
        }
        h_diff = EntropyAtBeta(distances, k, beta, p.data()) - log_u;
      }
      std::fill(mass.begin(), mass.end(), 0.0);
      for (int j = 0; j < k; ++j) {
        mass[static_cast<size_t>(codes[static_cast<size_t>(knn.neighbor(i, j))])] +=
            p[static_cast<size_t>(j)];
      }
      double simpson = 0;
      for (double m : mass) simpson += m * m;
      lisi[static_cast<size_t>(i)] = 1 / simpson;
    }
  });
  return lisi;
}

absl::StatusOr<double> Ilisi(const KnnGraph& knn, const std::vector<int32_t>& batches,
                             double perplexity, int threads) {
  FLS_ASSIGN_OR_RETURN(std::vector<double> lisi,
                       LocalInverseSimpson(knn, batches, perplexity, threads));
  std::vector<int32_t> codes;
  const int32_t num_batches = DenseCodes(batches, &codes);
  if (num_batches < 2) return kNaN;
  // numpy's median: the mean of the two middle values for an even count.
  const size_t mid = lisi.size() / 2;
  std::nth_element(lisi.begin(), lisi.begin() + static_cast<std::ptrdiff_t>(mid), lisi.end());
  double median = lisi[mid];
  if (lisi.size() % 2 == 0) {
    median = (median +
              *std::max_element(lisi.begin(), lisi.begin() + static_cast<std::ptrdiff_t>(mid))) /
             2;
  }
  return (median - 1) / (num_batches - 1);
}

absl::StatusOr<double> KbetAcceptance(const data::DenseMatrix& points,
                                      const std::vector<int32_t>& labels,
                                      const std::vector<int32_t>& batches,
                                      const KbetOptions& options) {
  FLS_RETURN_IF_ERROR(ValidateEmbedding(points));
  if (static_cast<int64_t>(labels.size()) != points.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels.size(), " labels for ", points.rows, " cells"));
  }
  FLS_RETURN_IF_ERROR(CheckBatches(batches, points.rows));
  if (!(options.alpha > 0 && options.alpha < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kBET alpha must be in (0, 1), got ", options.alpha));
  }
  constexpr int64_t kMinCells = 10;
  std::vector<int32_t> label_codes, batch_codes;
  const int32_t num_labels = DenseCodes(labels, &label_codes);
  const int32_t num_batches = DenseCodes(batches, &batch_codes);
  std::vector<std::vector<int64_t>> groups(static_cast<size_t>(num_labels));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (label_codes[i] >= 0) {
      groups[static_cast<size_t>(label_codes[i])].push_back(static_cast<int64_t>(i));
    }
  }
  double total_rejection = 0;
  int64_t used = 0;
  std::vector<int64_t> batch_count(static_cast<size_t>(num_batches));
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<int64_t>& members = groups[g];
    const int64_t n = static_cast<int64_t>(members.size());
    std::fill(batch_count.begin(), batch_count.end(), 0);
    for (int64_t cell : members) {
      ++batch_count[static_cast<size_t>(batch_codes[static_cast<size_t>(cell)])];
    }
    int present = 0;
    for (int64_t c : batch_count) present += c > 0;
    if (n < kMinCells || present < 2) continue;
    const int64_t quarter_mean =
        static_cast<int64_t>(std::floor(static_cast<double>(n) / present / 4));
    const int k0 = static_cast<int>(std::min<int64_t>(70, std::max<int64_t>(10, quarter_mean)));
    const int64_t tested_count =
        options.max_tested_cells > 0 ? std::min(n, options.max_tested_cells) : n;
    const std::vector<int64_t> tested =
        internal::SampleIndices(n, tested_count, options.seed * 0x9e3779b97f4a7c15ULL + g);
    const int k = k0 - 1;
    std::vector<int32_t> neighbours(tested.size() * static_cast<size_t>(k));
    std::vector<float> distances(neighbours.size());
    internal::ExactKnn(points.data.data(), points.cols, points.rows, members, tested, k,
                       options.threads, neighbours.data(), distances.data());
    std::vector<double> observed(static_cast<size_t>(num_batches));
    int64_t rejected = 0;
    for (size_t t = 0; t < tested.size(); ++t) {
      std::fill(observed.begin(), observed.end(), 0.0);
      ++observed[static_cast<size_t>(
          batch_codes[static_cast<size_t>(members[static_cast<size_t>(tested[t])])])];
      for (int j = 0; j < k; ++j) {
        const int64_t cell =
            members[static_cast<size_t>(neighbours[t * static_cast<size_t>(k) + j])];
        ++observed[static_cast<size_t>(batch_codes[static_cast<size_t>(cell)])];
      }
      double chi2 = 0;
      for (int32_t b = 0; b < num_batches; ++b) {
        if (batch_count[static_cast<size_t>(b)] == 0) continue;
        const double expected =
            static_cast<double>(batch_count[static_cast<size_t>(b)]) / static_cast<double>(n) * k0;
        const double diff = observed[static_cast<size_t>(b)] - expected;
        chi2 += diff * diff / expected;
      }
      rejected += internal::ChiSquareSurvival(chi2, present - 1) < options.alpha;
    }
    total_rejection += static_cast<double>(rejected) / static_cast<double>(tested.size());
    ++used;
  }
  if (used == 0) return kNaN;
  return 1 - total_rejection / static_cast<double>(used);
}

}  // namespace flsailer::eval
