// libFuzzer target: any bytes given to the MatrixMarket parser yield a valid matrix or an error.
#include <cstddef>
#include <cstdint>

#include "libs/data/matrix_market.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flsailer::data;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  MtxReadOptions options;
  options.max_elements = 1 << 20;  // keep allocations within the fuzzer's memory limit
  auto reader = flsailer::LineReader::FromString(text, "fuzz.mtx");
  absl::StatusOr<CsrMatrix> m = ParseMatrixMarket(*reader, options);
  if (m.ok() && !m->Validate().ok()) __builtin_trap();
  // The orientation inference path as well.
  options.cells = 3;
  options.peaks = 5;
  reader = flsailer::LineReader::FromString(text, "fuzz.mtx");
  m = ParseMatrixMarket(*reader, options);
  if (m.ok() && (!m->Validate().ok() || m->rows != 3 || m->cols != 5)) __builtin_trap();
  return 0;
}
