#include "libs/data/dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/dataset_test_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ::mkdir(dir_.c_str(), 0755);
    // 3 peaks x 2 cells, 10x orientation.
    Write("matrix.mtx",
          "%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 2\n3 1 1\n2 2 4\n");
    Write("barcodes.tsv", "AAAC-1\nAAAG-1\n");
    Write("peaks.bed", "chr1\t100\t600\nchr1\t1000\t1500\nchr2\t50\t550\n");
    Write("cell_metadata.tsv", "barcode\tcell_type\tbatch\nAAAG-1\tB\tsite2\nAAAC-1\tT\tsite1\n");
  }

  void Write(const std::string& name, const std::string& content) {
    FILE* f = std::fopen((dir_ + "/" + name).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }

  std::string LoadError() {
    auto ds = LoadDataset(dir_);
    EXPECT_FALSE(ds.ok());
    return std::string(ds.status().message());
  }

  std::string dir_;
};

TEST_F(DatasetTest, LoadsTenxFolderWithMetadata) {
  auto ds = LoadDataset(dir_);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->matrix.rows, 2);
  EXPECT_EQ(ds->matrix.cols, 3);
  EXPECT_THAT(ds->matrix.indices, ElementsAre(0, 2, 1));
  EXPECT_THAT(ds->barcodes, ElementsAre("AAAC-1", "AAAG-1"));
  EXPECT_EQ(ds->peaks[2], (Peak{"chr2", 50, 550}));
  EXPECT_THAT(ds->metadata.columns[ds->metadata.Find("cell_type")], ElementsAre("T", "B"));
  EXPECT_EQ(ds->source, dir_);
}

TEST_F(DatasetTest, LoadsMultiomeFolderKeepingPeakRows) {
  std::remove((dir_ + "/peaks.bed").c_str());
  // 4 features (a gene between the peaks) x 2 cells; the gene's counts are dropped.
  Write("matrix.mtx",
        "%%MatrixMarket matrix coordinate integer general\n4 2 4\n1 1 2\n2 1 9\n4 1 1\n"
        "3 2 4\n");
  Write("features.tsv",
        "chr1:100-600\tchr1:100-600\tPeaks\tchr1\t100\t600\n"
        "ENSG01\tGENE1\tGene Expression\tchr1\t700\t900\n"
        "chr1:1000-1500\tchr1:1000-1500\tPeaks\tchr1\t1000\t1500\n"
        "chr2:50-550\tchr2:50-550\tPeaks\tchr2\t50\t550\n");
  auto ds = LoadDataset(dir_);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->matrix.cols, 3);
  EXPECT_THAT(ds->matrix.indptr, ElementsAre(0, 2, 3));
  EXPECT_THAT(ds->matrix.indices, ElementsAre(0, 2, 1));
  EXPECT_THAT(ds->matrix.values, ElementsAre(2, 1, 4));
  EXPECT_EQ(ds->peaks[1], (Peak{"chr1", 1000, 1500}));
  EXPECT_THAT(ds->metadata.columns[ds->metadata.Find("cell_type")], ElementsAre("T", "B"));

  std::remove((dir_ + "/features.tsv").c_str());
  EXPECT_THAT(LoadError(), HasSubstr("no peaks.bed[.gz] or features.tsv[.gz]"));
}

TEST_F(DatasetTest, ExplicitMetadataPathWins) {
  Write("other.tsv", "barcode\tlabel\nAAAC-1\tx\n");
  LoadOptions options;
  options.metadata_path = dir_ + "/other.tsv";
  auto ds = LoadDataset(dir_, options);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->metadata.names, ElementsAre("label"));
  EXPECT_THAT(ds->metadata.columns[0], ElementsAre("x", ""));
}

TEST_F(DatasetTest, ShapeMismatchWithBarcodesOrPeaksNamesTheMatrix) {
  Write("barcodes.tsv", "AAAC-1\nAAAG-1\nAAAT-1\n");
  EXPECT_THAT(LoadError(), HasSubstr("matrix.mtx:2: matrix is 3 x 2 but there are 3 peaks and 3"));
}

TEST_F(DatasetTest, BadCompanionFilesAreNamed) {
  Write("peaks.bed", "chr1\t100\t600\nchr1\t1500\t1000\nchr2\t50\t550\n");
  EXPECT_THAT(LoadError(), HasSubstr("peaks.bed:2: start 1500 >= end 1000"));
  SetUp();
  Write("barcodes.tsv", "AAAC-1\nAAAC-1\n");
  EXPECT_THAT(LoadError(), HasSubstr("barcodes.tsv:2: duplicate barcode"));
  SetUp();
  Write("cell_metadata.tsv", "barcode\tcell_type\nAAAC-1\n");
  EXPECT_THAT(LoadError(), HasSubstr("cell_metadata.tsv:2: expected 2 tab-separated fields"));
}

TEST_F(DatasetTest, MissingFilesAndUnknownFormats) {
  std::remove((dir_ + "/matrix.mtx").c_str());
  EXPECT_THAT(LoadError(), HasSubstr("no matrix.mtx or matrix.mtx.gz"));
  EXPECT_EQ(LoadDataset(dir_ + "/nope").status().code(), absl::StatusCode::kNotFound);
  Write("data.csv", "x");
  EXPECT_THAT(std::string(LoadDataset(dir_ + "/data.csv").status().message()),
              HasSubstr("unknown input format"));
}

TEST_F(DatasetTest, CorruptGzipMatrixIsAnErrorNotAPartialMatrix) {
  std::remove((dir_ + "/matrix.mtx").c_str());
  // A gzip header followed by garbage.
  Write("matrix.mtx.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) +
                             "definitely not deflate data");
  EXPECT_THAT(LoadError(), HasSubstr("matrix.mtx.gz"));
}

TEST_F(DatasetTest, ValidateCatchesMisalignedParts) {
  auto ds = LoadDataset(dir_);
  ASSERT_TRUE(ds.ok());
  Dataset bad = *ds;
  bad.barcodes.pop_back();
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("1 barcodes for 2 cells"));
  bad = *ds;
  bad.obsm["X_flsailer"] = DenseMatrix{3, 2, std::vector<float>(6)};
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("obsm 'X_flsailer' is 3 x 2"));
}

TEST(DetectInputFormatTest, ByPathShape) {
  EXPECT_EQ(*DetectInputFormat("../shared/data/granja2019_bmmc"), InputFormat::kTenxFolder);
  EXPECT_EQ(DetectInputFormat("/nonexistent/x.h5ad").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace flsailer::data
