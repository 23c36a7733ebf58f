#include "libs/sampling/tfidf.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/sampling/sampling_test_util.h"

namespace flsailer::sampling {
namespace {

using ::testing::HasSubstr;

TEST(TfIdfTest, ValuesByHand) {
  // 2 cells x 3 peaks: cell 0 opens peaks 0 and 2 (counts 3 and 1), cell 1 opens peak 2.
  data::CsrBuilder b(3, /*binary=*/false);
  b.Add(0, 3);
  b.Add(2, 1);
  b.FinishRow();
  b.Add(2, 5);
  b.FinishRow();
  const data::CsrMatrix x = std::move(b).Finish();
  const TfIdfSums sums = LocalTfIdfSums(x);
  EXPECT_EQ(sums.cells, 2);
  EXPECT_EQ(sums.document_frequency, (std::vector<double>{1, 0, 2}));

  auto tfidf = TfIdf::FromSums(sums);
  ASSERT_TRUE(tfidf.ok());
  EXPECT_DOUBLE_EQ(tfidf->idf()[0], std::log1p(2.0));
  EXPECT_DOUBLE_EQ(tfidf->idf()[1], 0.0);  // never open
  EXPECT_DOUBLE_EQ(tfidf->idf()[2], std::log1p(1.0));
  auto t = tfidf->Transform(x);
  ASSERT_TRUE(t.ok());
  // Counts are binarised: cell 0 has 2 open peaks, tf = 1/2.
  EXPECT_FLOAT_EQ(t->values[0], std::log1p(0.5 * std::log1p(2.0) * 1e4));
  EXPECT_FLOAT_EQ(t->values[1], std::log1p(0.5 * std::log(2.0) * 1e4));
  EXPECT_FLOAT_EQ(t->values[2], std::log1p(1.0 * std::log(2.0) * 1e4));

  auto signac = TfIdf::FromSums(sums, {IdfKind::kInverse, 1e4});
  ASSERT_TRUE(signac.ok());
  EXPECT_DOUBLE_EQ(signac->idf()[0], 2.0);
}

TEST(TfIdfTest, SumsAreAdditiveOverInstitutions) {
  const data::CsrMatrix x = BlockMatrix(300, 80, 4, 0.05, 3);
  TfIdfSums total = LocalTfIdfSums(Rows(x, 0, 100));
  ASSERT_TRUE(total.Add(LocalTfIdfSums(Rows(x, 100, 300))).ok());
  const TfIdfSums whole = LocalTfIdfSums(x);
  EXPECT_EQ(total.cells, whole.cells);
  EXPECT_EQ(total.document_frequency, whole.document_frequency);
  TfIdfSums other;
  other.document_frequency.resize(7);
  EXPECT_THAT(std::string(total.Add(other).message()), HasSubstr("7 peaks"));
}

TEST(TfIdfTest, RejectsBadSums) {
  TfIdfSums sums;
  sums.document_frequency = {1, 2};
  EXPECT_FALSE(TfIdf::FromSums(sums).ok());  // no cells
  sums.cells = 1;
  EXPECT_THAT(std::string(TfIdf::FromSums(sums).status().message()),
              HasSubstr("peak 1 is 2 for 1 cells"));
  sums.document_frequency = {1, std::nan("")};
  EXPECT_FALSE(TfIdf::FromSums(sums).ok());
  sums.document_frequency = {1, 1};
  auto t = TfIdf::FromSums(sums);
  ASSERT_TRUE(t.ok());
  data::CsrMatrix wrong;
  wrong.cols = 3;
  EXPECT_FALSE(t->Transform(wrong).ok());
}

}  // namespace
}  // namespace flsailer::sampling
