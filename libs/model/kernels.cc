#include "libs/model/kernels.h"

#include <cmath>
#include <cstdint>

namespace flsailer::model::internal {
namespace {

template <bool kGrad, bool kStart>
inline void AdamLoop(float* __restrict p, const float* __restrict grad, float* __restrict m,
                     float* __restrict v, const float* __restrict start, int64_t n,
                     const AdamCoefficients& c) {
  const float decay = c.decay, step = c.step_size, inv_bc2 = c.inv_sqrt_bc2;
  const float scale = c.grad_scale, mu = c.prox_mu;
  for (int64_t i = 0; i < n; ++i) {
    float g = kGrad ? grad[i] * scale : 0.0f;
    if (kStart) g += mu * (p[i] - start[i]);
    const float mi = kAdamBeta1 * m[i] + (1 - kAdamBeta1) * g;
    const float vi = kAdamBeta2 * v[i] + (1 - kAdamBeta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step * mi / (std::sqrt(vi) * inv_bc2 + kAdamEps);
  }
}

}  // namespace

AdamCoefficients MakeAdam(float lr, float weight_decay, int64_t step, float grad_scale,
                          float prox_mu) {
  AdamCoefficients c;
  c.decay = 1.0f - lr * weight_decay;
  c.step_size = static_cast<float>(lr / (1.0 - std::pow(double{kAdamBeta1}, step)));
  c.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(double{kAdamBeta2}, step)));
  c.grad_scale = grad_scale;
  c.prox_mu = prox_mu;
  return c;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void AdamUpdate(float* p, const float* grad, float* m, float* v, const float* start, int64_t n,
                const AdamCoefficients& c) {
  if (grad != nullptr) {
    if (start != nullptr) {
      AdamLoop<true, true>(p, grad, m, v, start, n, c);
    } else {
      AdamLoop<true, false>(p, grad, m, v, start, n, c);
    }
  } else if (start != nullptr) {
    AdamLoop<false, true>(p, grad, m, v, start, n, c);
  } else {
    AdamLoop<false, false>(p, grad, m, v, start, n, c);
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void AddWeightedRows(const float* table, int64_t h, const int32_t* index, const float* weight,
                     int64_t n, float* out) {
  float* __restrict o = out;
  for (int64_t k = 0; k < n; ++k) {
    const float* __restrict row = table + int64_t{index[k]} * h;
    const float w = weight[k];
    for (int64_t c = 0; c < h; ++c) o[c] += w * row[c];
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void ScatterWeightedRow(const float* row, int64_t h, const int32_t* index, const float* weight,
                        int64_t n, float* out) {
  const float* __restrict r = row;
  for (int64_t k = 0; k < n; ++k) {
    float* __restrict o = out + int64_t{index[k]} * h;
    const float w = weight[k];
    for (int64_t c = 0; c < h; ++c) o[c] += w * r[c];
  }
}

}  // namespace flsailer::model::internal
