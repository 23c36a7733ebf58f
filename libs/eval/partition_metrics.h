// Agreement between reference labels and clusters, defined as scikit-learn 1.2 computes them
// (scib.metrics.ari and scib.metrics.nmi call scikit-learn): ARI, AMI, NMI, homogeneity.
//
// Inputs are integer codes, one per cell (any values, not necessarily contiguous). A negative label
// marks an unlabelled cell, which is left out.
// Thread safety: thread-compatible (pure functions).
#ifndef FLSAILER_LIBS_EVAL_PARTITION_METRICS_H_
#define FLSAILER_LIBS_EVAL_PARTITION_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace flsailer::eval {

struct PartitionAgreement {
  // Adjusted Rand index (Hubert & Arabie 1985) over pairs of cells; 1.0 when both partitions
  // put every pair the same way (e.g. both a single cluster).
  double ari = 0;
  // Adjusted mutual information (Vinh et al. 2010), arithmetic-mean normalisation (scikit-learn's
  // default): (MI - E[MI]) / (mean(H(labels), H(clusters)) - E[MI]); E[MI] under the
  // hypergeometric model of random partitions with the same cluster sizes. 1.0 when both
  // partitions are a single cluster.
  double ami = 0;
  // Normalised mutual information, arithmetic mean: MI / mean(H(labels), H(clusters)); 1.0 when
  // both are a single cluster, 0 when MI = 0 otherwise.
  double nmi = 0;
  // 1 - H(labels | clusters) / H(labels) = MI / H(labels): each cluster holds one label;
  // 1.0 when all labels are equal.
  double homogeneity = 0;
};

// Natural-log entropies. Cost: O(n log n) plus, for AMI, the sum over label x cluster pairs of
// min(label size, cluster size) terms (scikit-learn's exact E[MI]).
// Errors: no labelled cell, different lengths, a negative cluster code (InvalidArgument).
absl::StatusOr<PartitionAgreement> ComparePartitions(const std::vector<int32_t>& labels,
                                                     const std::vector<int32_t>& clusters);

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_PARTITION_METRICS_H_
