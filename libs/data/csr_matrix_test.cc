#include "libs/data/csr_matrix.h"

#include <cstdint>
#include <random>
#include <type_traits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The layout decisions the rest of the system relies on.
static_assert(std::is_same_v<decltype(CsrMatrix::indptr)::value_type, int64_t>,
              "row offsets must be 64-bit so that nnz > 2^31 works");
static_assert(std::is_same_v<decltype(CsrMatrix::indices)::value_type, int32_t>);

CsrMatrix Small() {
  CsrBuilder b(/*cols=*/4, /*binary=*/false);
  b.Add(0, 2);
  b.Add(3, 1);
  b.FinishRow();
  b.FinishRow();
  b.Add(1, 5);
  b.FinishRow();
  return std::move(b).Finish();
}

TEST(CsrMatrixTest, BuilderAndAccessors) {
  CsrMatrix m = Small();
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.nnz(), 3);
  EXPECT_THAT(m.indptr, ElementsAre(0, 2, 2, 3));
  EXPECT_THAT(m.RowSums(), ElementsAre(3.0, 0.0, 5.0));
  EXPECT_THAT(m.ColumnNnz(), ElementsAre(1, 1, 0, 1));
  EXPECT_DOUBLE_EQ(m.density(), 3.0 / 12.0);
  EXPECT_TRUE(m.Validate().ok());
  CsrMatrix b = m.Binarized();
  EXPECT_TRUE(b.is_binary());
  EXPECT_THAT(b.RowSums(), ElementsAre(2.0, 0.0, 1.0));
  EXPECT_EQ(b.MemoryBytes(), 4 * 8 + 3 * 4u);
}

TEST(CsrMatrixTest, SelectRowsAndTranspose) {
  CsrMatrix m = Small();
  CsrMatrix s = m.SelectRows({2, 0});
  EXPECT_THAT(s.indptr, ElementsAre(0, 1, 3));
  EXPECT_THAT(s.indices, ElementsAre(1, 0, 3));
  EXPECT_THAT(s.values, ElementsAre(5, 2, 1));
  CsrMatrix t = Transpose(m);
  EXPECT_EQ(t.rows, 4);
  EXPECT_EQ(t.cols, 3);
  EXPECT_THAT(t.indptr, ElementsAre(0, 1, 2, 2, 3));
  EXPECT_THAT(t.indices, ElementsAre(0, 2, 0));
  EXPECT_TRUE(t.Validate().ok());
  CsrMatrix tt = Transpose(t);
  EXPECT_EQ(tt.indices, m.indices);
  EXPECT_EQ(tt.values, m.values);
}

TEST(CsrMatrixTest, SelectColumnsRenumbers) {
  CsrMatrix m = Small();  // rows: {0:2, 3:1}, {}, {1:5}
  CsrMatrix s = m.SelectColumns({1, 3});
  EXPECT_EQ(s.rows, 3);
  EXPECT_EQ(s.cols, 2);
  EXPECT_THAT(s.indptr, ElementsAre(0, 1, 1, 2));
  EXPECT_THAT(s.indices, ElementsAre(1, 0));
  EXPECT_THAT(s.values, ElementsAre(1, 5));
  EXPECT_TRUE(s.Validate().ok());
}

TEST(CsrMatrixTest, ValidateFindsEachViolation) {
  CsrMatrix m = Small();
  m.indices[1] = 4;
  EXPECT_THAT(std::string(m.Validate().message()), HasSubstr("column 4 outside"));
  m = Small();
  m.indices[1] = 0;
  EXPECT_THAT(std::string(m.Validate().message()), HasSubstr("not strictly increasing"));
  m = Small();
  m.values[0] = std::nanf("");
  EXPECT_THAT(std::string(m.Validate().message()), HasSubstr("not a finite positive"));
  m = Small();
  m.indptr[1] = 3;
  m.indptr[2] = 2;
  EXPECT_THAT(std::string(m.Validate().message()), HasSubstr("offsets decrease"));
  m = Small();
  m.indptr.pop_back();
  EXPECT_FALSE(m.Validate().ok());
}

}  // namespace
}  // namespace flsailer::data
