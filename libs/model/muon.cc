#include "libs/model/muon.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace flsailer::model {
namespace {

at::Tensor NewtonSchulz(const at::Tensor& m) {
  const bool tall = m.size(0) > m.size(1);
  // Iterate on the wide orientation so that X X^T is the smaller Gram matrix.
  at::Tensor x = tall ? m.t() : m;
  x = x / (x.norm() + 1e-7);
  for (int step = 0; step < kNewtonSchulzSteps; ++step) {
    const at::Tensor a = at::mm(x, x.t());
    const at::Tensor b = kNewtonSchulzB * a + kNewtonSchulzC * at::mm(a, a);
    x = kNewtonSchulzA * x + at::mm(b, x);
  }
  return tall ? x.t().contiguous() : x;
}

}  // namespace

std::vector<float> NewtonSchulzOrthogonalize(const std::vector<float>& m, int64_t rows,
                                             int64_t cols) {
  at::NoGradGuard no_grad;
  const at::Tensor in = at::from_blob(const_cast<float*>(m.data()), {rows, cols}, at::kFloat);
  const at::Tensor out = NewtonSchulz(in).contiguous();
  return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + rows * cols);
}

void MuonEqRStep(float* weight, const float* grad, float* momentum, int64_t rows, int64_t cols,
                 float lr, float weight_decay) {
  at::NoGradGuard no_grad;
  at::Tensor w = at::from_blob(weight, {rows, cols}, at::kFloat);
  const at::Tensor g = at::from_blob(const_cast<float*>(grad), {rows, cols}, at::kFloat);
  at::Tensor buf = at::from_blob(momentum, {rows, cols}, at::kFloat);
  buf.mul_(kMuonMomentum).add_(g);
  at::Tensor u = g + kMuonMomentum * buf;
  u.div_(u.norm(2, {1}, /*keepdim=*/true).add_(1e-7));
  const at::Tensor o = NewtonSchulz(u);
  const double scale = 0.2 * std::sqrt(static_cast<double>(std::max(rows, cols)));
  w.mul_(1.0 - static_cast<double>(lr) * weight_decay);
  w.add_(o, -static_cast<double>(lr) * scale);
}

}  // namespace flsailer::model
