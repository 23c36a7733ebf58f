// libFuzzer target: whatever chunks a peer streams, the tensor assembler accepts a consistent
// tensor or refuses with an error: never more elements than announced, never a non-finite value,
// never a crash. The input is a sequence of (2-byte length, serialized TensorChunk) records.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "libs/rpc/tensor_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  flsailer::rpc::TensorAssembler assembler(/*max_elements=*/1 << 16);
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t length = data[at] | (static_cast<size_t>(data[at + 1]) << 8);
    at += 2;
    if (length > size - at) break;
    flsailer::v1::TensorChunk chunk;
    const bool parsed = chunk.ParseFromArray(data + at, static_cast<int>(length));
    at += length;
    if (!parsed) continue;
    if (!assembler.Add(chunk).ok()) break;
  }
  if (assembler.complete()) {
    const std::vector<double> values = assembler.Take();
    if (values.size() > (1u << 16)) __builtin_trap();
    for (double v : values) {
      if (!std::isfinite(v)) __builtin_trap();
    }
  }
  return 0;
}
