// Internal to libs/eval: exact k-nearest-neighbour search within a set of points.
#ifndef FLSAILER_LIBS_EVAL_EXACT_KNN_H_
#define FLSAILER_LIBS_EVAL_EXACT_KNN_H_

#include <cstdint>
#include <vector>

namespace flsailer::eval::internal {

// For each query, its k nearest members other than itself, nearest first (ties by position).
// `points` is row-major (n x dims). `members` lists the rows searched (all n rows when empty);
// `queries` are positions into that list (all of them when empty). Writes positions into the
// member list to indices[q * k + j] and Euclidean distances to distances[q * k + j], for q the
// query's position in `queries`. REQUIRES: k < number of members; both outputs sized
// queries * k. Results do not depend on `threads`.
void ExactKnn(const float* points, int64_t dims, int64_t n, const std::vector<int64_t>& members,
              const std::vector<int64_t>& queries, int k, int threads, int32_t* indices,
              float* distances);

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_EXACT_KNN_H_
