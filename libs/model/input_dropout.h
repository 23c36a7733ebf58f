// Which open peaks the encoder sees in one training step: denoising input dropout, with each
// cell's keep rate drawn on its own so that deep cells are also seen as shallow ones (depth
// augmentation). Torch-free; internal to libs/model (used by invariant_vae.cc).
#ifndef FLSAILER_LIBS_MODEL_INPUT_DROPOUT_H_
#define FLSAILER_LIBS_MODEL_INPUT_DROPOUT_H_

#include <cstdint>
#include <random>
#include <vector>

namespace flsailer::model::internal {

// Sets keep[k] (resized to offsets.back()) for the entries of every cell i, [offsets[i],
// offsets[i + 1]): each is kept with probability q_i. With spread 0, q_i = 1 - dropout for every
// cell; otherwise q_i = (1 - dropout) * (1 + spread * (2u - 1)), u uniform in [0, 1) drawn per
// cell, i.e. uniform on [(1 - dropout)(1 - spread), (1 - dropout)(1 + spread)], clipped to 1.
// dropout == 0 keeps every entry. Returns the factor that kept inputs are scaled by,
// 1 / (1 - dropout): the mean keep rate over cells, so a cell's scaled input is its full profile
// on average but looks as shallow as its draw in one step.
// Preconditions (checked by TrainOptions::Validate): 0 <= dropout < 1, 0 <= spread <= 1,
// offsets non-empty and non-decreasing. Not thread-safe for one rng.
float DrawInputKeep(const std::vector<int64_t>& offsets, float dropout, float spread,
                    std::mt19937_64* rng, std::vector<uint8_t>* keep);

}  // namespace flsailer::model::internal

#endif  // FLSAILER_LIBS_MODEL_INPUT_DROPOUT_H_
