// MuonEq-R: the optional local optimizer for the VAE's hidden matrix weights (DESIGN.md §2).
//
// One step on a weight W (rows x cols, row-major) with gradient G and momentum buffer M:
//   M <- 0.95 M + G;  U <- G + 0.95 M                     (Nesterov momentum)
//   U_i <- U_i / |U_i| for every row i                     (the "Eq-R" row equilibration)
//   O <- NewtonSchulz5(U)                                  (approximately U's polar factor)
//   W <- W - lr * weight_decay * W - lr * 0.2 * sqrt(max(rows, cols)) * O
// The 0.2 sqrt(max(rows, cols)) scale gives the update the RMS of a typical Adam step
// (Moonlight's Muon), so Muon and Adam share one learning rate.
//
// Plain float buffers in, plain float buffers out: callers need no LibTorch headers.
#ifndef FLSAILER_LIBS_MODEL_MUON_H_
#define FLSAILER_LIBS_MODEL_MUON_H_

#include <cstdint>
#include <vector>

namespace flsailer::model {

inline constexpr float kMuonMomentum = 0.95f;
inline constexpr int kNewtonSchulzSteps = 5;
inline constexpr float kNewtonSchulzA = 3.4445f;
inline constexpr float kNewtonSchulzB = -4.7750f;
inline constexpr float kNewtonSchulzC = 2.0315f;

// kNewtonSchulzSteps quintic Newton-Schulz iterations on m / |m|_F (rows x cols, row-major):
// the result has m's singular vectors and singular values in roughly [0.7, 1.2] (these
// coefficients trade exact convergence for speed). A zero matrix maps to zero.
// REQUIRES: m.size() == rows * cols.
std::vector<float> NewtonSchulzOrthogonalize(const std::vector<float>& m, int64_t rows,
                                             int64_t cols);

// One MuonEq-R step as above, in place on `weight` and `momentum` (rows * cols floats each).
void MuonEqRStep(float* weight, const float* grad, float* momentum, int64_t rows, int64_t cols,
                 float lr, float weight_decay);

}  // namespace flsailer::model

#endif  // FLSAILER_LIBS_MODEL_MUON_H_
