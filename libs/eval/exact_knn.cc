#include "libs/eval/exact_knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "libs/eval/packed_points.h"
#include "libs/eval/parallel.h"

namespace flsailer::eval::internal {
namespace {

// Queries compared with one reference tile before moving to the next: the tile stays in cache
// while their candidate lists are updated.
constexpr int64_t kQueryGroup = 32;

// The k best (squared distance, index) candidates seen so far, as a max-heap on distance.
class TopK {
 public:
  explicit TopK(int k) : k_(static_cast<size_t>(k)) { heap_.reserve(k_); }

  // Distance a candidate must beat to enter.
  float bound() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().first;
  }
  void Push(float d2, int32_t index) {
    if (heap_.size() < k_) {
      heap_.emplace_back(d2, index);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (std::make_pair(d2, index) < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = {d2, index};
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  // Writes the candidates nearest first and resets the list.
  void Drain(int32_t* indices, float* distances) {
    std::sort(heap_.begin(), heap_.end());
    for (size_t j = 0; j < heap_.size(); ++j) {
      indices[j] = heap_[j].second;
      distances[j] = std::sqrt(heap_[j].first);
    }
    heap_.clear();
  }

 private:
  size_t k_;
  std::vector<std::pair<float, int32_t>> heap_;
};

}  // namespace

void ExactKnn(const float* points, int64_t dims, int64_t n, const std::vector<int64_t>& members,
              const std::vector<int64_t>& queries, int k, int threads, int32_t* indices,
              float* distances) {
  const PackedPoints packed(points, dims, n, members);
  const int64_t num_queries =
      queries.empty() ? packed.size() : static_cast<int64_t>(queries.size());
  ParallelFor(num_queries, kQueryGroup, threads, [&](int64_t begin, int64_t end) {
    std::vector<TopK> best(static_cast<size_t>(end - begin), TopK(k));
    std::vector<float> d2(PackedPoints::kTile);
    for (int64_t tile = 0; tile < packed.num_tiles(); ++tile) {
      const int64_t base = tile * PackedPoints::kTile;
      const int64_t size = packed.TileSize(tile);
      for (int64_t q = begin; q < end; ++q) {
        const int64_t self = queries.empty() ? q : queries[static_cast<size_t>(q)];
        const int64_t row = members.empty() ? self : members[static_cast<size_t>(self)];
        packed.SquaredDistances(points + row * dims, tile, d2.data());
        TopK& top = best[static_cast<size_t>(q - begin)];
        float bound = top.bound();
        for (int64_t j = 0; j < size; ++j) {
          if (d2[static_cast<size_t>(j)] <= bound && base + j != self) {
            top.Push(d2[static_cast<size_t>(j)], static_cast<int32_t>(base + j));
            bound = top.bound();
          }
        }
      }
    }
    for (int64_t q = begin; q < end; ++q) {
      best[static_cast<size_t>(q - begin)].Drain(indices + q * k, distances + q * k);
    }
  });
}

}  // namespace flsailer::eval::internal
