// Who shares secrets with whom in a round. A participant sends Shamir shares of its secrets to its
// neighbours and masks its input against theirs, so the graph sets both the cost (per client:
// one key agreement, one share and one mask stream per neighbour) and how many dropouts each
// client's secrets survive.
//
// Small rounds use the complete graph (SecAgg, Bonawitz et al. 2017). Large ones use a random
// Harary graph (SecAgg+, Bell et al. 2020): the Harary graph H_{k,n}, in which vertex v is
// adjacent to v +- 1, ..., v +- k/2 (mod n), with its vertices shuffled by a permutation drawn
// from a seed. It is k-regular and k-connected, and with k = O(log n) the shuffle keeps the
// neighbourhoods of any set of corrupt or dropped clients random.
//
// Participants are numbered 0..n-1 (their positions in the sorted participant list). Both sides
// build the graph from the same inputs, so they agree on it without sending it.
//
// Thread safety: immutable after construction.
#ifndef FLSAILER_LIBS_SECAGG_NEIGHBOUR_GRAPH_H_
#define FLSAILER_LIBS_SECAGG_NEIGHBOUR_GRAPH_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/secagg/crypto.h"

namespace flsailer::secagg {

class NeighbourGraph {
 public:
  // Every participant is every other's neighbour. REQUIRES: n >= 1.
  static NeighbourGraph Complete(int n);
  // The random Harary graph of n vertices and even degree k, 2 <= k <= n - 1, shuffled by the
  // AES-CTR stream of `seed`. InvalidArgument for other n or k.
  static absl::StatusOr<NeighbourGraph> RandomHarary(int n, int degree, const Key& seed);

  int size() const { return size_; }
  bool complete() const { return complete_; }
  // Neighbours per participant: n - 1 when complete.
  int degree() const { return complete_ ? size_ - 1 : degree_; }
  // The neighbours of participant i in ascending order (never i itself).
  std::vector<int> Neighbours(int i) const;
  bool AreNeighbours(int i, int j) const;

 private:
  NeighbourGraph(int size, int degree, bool complete)
      : size_(size), degree_(degree), complete_(complete) {}

  int size_;
  int degree_;
  bool complete_;
  // For the Harary graph: sorted neighbour lists (the complete graph needs none).
  std::vector<std::vector<int>> neighbours_;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_NEIGHBOUR_GRAPH_H_
