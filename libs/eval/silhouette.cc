#include "libs/eval/silhouette.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/eval/categories.h"
#include "libs/eval/knn.h"
#include "libs/eval/packed_points.h"
#include "libs/eval/parallel.h"
#include "libs/eval/random.h"

namespace flsailer::eval {
namespace {

using internal::PackedPoints;

// Scored cells compared with one reference tile before moving to the next (cache reuse).
constexpr int64_t kScoredGroup = 16;

// Silhouettes within a reference set: `members` are rows of `points`, `codes[m]` in
// [0, num_codes) the group of member m, `scored` positions into `members`.
std::vector<double> SubsetSilhouettes(const data::DenseMatrix& points,
                                      const std::vector<int64_t>& members,
                                      const std::vector<int32_t>& codes, int32_t num_codes,
                                      const std::vector<int64_t>& scored, int threads) {
  const int64_t dims = points.cols;
  const PackedPoints packed(points.data.data(), dims, points.rows, members);
  std::vector<int64_t> counts(static_cast<size_t>(num_codes), 0);
  for (int32_t c : codes) ++counts[static_cast<size_t>(c)];
  std::vector<double> result(scored.size());
  internal::ParallelFor(
      static_cast<int64_t>(scored.size()), kScoredGroup, threads, [&](int64_t begin, int64_t end) {
        const size_t group = static_cast<size_t>(end - begin);
        std::vector<double> sums(group * static_cast<size_t>(num_codes), 0.0);
        std::vector<float> d2(PackedPoints::kTile);
        for (int64_t tile = 0; tile < packed.num_tiles(); ++tile) {
          const int64_t base = tile * PackedPoints::kTile;
          const int64_t size = packed.TileSize(tile);
          for (int64_t s = begin; s < end; ++s) {
            const int64_t row = members[static_cast<size_t>(scored[static_cast<size_t>(s)])];
            packed.SquaredDistances(&points.data[static_cast<size_t>(row * dims)], tile, d2.data());
            double* own_sums = &sums[static_cast<size_t>(s - begin) * num_codes];
            for (int64_t j = 0; j < size; ++j) {
              own_sums[codes[static_cast<size_t>(base + j)]] +=
                  std::sqrt(d2[static_cast<size_t>(j)]);
            }
          }
        }
        for (int64_t s = begin; s < end; ++s) {
          const double* own_sums = &sums[static_cast<size_t>(s - begin) * num_codes];
          const int32_t own = codes[static_cast<size_t>(scored[static_cast<size_t>(s)])];
          double silhouette = 0;
          if (counts[static_cast<size_t>(own)] > 1) {
            const double a =
                own_sums[own] / static_cast<double>(counts[static_cast<size_t>(own)] - 1);
            double b = std::numeric_limits<double>::infinity();
            for (int32_t c = 0; c < num_codes; ++c) {
              if (c == own) continue;
              b = std::min(b, own_sums[c] / static_cast<double>(counts[static_cast<size_t>(c)]));
            }
            const double denominator = std::max(a, b);
            silhouette = denominator > 0 && std::isfinite(b) ? (b - a) / denominator : 0.0;
          }
          result[static_cast<size_t>(s)] = silhouette;
        }
      });
  return result;
}

absl::Status CheckInputs(const data::DenseMatrix& points, const std::vector<int32_t>& labels) {
  FLS_RETURN_IF_ERROR(ValidateEmbedding(points));
  if (static_cast<int64_t>(labels.size()) != points.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels.size(), " labels for ", points.rows, " cells"));
  }
  return absl::OkStatus();
}

// Positions of the scored sample of a set of `size` members.
std::vector<int64_t> ScoredSample(int64_t size, const SilhouetteOptions& options, uint64_t stream) {
  const int64_t m = options.max_cells > 0 ? options.max_cells : size;
  return internal::SampleIndices(size, m, options.seed * 0x9e3779b97f4a7c15ULL + stream);
}

}  // namespace

absl::StatusOr<std::vector<double>> SilhouetteSamples(const data::DenseMatrix& points,
                                                      const std::vector<int32_t>& labels,
                                                      const std::vector<int64_t>& scored,
                                                      int threads) {
  FLS_RETURN_IF_ERROR(CheckInputs(points, labels));
  std::vector<int64_t> members, position(labels.size(), -1);
  std::vector<int32_t> member_labels;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    position[i] = static_cast<int64_t>(members.size());
    members.push_back(static_cast<int64_t>(i));
    member_labels.push_back(labels[i]);
  }
  std::vector<int64_t> scored_positions;
  if (scored.empty()) {
    for (size_t m = 0; m < members.size(); ++m) scored_positions.push_back(static_cast<int64_t>(m));
  } else {
    for (int64_t cell : scored) {
      if (cell < 0 || cell >= points.rows || position[static_cast<size_t>(cell)] < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("silhouette of cell ", cell, ", which is out of range or unlabelled"));
      }
      scored_positions.push_back(position[static_cast<size_t>(cell)]);
    }
  }
  std::vector<int32_t> codes;
  const int32_t num_codes = DenseCodes(member_labels, &codes);
  return SubsetSilhouettes(points, members, codes, num_codes, scored_positions, threads);
}

absl::StatusOr<double> LabelAsw(const data::DenseMatrix& points, const std::vector<int32_t>& labels,
                                const SilhouetteOptions& options) {
  FLS_RETURN_IF_ERROR(CheckInputs(points, labels));
  std::vector<int64_t> members;
  std::vector<int32_t> member_labels;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    members.push_back(static_cast<int64_t>(i));
    member_labels.push_back(labels[i]);
  }
  std::vector<int32_t> codes;
  const int32_t num_codes = DenseCodes(member_labels, &codes);
  if (num_codes < 2 || num_codes >= static_cast<int64_t>(members.size())) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const std::vector<int64_t> scored =
      ScoredSample(static_cast<int64_t>(members.size()), options, /*stream=*/0);
  const std::vector<double> s =
      SubsetSilhouettes(points, members, codes, num_codes, scored, options.threads);
  double sum = 0;
  for (double v : s) sum += v;
  return (sum / static_cast<double>(s.size()) + 1) / 2;
}

absl::StatusOr<double> BatchAsw(const data::DenseMatrix& points, const std::vector<int32_t>& labels,
                                const std::vector<int32_t>& batches,
                                const SilhouetteOptions& options) {
  FLS_RETURN_IF_ERROR(CheckInputs(points, labels));
  if (batches.size() != labels.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(batches.size(), " batches for ", points.rows, " cells"));
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("negative batch at cell ", i));
    }
  }
  std::vector<int32_t> label_codes;
  std::vector<int64_t> labelled;
  std::vector<int32_t> labelled_values;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    labelled.push_back(static_cast<int64_t>(i));
    labelled_values.push_back(labels[i]);
  }
  const int32_t num_labels = DenseCodes(labelled_values, &label_codes);
  std::vector<std::vector<int64_t>> groups(static_cast<size_t>(num_labels));
  for (size_t m = 0; m < labelled.size(); ++m) {
    groups[static_cast<size_t>(label_codes[m])].push_back(labelled[m]);
  }
  double total = 0;
  int64_t used = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<int64_t>& members = groups[g];
    std::vector<int32_t> member_batches, codes;
    for (int64_t cell : members) member_batches.push_back(batches[static_cast<size_t>(cell)]);
    const int32_t num_batches = DenseCodes(member_batches, &codes);
    if (num_batches == 1 || num_batches == static_cast<int64_t>(members.size())) continue;
    const std::vector<int64_t> scored =
        ScoredSample(static_cast<int64_t>(members.size()), options, /*stream=*/g + 1);
    const std::vector<double> s =
        SubsetSilhouettes(points, members, codes, num_batches, scored, options.threads);
    double sum = 0;
    for (double v : s) sum += 1 - std::fabs(v);
    total += sum / static_cast<double>(s.size());
    ++used;
  }
  if (used == 0) return std::numeric_limits<double>::quiet_NaN();
  return total / static_cast<double>(used);
}

}  // namespace flsailer::eval
