#include "libs/data/matrix_market.h"

#include <unistd.h>

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<CsrMatrix> Parse(const std::string& text, MtxReadOptions options = {}) {
  auto reader = LineReader::FromString(text, "m.mtx");
  return ParseMatrixMarket(*reader, options);
}

std::string Error(const std::string& text, MtxReadOptions options = {}) {
  auto m = Parse(text, options);
  EXPECT_FALSE(m.ok()) << "accepted:\n" << text;
  return std::string(m.status().message());
}

constexpr char kHeader[] = "%%MatrixMarket matrix coordinate integer general\n";

TEST(MatrixMarketTest, ReadsPeaksByCellsIntoCellsByPeaks) {
  // 3 peaks x 2 cells.
  auto m = Parse(std::string(kHeader) + "% comment\n3 2 4\n1 1 2\n3 1 1\n2 2 5\n3 2 1\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 3);
  EXPECT_THAT(m->indptr, ElementsAre(0, 2, 4));
  EXPECT_THAT(m->indices, ElementsAre(0, 2, 1, 2));
  EXPECT_THAT(m->values, ElementsAre(2, 1, 5, 1));
  EXPECT_TRUE(m->Validate().ok());
}

TEST(MatrixMarketTest, InfersCellsByPeaksOrientationFromExpectedShape) {
  MtxReadOptions options;
  options.cells = 2;
  options.peaks = 3;
  auto m = Parse(std::string(kHeader) + "2 3 2\n1 3 1\n2 1 4\n", options);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows, 2);
  EXPECT_THAT(m->indices, ElementsAre(2, 0));
  EXPECT_THAT(m->values, ElementsAre(1, 4));
}

TEST(MatrixMarketTest, UnsortedEntriesAreSortedAndDuplicatesSummed) {
  auto m = Parse(std::string(kHeader) +
                 "4 3 6\n4 3 1\n1 1 1\n2 3 2\n1 3 1\n2 1 1\n1 3 2\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->indptr, ElementsAre(0, 2, 2, 5));
  EXPECT_THAT(m->indices, ElementsAre(0, 1, 0, 1, 3));
  EXPECT_THAT(m->values, ElementsAre(1, 1, 3, 2, 1));
  EXPECT_TRUE(m->Validate().ok());
}

TEST(MatrixMarketTest, PatternGivesBinaryMatrixAndRealKeepsFractions) {
  auto p = Parse("%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 1\n2 2\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->is_binary());
  EXPECT_EQ(p->nnz(), 2);
  auto r = Parse("%%MatrixMarket matrix coordinate real general\n2 1 2\n1 1 0.5\n2 1 1e1\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->values, ElementsAre(0.5f, 10.0f));
}

TEST(MatrixMarketTest, ExplicitZerosAreNotStored) {
  auto m = Parse(std::string(kHeader) + "2 1 2\n1 1 0\n2 1 3\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->nnz(), 1);
}

TEST(MatrixMarketTest, EmptyCellsKeepTheirRows) {
  auto m = Parse(std::string(kHeader) + "2 5 2\n1 2 1\n2 4 1\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rows, 5);
  EXPECT_THAT(m->indptr, ElementsAre(0, 0, 1, 1, 2, 2));
}

TEST(MatrixMarketTest, RejectsMalformedInputNamingTheLine) {
  EXPECT_THAT(Error(""), HasSubstr("empty"));
  EXPECT_THAT(Error("hello\n1 1 1\n"), HasSubstr("m.mtx:1: not a MatrixMarket file"));
  EXPECT_THAT(Error("%%MatrixMarket matrix array real general\n2 2\n"), HasSubstr("coordinate"));
  EXPECT_THAT(Error("%%MatrixMarket matrix coordinate complex general\n"), HasSubstr("complex"));
  EXPECT_THAT(Error("%%MatrixMarket matrix coordinate integer symmetric\n"),
              HasSubstr("symmetric"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2\n"), HasSubstr("m.mtx:2: size line"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 -1\n"), HasSubstr("size line"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n3 1 1\n"),
              HasSubstr("m.mtx:3: index (3, 1) outside"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n0 1 1\n"), HasSubstr("outside"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n1 1 -4\n"), HasSubstr("negative value"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n1 1 1.5\n"), HasSubstr("not an integer"));
  EXPECT_THAT(Error("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 nan\n"),
              HasSubstr("not finite"));
  EXPECT_THAT(Error("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 inf\n"),
              HasSubstr("not finite"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n1 1 1 7\n"), HasSubstr("after the entry"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n1 x 1\n"), HasSubstr("m.mtx:3"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 3\n1 1 1\n2 2 1\n"),
              HasSubstr("2 entries, but the size line declares 3"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 1\n1 1 1\n2 2 1\n"),
              HasSubstr("m.mtx:4: more entries than the 1 declared"));
  EXPECT_THAT(Error(std::string(kHeader) + "2 2 5\n"), HasSubstr("declares 5 entries for a 2 x 2"));
}

TEST(MatrixMarketTest, ShapeMustMatchBarcodesAndPeaks) {
  MtxReadOptions options;
  options.cells = 4;
  options.peaks = 3;
  EXPECT_THAT(Error(std::string(kHeader) + "3 5 0\n", options),
              HasSubstr("3 x 5 but there are 3 peaks and 4 barcodes"));
}

TEST(MatrixMarketTest, HugeDeclaredSizesAreRefusedBeforeAllocating) {
  MtxReadOptions options;
  options.max_elements = 1000;
  EXPECT_THAT(Error(std::string(kHeader) + "100000 100000 1000000\n", options),
              HasSubstr("more than this reader accepts"));
  EXPECT_THAT(Error(std::string(kHeader) + "10 2000000 0\n", options),
              HasSubstr("more than this reader accepts"));
}

// Random matrices survive Write -> Read exactly, plain and gzip, sorted or shuffled.
TEST(MatrixMarketTest, WriteReadRoundTrip) {
  std::mt19937 rng(7);
  CsrBuilder builder(/*cols=*/300, /*binary=*/false);
  for (int r = 0; r < 200; ++r) {
    for (int c = 0; c < 300; ++c) {
      if (rng() % 20 == 0) builder.Add(c, static_cast<float>(1 + rng() % 9));
    }
    builder.FinishRow();
  }
  const CsrMatrix m = std::move(builder).Finish();
  for (const char* name : {"rt.mtx", "rt.mtx.gz"}) {
    const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + name;
    ASSERT_TRUE(WriteMatrixMarket(path, m).ok());
    auto back = ReadMatrixMarket(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->rows, m.rows);
    EXPECT_EQ(back->cols, m.cols);
    EXPECT_EQ(back->indptr, m.indptr);
    EXPECT_EQ(back->indices, m.indices);
    EXPECT_EQ(back->values, m.values);
  }
  // The same entries in a random order read to the same matrix.
  std::vector<std::string> lines;
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      lines.push_back(std::to_string(m.indices[k] + 1) + " " + std::to_string(r + 1) + " " +
                      std::to_string(static_cast<int>(m.values[k])));
    }
  }
  std::shuffle(lines.begin(), lines.end(), rng);
  std::string text = std::string(kHeader) + "300 200 " + std::to_string(lines.size()) + "\n";
  for (const auto& l : lines) text += l + "\n";
  auto shuffled = Parse(text);
  ASSERT_TRUE(shuffled.ok()) << shuffled.status();
  EXPECT_EQ(shuffled->indptr, m.indptr);
  EXPECT_EQ(shuffled->indices, m.indices);
  EXPECT_EQ(shuffled->values, m.values);
}

}  // namespace
}  // namespace flsailer::data
