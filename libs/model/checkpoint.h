// The model checkpoint file format (internal to libs/model; InvariantVae::SaveCheckpoint and
// LoadCheckpoint are the public entry points). Torch-free: it moves float arrays.
//
// Layout (little-endian, no padding):
//   magic "FLSVAE\r\n" (8 bytes; the CR LF catches text-mode mangling), uint32 format version
//   config:  int32 input_dim, uint32 n + int32[n] encoder_hidden, uint32 n + int32[n]
//            decoder_hidden, int32 latent_dim, int32 num_batches, uint8 depth_covariate,
//            float leaky_relu_slope, float pos_weight, float mi_lambda, float kl_beta,
//            uint8 input_weighting, uint8 mi_bound (from format version 2; version 1 files,
//            which lack it, are read as kPairwiseKl), float shallow_cell_weight_cap (from
//            version 3; older files are read as 1)
//   layout:  int32 layout version, uint32 entries, per entry: uint32 length + name bytes,
//            uint32 ndim + int64[ndim] shape, int64 offset, uint8 buffer; int64 size
//   state:   int32 epochs_trained, uint8 has_optimizer_state, then (if set) per layout entry
//            uint8 optimizer kind and int64 step count
//   data:    float params[size]; if has_optimizer_state: float first_moment[size],
//            float second_moment[size] (Adam m and v, or the Muon momentum in m), laid out like
//            the parameters
//   uint32 CRC-32 (zlib) of every byte before it
#ifndef FLSAILER_LIBS_MODEL_CHECKPOINT_H_
#define FLSAILER_LIBS_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/model/invariant_vae.h"

namespace flsailer::model::internal {

inline constexpr uint32_t kCheckpointFormatVersion = 3;

// Which optimizer produced an entry's moments (they mean different things).
enum class OptimizerKind : uint8_t { kNone = 0, kAdam = 1, kMuon = 2 };

struct EntryOptimizerState {
  OptimizerKind kind = OptimizerKind::kNone;
  int64_t step = 0;  // Adam steps taken (bias correction)
};

struct CheckpointHeader {
  VaeConfig config;
  ParameterLayout layout;
  int32_t epochs_trained = 0;
  // One per layout entry, or empty when the checkpoint holds no optimizer state.
  std::vector<EntryOptimizerState> optimizer;
};

// Destinations (reading) or sources (writing) of layout.size floats each; the moments are
// used only when the header has optimizer state.
struct CheckpointArrays {
  float* params = nullptr;
  float* first_moment = nullptr;
  float* second_moment = nullptr;
};

// Writes atomically (temporary file renamed into place).
absl::Status WriteCheckpoint(const std::string& path, const CheckpointHeader& header,
                             const CheckpointArrays& arrays);

// Reads and checks the header (magic, version, a valid configuration whose layout equals the
// stored one, sizes against the file length), then asks `make_arrays` for destinations, fills
// them and checks the CRC and that every parameter is finite. Errors name the file and cause.
absl::StatusOr<CheckpointHeader> ReadCheckpoint(
    const std::string& path,
    const std::function<absl::StatusOr<CheckpointArrays>(const CheckpointHeader&)>& make_arrays);

}  // namespace flsailer::model::internal

#endif  // FLSAILER_LIBS_MODEL_CHECKPOINT_H_
