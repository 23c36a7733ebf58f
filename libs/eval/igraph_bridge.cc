#include "libs/eval/igraph_bridge.h"

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::eval::internal {
namespace {

std::mutex& IgraphMutex() {
  static std::mutex* mutex = new std::mutex;
  return *mutex;
}

}  // namespace

IgraphSession::IgraphSession(uint64_t seed) : lock_(IgraphMutex()) {
  previous_error_handler_ = igraph_set_error_handler(igraph_error_handler_ignore);
  previous_warning_handler_ = igraph_set_warning_handler(igraph_warning_handler_ignore);
  igraph_rng_seed(igraph_rng_default(), static_cast<igraph_uint_t>(seed));
}

IgraphSession::~IgraphSession() {
  igraph_set_warning_handler(previous_warning_handler_);
  igraph_set_error_handler(previous_error_handler_);
}

absl::Status IgraphSession::Check(igraph_error_t code, absl::string_view what) {
  if (code == IGRAPH_SUCCESS) return absl::OkStatus();
  if (code == IGRAPH_ENOMEM) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", igraph_strerror(code)));
}

IgraphGraph::~IgraphGraph() {
  if (has_weights_) igraph_vector_destroy(&weights_);
  if (has_graph_) igraph_destroy(&graph_);
}

absl::Status IgraphGraph::Init(const NeighborGraph& graph) {
  igraph_vector_int_t edges;
  FLS_RETURN_IF_ERROR(IgraphSession::Check(igraph_vector_int_init(&edges, 2 * graph.num_edges()),
                                           "igraph edge list"));
  for (int64_t e = 0; e < graph.num_edges(); ++e) {
    VECTOR(edges)[2 * e] = graph.from[static_cast<size_t>(e)];
    VECTOR(edges)[2 * e + 1] = graph.to[static_cast<size_t>(e)];
  }
  const igraph_error_t created = igraph_create(&graph_, &edges, graph.num_nodes, IGRAPH_UNDIRECTED);
  igraph_vector_int_destroy(&edges);
  FLS_RETURN_IF_ERROR(IgraphSession::Check(created, "igraph graph"));
  has_graph_ = true;
  FLS_RETURN_IF_ERROR(
      IgraphSession::Check(igraph_vector_init(&weights_, graph.num_edges()), "igraph weights"));
  has_weights_ = true;
  for (int64_t e = 0; e < graph.num_edges(); ++e) {
    VECTOR(weights_)[e] = graph.weights[static_cast<size_t>(e)];
  }
  return absl::OkStatus();
}

}  // namespace flsailer::eval::internal
