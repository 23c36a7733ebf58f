#include "libs/data/peaks.h"

#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::vector<Peak>> Parse(const std::string& text) {
  auto reader = LineReader::FromString(text, "p.bed");
  return ParseBed(*reader);
}

TEST(BedTest, ParsesTabsSpacesExtraColumnsAndSkipsHeaders) {
  auto peaks = Parse(
      "track name=peaks\n# comment\nbrowser position chr1\n\nchr1\t10\t20\tname\t5\n"
      "chr2 30 45\n");
  ASSERT_TRUE(peaks.ok()) << peaks.status();
  ASSERT_EQ(peaks->size(), 2u);
  EXPECT_EQ((*peaks)[0], (Peak{"chr1", 10, 20}));
  EXPECT_EQ((*peaks)[1], (Peak{"chr2", 30, 45}));
}

TEST(BedTest, RejectsBadLinesNamingThem) {
  auto error = [](const std::string& text) {
    auto p = Parse(text);
    EXPECT_FALSE(p.ok()) << text;
    return std::string(p.status().message());
  };
  EXPECT_THAT(error("chr1\t10\t20\nchr1\t30\t30\n"), HasSubstr("p.bed:2: start 30 >= end 30"));
  EXPECT_THAT(error("chr1\t40\t30\n"), HasSubstr("p.bed:1: start 40 >= end 30"));
  EXPECT_THAT(error("chr1\t10\n"), HasSubstr("p.bed:1: expected at least 3 columns"));
  EXPECT_THAT(error("chr1\tten\t20\n"), HasSubstr("must be integers"));
  EXPECT_THAT(error("chr1\t-5\t20\n"), HasSubstr("negative"));
  EXPECT_THAT(error("\t5\t20\n"), HasSubstr("empty chromosome"));
  EXPECT_THAT(error("# only a comment\n"), HasSubstr("no peaks"));
}

TEST(BedTest, SkipsAHeaderLineAndReadsPeakNames) {
  auto peaks = Parse("seqnames\tstart\tend\nchr1\t10\t20\n");
  ASSERT_TRUE(peaks.ok()) << peaks.status();
  ASSERT_EQ(peaks->size(), 1u);
  EXPECT_EQ((*peaks)[0], (Peak{"chr1", 10, 20}));
  auto named = Parse("chr1:10-20\nchr2-30-45\n");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ((*named)[1], (Peak{"chr2", 30, 45}));
  EXPECT_THAT(std::string(Parse("chr1:10-20\npeak7\n").status().message()),
              HasSubstr("p.bed:2: peak name 'peak7' is not chrom:start-end"));
  // Only the first line may be names.
  EXPECT_FALSE(Parse("chr1\t10\t20\nchrom\tstart\tend\n").ok());
}

absl::StatusOr<FeatureTable> Features(const std::string& text) {
  auto reader = LineReader::FromString(text, "f.tsv");
  return ParseFeatures(*reader);
}

TEST(FeaturesTest, KeepsPeakRowsOfAMultiomeTable) {
  auto table = Features(
      "ENSG01\tMIR1302-2HG\tGene Expression\tchr1\t29553\t30267\n"
      "chr1:9768-10660\tchr1:9768-10660\tPeaks\tchr1\t9768\t10660\n"
      "ENSG02\tFAM138A\tGene Expression\tchr1\t34553\t36081\n"
      "peak_7\tpeak_7\tPeaks\tchr2\t50\t550\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->features, 4);
  EXPECT_THAT(table->rows, ::testing::ElementsAre(1, 3));
  ASSERT_EQ(table->peaks.size(), 2u);
  EXPECT_EQ(table->peaks[0], (Peak{"chr1", 9768, 10660}));
  EXPECT_EQ(table->peaks[1], (Peak{"chr2", 50, 550}));  // from columns 4-6

  auto peaks_only = Features("chr1-100-200\nchr1_300_400\n");  // no type column
  ASSERT_TRUE(peaks_only.ok()) << peaks_only.status();
  EXPECT_THAT(peaks_only->rows, ::testing::ElementsAre(0, 1));
}

TEST(FeaturesTest, RejectsRowsThatAreNotPeaksNamingTheLine) {
  auto error = [](const std::string& text) {
    auto t = Features(text);
    EXPECT_FALSE(t.ok()) << text;
    return std::string(t.status().message());
  };
  EXPECT_THAT(error("chr1:1-5\tx\tPeaks\nENSG01\tx\tPeaks\n"),
              HasSubstr("f.tsv:2: feature 'ENSG01' is not a peak"));
  EXPECT_THAT(error("p\tp\tPeaks\tchr1\t50\t40\n"), HasSubstr("f.tsv:1: feature 'p'"));
  EXPECT_THAT(error("ENSG01\tx\tGene Expression\n"), HasSubstr("no features of type 'Peaks'"));
  EXPECT_THAT(error("chr1:1-5\n\nchr1:6-9\n"), HasSubstr("f.tsv:2: empty line"));
}

TEST(BedTest, WriteReadRoundTripWithExtraColumns) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_p.bed.gz";
  std::vector<Peak> peaks = {{"chr1", 0, 500}, {"chrX", 100, 600}};
  ASSERT_TRUE(WriteBed(path, peaks, {"0.5\t1", "0.25\t2"}).ok());
  auto back = ReadBed(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, peaks);
  EXPECT_FALSE(WriteBed(path, peaks, {"only one"}).ok());
}

TEST(BedTest, HeaderLinesAreWrittenAndSkippedOnRead) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_h.bed";
  std::vector<Peak> peaks = {{"chr2", 5, 50}};
  ASSERT_TRUE(WriteBed(path, peaks, {"x"}, "# made by a test\n#chrom\tstart\tend\tname\n").ok());
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "# made by a test\n#chrom\tstart\tend\tname\nchr2\t5\t50\tx\n");
  auto back = ReadBed(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, peaks);
  EXPECT_THAT(std::string(WriteBed(path, peaks, {}, "no hash\n").message()),
              HasSubstr("must start with '#'"));
  EXPECT_FALSE(WriteBed(path, peaks, {}, "# no newline").ok());
}

TEST(PeakNameTest, ParsesCommonSpellings) {
  for (const char* name : {"chr1:100-200", "chr1-100-200", "chr1_100_200"}) {
    auto p = ParsePeakName(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(*p, (Peak{"chr1", 100, 200})) << name;
  }
  auto un = ParsePeakName("chrUn_gl000220:5-90");
  ASSERT_TRUE(un.ok());
  EXPECT_EQ(un->chrom, "chrUn_gl000220");
  EXPECT_EQ(PeakName(*un), "chrUn_gl000220:5-90");
  for (const char* bad : {"", "chr1", "chr1:100", "chr1:200-100", "chr1:a-b", ":1-2"}) {
    EXPECT_FALSE(ParsePeakName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace flsailer::data
