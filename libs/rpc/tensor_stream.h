// Large vectors over gRPC as streams of TensorChunk (proto/flsailer/v1/common.proto): no message
// near protobuf's 2 GiB limit, memory per message bounded by the chunk size. The assembler is the
// receiving side's parser: everything a peer sends is checked before it is used.
#ifndef FLSAILER_LIBS_RPC_TENSOR_STREAM_H_
#define FLSAILER_LIBS_RPC_TENSOR_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "flsailer/v1/common.pb.h"
#include "grpcpp/support/status.h"

namespace flsailer::rpc {

// 1 MiB of float64 per chunk.
inline constexpr int64_t kDefaultChunkElements = 1 << 17;

// Calls `send` with each chunk of `values` in order, encoded as float64 or, for model weights
// and updates where single precision is what the model holds anyway, float32 (half the bytes);
// little-endian either way. Every chunk carries `header`, `name` and `weight`; an empty vector is
// one empty last chunk. Stops early, returning false, when `send` returns false (the peer went
// away). REQUIRES: encoding is FLOAT64_LE or FLOAT32_LE.
bool SendTensor(const std::vector<double>& values, const v1::MessageHeader& header,
                const std::string& name, double weight,
                const std::function<bool(const v1::TensorChunk&)>& send,
                int64_t chunk_elements = kDefaultChunkElements,
                v1::TensorEncoding encoding = v1::TENSOR_ENCODING_FLOAT64_LE);

// Reassembles one tensor from its chunks. Not thread-safe.
class TensorAssembler {
 public:
  // Refuses tensors longer than `max_elements` before allocating them.
  explicit TensorAssembler(int64_t max_elements) : max_elements_(max_elements) {}

  // Checks and appends one chunk (float64 or float32, widened to double). InvalidArgument, naming
  // the problem, for: a chunk after the last, another encoding, a header, name, weight, encoding or
  // total that differs from the first chunk's, an offset that is not where the previous chunk ended, a data size that is not
  // whole elements, more data than the total, a last chunk that does not end at the total,
  // non-finite values.
  absl::Status Add(const v1::TensorChunk& chunk);
  bool complete() const { return complete_; }
  // REQUIRES: complete().
  std::vector<double> Take() { return std::move(values_); }
  const v1::MessageHeader& header() const { return first_.header(); }
  const std::string& name() const { return first_.tensor_name(); }
  double weight() const { return first_.weight(); }
  // Data bytes received so far (what travelled, whatever the encoding).
  double bytes() const { return bytes_; }

 private:
  int64_t max_elements_;
  bool started_ = false;
  bool complete_ = false;
  v1::TensorChunk first_;  // without data
  std::vector<double> values_;
  double bytes_ = 0;
};

// absl::Status <-> grpc::Status at the service edge (codes map one to one).
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace flsailer::rpc

#endif  // FLSAILER_LIBS_RPC_TENSOR_STREAM_H_
