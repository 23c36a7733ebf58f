// Internal to libs/eval: safe use of igraph from a multithreaded program that must not abort.
#ifndef FLSAILER_LIBS_EVAL_IGRAPH_BRIDGE_H_
#define FLSAILER_LIBS_EVAL_IGRAPH_BRIDGE_H_

#include <igraph.h>

#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/eval/knn.h"

namespace flsailer::eval::internal {

// Debian builds igraph with IGRAPH_THREAD_SAFE 0: its random number generator and error handlers
// are process-wide. A session holds a process-wide lock for its lifetime, so that libs/eval's
// igraph calls never overlap (code outside libs/eval that calls igraph concurrently is not
// covered), replaces igraph's default error handler (which aborts) by one that makes igraph
// functions return their error code, silences warnings, and seeds igraph's default RNG so that
// results depend on `seed` only. The previous handlers are restored on destruction.
class IgraphSession {
 public:
  explicit IgraphSession(uint64_t seed);
  ~IgraphSession();
  IgraphSession(const IgraphSession&) = delete;
  IgraphSession& operator=(const IgraphSession&) = delete;

  // OK, or Internal "<what>: <igraph's message>" for an igraph error code.
  static absl::Status Check(igraph_error_t code, absl::string_view what);

 private:
  std::unique_lock<std::mutex> lock_;
  igraph_error_handler_t* previous_error_handler_;
  igraph_warning_handler_t* previous_warning_handler_;
};

// An undirected igraph graph with edge weights, made from a NeighborGraph. Use only while an
// IgraphSession is alive.
class IgraphGraph {
 public:
  IgraphGraph() = default;
  ~IgraphGraph();
  IgraphGraph(const IgraphGraph&) = delete;
  IgraphGraph& operator=(const IgraphGraph&) = delete;

  absl::Status Init(const NeighborGraph& graph);

  const igraph_t* graph() const { return &graph_; }
  const igraph_vector_t* weights() const { return &weights_; }

 private:
  igraph_t graph_;
  igraph_vector_t weights_;
  bool has_graph_ = false;
  bool has_weights_ = false;
};

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_IGRAPH_BRIDGE_H_
