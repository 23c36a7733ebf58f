#include "libs/secagg/neighbour_graph.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::secagg {
namespace {

// Uniform integers from a keystream, by rejection (no modulo bias), so that every platform
// draws the same graph from the same seed (std::uniform_int_distribution would not).
class UniformDraws {
 public:
  explicit UniformDraws(MaskGenerator generator) : generator_(std::move(generator)) {}

  // Uniform in [0, bound). REQUIRES: bound >= 1.
  absl::StatusOr<uint64_t> Below(uint64_t bound) {
    // Values below 2^64 mod bound are the surplus that would bias r % bound.
    const uint64_t surplus = (0 - bound) % bound;
    while (true) {
      FLS_ASSIGN_OR_RETURN(uint64_t r, Next());
      if (r >= surplus) return r % bound;
    }
  }

 private:
  absl::StatusOr<uint64_t> Next() {
    if (next_ == buffer_.size()) {
      buffer_.assign(256, 0);
      FLS_RETURN_IF_ERROR(generator_.Fill(position_, absl::MakeSpan(buffer_)));
      position_ += buffer_.size();
      next_ = 0;
    }
    return buffer_[next_++];
  }

  MaskGenerator generator_;
  std::vector<uint64_t> buffer_;
  size_t next_ = 0;
  uint64_t position_ = 0;
};

}  // namespace

NeighbourGraph NeighbourGraph::Complete(int n) { return NeighbourGraph(n, n - 1, true); }

absl::StatusOr<NeighbourGraph> NeighbourGraph::RandomHarary(int n, int degree, const Key& seed) {
  if (n < 3 || degree < 2 || degree > n - 1 || degree % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a Harary graph needs an even degree k with 2 <= k <= n - 1; got n = ", n,
                     ", k = ", degree));
  }
  FLS_ASSIGN_OR_RETURN(MaskGenerator generator, MaskGenerator::Create(seed));
  UniformDraws draws(std::move(generator));
  // vertex[p] = the Harary vertex of participant p (Fisher-Yates), participant[v] its inverse.
  std::vector<int> vertex(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) vertex[static_cast<size_t>(p)] = p;
  for (int i = n - 1; i > 0; --i) {
    FLS_ASSIGN_OR_RETURN(uint64_t j, draws.Below(static_cast<uint64_t>(i) + 1));
    std::swap(vertex[static_cast<size_t>(i)], vertex[j]);
  }
  std::vector<int> participant(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) participant[static_cast<size_t>(vertex[static_cast<size_t>(p)])] = p;

  NeighbourGraph graph(n, degree, false);
  graph.neighbours_.resize(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    std::vector<int>& out = graph.neighbours_[static_cast<size_t>(p)];
    const int v = vertex[static_cast<size_t>(p)];
    // k/2 <= (n-1)/2, so v + d and v - d never meet: exactly k distinct neighbours.
    for (int d = 1; d <= degree / 2; ++d) {
      out.push_back(participant[static_cast<size_t>((v + d) % n)]);
      out.push_back(participant[static_cast<size_t>((v - d + n) % n)]);
    }
    std::sort(out.begin(), out.end());
  }
  return graph;
}

std::vector<int> NeighbourGraph::Neighbours(int i) const {
  if (!complete_) return neighbours_[static_cast<size_t>(i)];
  std::vector<int> out;
  out.reserve(static_cast<size_t>(size_ > 0 ? size_ - 1 : 0));
  for (int j = 0; j < size_; ++j) {
    if (j != i) out.push_back(j);
  }
  return out;
}

bool NeighbourGraph::AreNeighbours(int i, int j) const {
  if (i == j) return false;
  if (complete_) return true;
  const std::vector<int>& list = neighbours_[static_cast<size_t>(i)];
  return std::binary_search(list.begin(), list.end(), j);
}

}  // namespace flsailer::secagg
