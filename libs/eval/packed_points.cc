#include "libs/eval/packed_points.h"

#include <algorithm>

namespace flsailer::eval::internal {

PackedPoints::PackedPoints(const float* data, int64_t dims, int64_t n,
                           const std::vector<int64_t>& rows)
    : dims_(dims), size_(rows.empty() ? n : static_cast<int64_t>(rows.size())) {
  packed_.assign(static_cast<size_t>(num_tiles() * dims_ * kTile), 0.0f);
  for (int64_t i = 0; i < size_; ++i) {
    const int64_t row = rows.empty() ? i : rows[static_cast<size_t>(i)];
    const float* src = data + row * dims_;
    float* tile = packed_.data() + (i / kTile) * dims_ * kTile;
    for (int64_t t = 0; t < dims_; ++t) tile[t * kTile + i % kTile] = src[t];
  }
}

int64_t PackedPoints::TileSize(int64_t tile) const { return std::min(kTile, size_ - tile * kTile); }

void PackedPoints::SquaredDistances(const float* query, int64_t tile, float* __restrict out) const {
  const float* __restrict block = packed_.data() + tile * dims_ * kTile;
  for (int64_t j = 0; j < kTile; ++j) out[j] = 0.0f;
  for (int64_t t = 0; t < dims_; ++t) {
    const float q = query[t];
    const float* __restrict column = block + t * kTile;
    for (int64_t j = 0; j < kTile; ++j) {
      const float diff = q - column[j];
      out[j] += diff * diff;
    }
  }
}

}  // namespace flsailer::eval::internal
