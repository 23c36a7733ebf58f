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
