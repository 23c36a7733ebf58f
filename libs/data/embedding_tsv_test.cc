#include "libs/data/embedding_tsv.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EmbeddingTsvTest, RoundTripIsExact) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_e.tsv";
  DenseMatrix e{2, 3, {0.1f, -2.5e-8f, 3.0f, 1e30f, 0.0f, -7.125f}};
  ASSERT_TRUE(WriteEmbeddingTsv(path, {"A-1", "B-1"}, e).ok());
  auto back = ReadEmbeddingTsv(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->barcodes, ElementsAre("A-1", "B-1"));
  EXPECT_EQ(back->values.rows, 2);
  EXPECT_EQ(back->values.cols, 3);
  EXPECT_EQ(back->values.data, e.data);  // shortest round-trip float formatting
  EXPECT_FALSE(WriteEmbeddingTsv(path, {"A-1"}, e).ok());
}

TEST(EmbeddingTsvTest, RejectsMalformedTables) {
  auto error = [](const std::string& text) {
    auto reader = LineReader::FromString(text, "e.tsv");
    auto table = ParseEmbeddingTsv(*reader);
    EXPECT_FALSE(table.ok()) << text;
    return std::string(table.status().message());
  };
  EXPECT_THAT(error(""), HasSubstr("expected a header"));
  EXPECT_THAT(error("barcode\n"), HasSubstr("e.tsv:1: header"));
  EXPECT_THAT(error("barcode\td1\n"), HasSubstr("no cells"));
  EXPECT_THAT(error("barcode\td1\nA\t1\t2\n"), HasSubstr("e.tsv:2: expected 2 fields"));
  EXPECT_THAT(error("barcode\td1\nA\tnan\n"), HasSubstr("not a finite number"));
  EXPECT_THAT(error("barcode\td1\nA\tx\n"), HasSubstr("e.tsv:2: column 2"));
  EXPECT_THAT(error("barcode\td1\nA\t1\nA\t2\n"), HasSubstr("e.tsv:3: duplicate barcode 'A'"));
}

}  // namespace
}  // namespace flsailer::data
