// The BCE weight of each cell's open peaks in one minibatch (VaeConfig::shallow_cell_weight_cap).
// Torch-free; internal to libs/model (used by invariant_vae.cc).
#ifndef FLSAILER_LIBS_MODEL_OPEN_PEAK_WEIGHTS_H_
#define FLSAILER_LIBS_MODEL_OPEN_PEAK_WEIGHTS_H_

#include <cstdint>
#include <vector>

namespace flsailer::model::internal {

// Sets (*weights)[i] for every cell i of a minibatch whose open peaks are [offsets[i],
// offsets[i + 1]):
//   pos_weight * clamp(sqrt(median / open_i), 1, cap),
// open_i the cell's open peaks (at least 1) and median their upper median over the minibatch.
// A cell with fewer open peaks than the minibatch's median pulls its latent mean less than the
// KL term pulls every cell towards the origin; the weight evens that out, by at most `cap`.
// cap == 1 gives pos_weight to every cell.
// Preconditions: offsets non-empty and non-decreasing, cap >= 1.
void OpenPeakWeights(const std::vector<int64_t>& offsets, float pos_weight, float cap,
                     std::vector<float>* weights);

}  // namespace flsailer::model::internal

#endif  // FLSAILER_LIBS_MODEL_OPEN_PEAK_WEIGHTS_H_
