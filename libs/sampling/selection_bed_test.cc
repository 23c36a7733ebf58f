#include "libs/sampling/selection_bed.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/data/peak_mapping.h"

namespace flsailer::sampling {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

TEST(ScoreRanksTest, HighestFirstTiesToTheLowerIndex) {
  EXPECT_EQ(ScoreRanks({0.1, 0.4, 0.1, 0.3}), (std::vector<int64_t>{3, 1, 4, 2}));
  EXPECT_EQ(ScoreRanks({}), (std::vector<int64_t>{}));
}

TEST(SelectionBedTest, ColumnsAsDocumentedAndReadableAsBed) {
  const std::vector<data::Peak> peaks = {
      {"chr1", 100, 600}, {"chr1", 1000, 1500}, {"chr2", 50, 550}, {"chrX", 7, 70}};
  const std::vector<double> scores = {0.1, 0.5, 0.15, 0.25};
  const std::string path = TempPath("selected.bed");
  ASSERT_TRUE(WriteSelectionBed(path, peaks, scores, {1, 3}, "leverage, rate 0.5\nversion 0").ok());
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            "# leverage, rate 0.5 version 0\n"
            "#chrom\tstart\tend\tname\tscore\tstrand\tselection_score\trank\n"
            "chr1\t1000\t1500\tchr1:1000-1500\t1000\t.\t0.5\t1\n"
            "chrX\t7\t70\tchrX:7-70\t500\t.\t0.25\t2\n");
  auto back = data::ReadBed(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::vector<data::Peak>{peaks[1], peaks[3]}));

  // As a --reference, it maps the full matrix onto exactly the kept columns.
  data::CsrBuilder b(4, /*binary=*/false);
  for (int32_t j = 0; j < 4; ++j) b.Add(j, static_cast<float>(j + 1));
  b.FinishRow();
  auto mapped = data::MapToReference(std::move(b).Finish(), peaks, *back);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped->indices, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(mapped->values, (std::vector<float>{2, 4}));
}

TEST(SelectionBedTest, BadInputIsAnError) {
  const std::vector<data::Peak> peaks = {{"chr1", 0, 10}, {"chr1", 20, 30}};
  const std::string path = TempPath("bad.bed");
  EXPECT_THAT(std::string(WriteSelectionBed(path, peaks, {1.0}, {0}, "x").message()),
              HasSubstr("1 scores for 2 peaks"));
  EXPECT_THAT(std::string(WriteSelectionBed(path, peaks, {1, 2}, {2}, "x").message()),
              HasSubstr("peak index 2 out of range"));
  EXPECT_THAT(std::string(WriteSelectionBed(path, peaks, {1, 2}, {}, "x").message()),
              HasSubstr("no peak kept"));
  EXPECT_FALSE(WriteSelectionBed(path, peaks, {1, std::nan("")}, {0}, "x").ok());
  EXPECT_FALSE(FileExists(path));
}

}  // namespace
}  // namespace flsailer::sampling
