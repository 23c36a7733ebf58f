// Internal to libs/eval: points packed for fast one-to-many squared Euclidean distances.
#ifndef FLSAILER_LIBS_EVAL_PACKED_POINTS_H_
#define FLSAILER_LIBS_EVAL_PACKED_POINTS_H_

#include <cstdint>
#include <vector>

namespace flsailer::eval::internal {

// Reference points stored in tiles of kTile points, each tile dimension-major (dims x kTile), so
// that the distances from one query to a whole tile are a fixed-length loop the compiler
// vectorises, and a tile (kTile * dims floats) stays in the L1/L2 cache while a group of queries
// is compared with it. Distances are sums of squared differences (not the |x|^2 + |y|^2 - 2xy
// expansion), so close points keep accurate distances. Immutable after construction.
class PackedPoints {
 public:
  static constexpr int64_t kTile = 128;

  // Packs rows `rows` of the row-major `data` (n x dims); all rows when `rows` is empty.
  PackedPoints(const float* data, int64_t dims, int64_t n, const std::vector<int64_t>& rows);

  int64_t size() const { return size_; }
  int64_t dims() const { return dims_; }
  int64_t num_tiles() const { return (size_ + kTile - 1) / kTile; }
  // Number of valid points in tile `tile` (kTile except maybe for the last).
  int64_t TileSize(int64_t tile) const;

  // out[j] = squared distance from `query` (dims floats) to point tile * kTile + j, for every
  // j < kTile (entries past TileSize are meaningless).
  void SquaredDistances(const float* query, int64_t tile, float* out) const;

 private:
  int64_t dims_;
  int64_t size_;
  std::vector<float> packed_;  // num_tiles * dims * kTile
};

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_PACKED_POINTS_H_
