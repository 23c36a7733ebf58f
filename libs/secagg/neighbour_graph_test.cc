#include "libs/secagg/neighbour_graph.h"

#include <queue>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace flsailer::secagg {
namespace {

Key Seed(uint8_t b) {
  Key key{};
  key[0] = b;
  return key;
}

// Whether the graph stays connected without the vertices in `removed`.
bool ConnectedWithout(const NeighbourGraph& graph, const std::set<int>& removed) {
  int start = 0;
  while (removed.count(start) > 0) ++start;
  std::vector<bool> seen(static_cast<size_t>(graph.size()), false);
  std::queue<int> queue;
  queue.push(start);
  seen[static_cast<size_t>(start)] = true;
  int reached = 1;
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop();
    for (int w : graph.Neighbours(v)) {
      if (seen[static_cast<size_t>(w)] || removed.count(w) > 0) continue;
      seen[static_cast<size_t>(w)] = true;
      ++reached;
      queue.push(w);
    }
  }
  return reached == graph.size() - static_cast<int>(removed.size());
}

TEST(NeighbourGraphTest, CompleteGraph) {
  const NeighbourGraph graph = NeighbourGraph::Complete(4);
  EXPECT_TRUE(graph.complete());
  EXPECT_EQ(graph.degree(), 3);
  EXPECT_EQ(graph.Neighbours(2), (std::vector<int>{0, 1, 3}));
  EXPECT_TRUE(graph.AreNeighbours(0, 3));
  EXPECT_FALSE(graph.AreNeighbours(1, 1));
}

TEST(NeighbourGraphTest, HararyGraphIsRegularSymmetricAndConnected) {
  for (int n : {5, 33, 100, 257}) {
    for (int k : {2, 4, 10}) {
      if (k > n - 1) continue;
      auto graph = NeighbourGraph::RandomHarary(n, k, Seed(1));
      ASSERT_TRUE(graph.ok()) << graph.status();
      EXPECT_FALSE(graph->complete());
      EXPECT_EQ(graph->degree(), k);
      for (int v = 0; v < n; ++v) {
        const std::vector<int> neighbours = graph->Neighbours(v);
        ASSERT_EQ(static_cast<int>(neighbours.size()), k) << "n " << n << " k " << k;
        for (int w : neighbours) {
          EXPECT_NE(w, v);
          EXPECT_TRUE(graph->AreNeighbours(w, v));
        }
      }
      // k-connected: k - 1 removed vertices never disconnect it.
      std::mt19937 rng(static_cast<unsigned>(n * 31 + k));
      for (int trial = 0; trial < 20; ++trial) {
        std::set<int> removed;
        while (static_cast<int>(removed.size()) < k - 1) {
          removed.insert(static_cast<int>(rng() % static_cast<unsigned>(n)));
        }
        EXPECT_TRUE(ConnectedWithout(*graph, removed)) << "n " << n << " k " << k;
      }
    }
  }
}

TEST(NeighbourGraphTest, TheSeedFixesTheShuffle) {
  auto a = NeighbourGraph::RandomHarary(50, 8, Seed(1));
  auto b = NeighbourGraph::RandomHarary(50, 8, Seed(1));
  auto c = NeighbourGraph::RandomHarary(50, 8, Seed(2));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  bool differs = false;
  for (int v = 0; v < 50; ++v) {
    EXPECT_EQ(a->Neighbours(v), b->Neighbours(v));
    differs = differs || a->Neighbours(v) != c->Neighbours(v);
  }
  EXPECT_TRUE(differs);
  // Shuffled: participant 0's neighbours are not just 1..4 and 46..49.
  EXPECT_NE(a->Neighbours(0), (std::vector<int>{1, 2, 3, 4, 46, 47, 48, 49}));
}

TEST(NeighbourGraphTest, RefusesImpossibleDegrees) {
  EXPECT_FALSE(NeighbourGraph::RandomHarary(10, 3, Seed(0)).ok());
  EXPECT_FALSE(NeighbourGraph::RandomHarary(10, 0, Seed(0)).ok());
  EXPECT_FALSE(NeighbourGraph::RandomHarary(10, 10, Seed(0)).ok());
  EXPECT_FALSE(NeighbourGraph::RandomHarary(2, 2, Seed(0)).ok());
  EXPECT_TRUE(NeighbourGraph::RandomHarary(11, 10, Seed(0)).ok());
}

}  // namespace
}  // namespace flsailer::secagg
