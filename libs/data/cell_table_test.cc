#include "libs/data/cell_table.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(BarcodesTest, ReadsFirstColumn) {
  auto reader = LineReader::FromString("AAAC-1\nAAAG-1\tx\n", "b.tsv");
  auto barcodes = ParseBarcodes(*reader);
  ASSERT_TRUE(barcodes.ok());
  EXPECT_THAT(*barcodes, ElementsAre("AAAC-1", "AAAG-1"));
}

TEST(BarcodesTest, RejectsDuplicatesAndEmpty) {
  auto dup = LineReader::FromString("A\nB\nA\n", "b.tsv");
  EXPECT_THAT(std::string(ParseBarcodes(*dup).status().message()),
              HasSubstr("b.tsv:3: duplicate barcode 'A' (first on line 1)"));
  auto empty = LineReader::FromString("A\n\nB\n", "b.tsv");
  EXPECT_THAT(std::string(ParseBarcodes(*empty).status().message()), HasSubstr("b.tsv:2: empty"));
  auto none = LineReader::FromString("", "b.tsv");
  EXPECT_FALSE(ParseBarcodes(*none).ok());
}

TEST(CellMetadataTest, JoinsByBarcodeInMatrixOrder) {
  auto reader = LineReader::FromString(
      "barcode\tcell_type\tbatch\nC\tT\tb2\nA\tB\tb1\nZ\tX\tb9\n", "m.tsv");
  MetadataJoinStats stats;
  auto meta = ParseCellMetadata(*reader, {"A", "B", "C"}, &stats);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_THAT(meta->names, ElementsAre("cell_type", "batch"));
  EXPECT_THAT(meta->columns[meta->Find("cell_type")], ElementsAre("B", "", "T"));
  EXPECT_THAT(meta->columns[meta->Find("batch")], ElementsAre("b1", "", "b2"));
  EXPECT_EQ(meta->Find("nope"), -1);
  EXPECT_EQ(stats.matched, 2);
  EXPECT_EQ(stats.missing, 1);
  EXPECT_EQ(stats.unused_rows, 1);
}

TEST(CellMetadataTest, ReadsRWriteTableQuotesRowNamesAndMissingValues) {
  // write.table(df, sep = "\t"): quoted text, no name over the row names, NA for missing.
  auto reader = LineReader::FromString(
      "\"cell_type\"\t\"batch\"\n\"A\"\t\"B cell\"\tNA\n\"B\"\tNA\t\"b\"\"2\"\n", "r.tsv");
  auto meta = ParseCellMetadata(*reader, {"A", "B"});
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_THAT(meta->names, ElementsAre("cell_type", "batch"));
  EXPECT_THAT(meta->columns[0], ElementsAre("B cell", ""));
  EXPECT_THAT(meta->columns[1], ElementsAre("", "b\"2"));

  // pandas' and databases' spellings of a missing value are missing too; other text is kept.
  auto tokens = LineReader::FromString(
      "barcode\tx\nA\tNaN\nB\t<NA>\nC\tnull\nD\tNone\nE\tna\n", "p.tsv");
  auto values = ParseCellMetadata(*tokens, {"A", "B", "C", "D", "E"});
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(values->columns[0], ElementsAre("", "", "", "None", "na"));
}

TEST(CellMetadataTest, RejectsMalformedTables) {
  auto error = [](const std::string& text) {
    auto reader = LineReader::FromString(text, "m.tsv");
    auto meta = ParseCellMetadata(*reader, {"A", "B"});
    EXPECT_FALSE(meta.ok()) << text;
    return std::string(meta.status().message());
  };
  EXPECT_THAT(error(""), HasSubstr("expected a header"));
  EXPECT_THAT(error("barcode\n"), HasSubstr("at least one more column"));
  EXPECT_THAT(error("barcode\tx\tx\n"), HasSubstr("duplicate column name 'x'"));
  EXPECT_THAT(error("barcode\tx\nA\t1\nB\t1\t2\n"), HasSubstr("m.tsv:3: expected 2 tab-separated"));
  EXPECT_THAT(error("x\ty\nA\t1\t2\nB\t1\n"), HasSubstr("m.tsv:3: expected 3 tab-separated"));
  EXPECT_THAT(error("barcode\t\nA\t1\n"), HasSubstr("m.tsv:1: column 2 has no name"));
  EXPECT_THAT(error("barcode\tx\nA\t1\nA\t2\n"), HasSubstr("m.tsv:3: duplicate barcode 'A'"));
  EXPECT_THAT(error("barcode\tx\nQ\t1\nQ\t2\n"), HasSubstr("m.tsv:3: duplicate barcode 'Q'"));
  EXPECT_THAT(error("barcode\tx\n\t1\n"), HasSubstr("empty barcode"));
}

}  // namespace
}  // namespace flsailer::data
