// The element-wise hot loops of training (internal to libs/model): Adam and the weighted
// row sums of the sparse first layer. Torch-free and compiled with vectorisation and
// AVX2/AVX-512 clones chosen at run time (see CMakeLists.txt).
#ifndef FLSAILER_LIBS_MODEL_KERNELS_H_
#define FLSAILER_LIBS_MODEL_KERNELS_H_

#include <cstdint>

namespace flsailer::model::internal {

inline constexpr float kAdamBeta1 = 0.9f;
inline constexpr float kAdamBeta2 = 0.999f;
inline constexpr float kAdamEps = 1e-8f;

// One Adam step with decoupled weight decay, in PyTorch's AdamW arithmetic.
struct AdamCoefficients {
  float decay = 1;         // 1 - lr * weight_decay
  float step_size = 0;     // lr / (1 - beta1^t)
  float inv_sqrt_bc2 = 1;  // 1 / sqrt(1 - beta2^t)
  float grad_scale = 1;    // multiplies the gradient as given
  float prox_mu = 0;       // FedProx: gradient += prox_mu * (w - start)
};

// Coefficients of step number `step` (>= 1).
AdamCoefficients MakeAdam(float lr, float weight_decay, int64_t step, float grad_scale,
                          float prox_mu);

// Updates n parameters p with moments m, v. `grad` may be null (a zero gradient: momentum and
// weight decay still act); `start` is the FedProx anchor or null. Arrays must not overlap.
void AdamUpdate(float* p, const float* grad, float* m, float* v, const float* start, int64_t n,
                const AdamCoefficients& c);

// out[0, h) += sum over k < n of weight[k] * table[index[k] * h, +h)   (gather).
void AddWeightedRows(const float* table, int64_t h, const int32_t* index, const float* weight,
                     int64_t n, float* out);

// out[index[k] * h, +h) += weight[k] * row[0, h) for every k < n   (scatter).
void ScatterWeightedRow(const float* row, int64_t h, const int32_t* index, const float* weight,
                        int64_t n, float* out);

}  // namespace flsailer::model::internal

#endif  // FLSAILER_LIBS_MODEL_KERNELS_H_
