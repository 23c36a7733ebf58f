// A matrix with more than 2^31 stored entries: 64-bit row offsets must carry every operation past
// the 32-bit boundary. Needs ~9 GiB of memory, so it runs only when FLSAILER_LARGE_TESTS=1 (CI
// runs it once, in the release build).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"
#include "libs/data/csr_matrix.h"

namespace flsailer::data {
namespace {

TEST(LargeMatrixTest, MoreThanTwoToTheThirtyOneEntries) {
  const char* enabled = std::getenv("FLSAILER_LARGE_TESTS");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set FLSAILER_LARGE_TESTS=1 to run (needs ~9 GiB)";
  }
  // 2^16 + 1 cells x 2^15 peaks, every entry stored: 2^31 + 2^15 non-zeros, binary.
  constexpr int64_t kCells = (int64_t{1} << 16) + 1;
  constexpr int32_t kPeaks = 1 << 15;
  constexpr int64_t kNnz = kCells * kPeaks;
  static_assert(kNnz > (int64_t{1} << 31));
  CsrBuilder builder(kPeaks, /*binary=*/true, kNnz);
  for (int64_t r = 0; r < kCells; ++r) {
    for (int32_t c = 0; c < kPeaks; ++c) builder.Add(c, 1.0f);
    builder.FinishRow();
  }
  CsrMatrix m = std::move(builder).Finish();
  ASSERT_EQ(m.nnz(), kNnz);
  EXPECT_EQ(m.indptr.back(), kNnz);
  EXPECT_EQ(m.indptr[kCells - 1], kNnz - kPeaks);
  EXPECT_TRUE(m.Validate().ok());
  const std::vector<double> sums = m.RowSums();
  EXPECT_EQ(sums.back(), kPeaks);
  const std::vector<int64_t> column_nnz = m.ColumnNnz();
  EXPECT_EQ(column_nnz[kPeaks - 1], kCells);
  // The last row lives beyond entry 2^31.
  CsrMatrix last = m.SelectRows({kCells - 1});
  EXPECT_EQ(last.nnz(), kPeaks);
  EXPECT_EQ(last.indices.back(), kPeaks - 1);
}

}  // namespace
}  // namespace flsailer::data
