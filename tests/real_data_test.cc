// The data layer on the real scATAC-seq datasets in ../shared/data: shapes and non-zeros as their
// READMEs state, labels and batches joined by barcode, depth columns consistent with the counts.
#include <cstdlib>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"

namespace flsailer::data {
namespace {

std::string SharedData(const std::string& name) {
  const char* env = std::getenv("FLSAILER_SHARED_DATA");
  return std::string(env != nullptr ? env : "../shared/data") + "/" + name;
}

// Loads a shared dataset; skips the test where the shared data is not laid out beside the repo.
#define LOAD_OR_SKIP(var, name)                                                       \
  const std::string var##_path = SharedData(name);                                    \
  if (!IsDirectory(var##_path)) GTEST_SKIP() << var##_path << " not present";         \
  absl::StatusOr<Dataset> var##_or = LoadDataset(var##_path);                         \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                                    \
  const Dataset& var = *var##_or

std::map<std::string, int> Counts(const Dataset& ds, const std::string& column) {
  std::map<std::string, int> counts;
  const int c = ds.metadata.Find(column);
  EXPECT_GE(c, 0) << "no column " << column;
  if (c < 0) return counts;
  for (const std::string& v : ds.metadata.columns[c]) ++counts[v];
  return counts;
}

// Integer column `column` equals the per-cell sum of counts (or number of open peaks).
void ExpectColumnMatches(const Dataset& ds, const std::string& column,
                         const std::vector<double>& per_cell) {
  const int c = ds.metadata.Find(column);
  ASSERT_GE(c, 0);
  int mismatches = 0;
  for (int64_t i = 0; i < ds.matrix.rows; ++i) {
    if (std::stod(ds.metadata.columns[c][i]) != per_cell[i]) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << column;
}

std::vector<double> OpenPeaks(const CsrMatrix& m) {
  std::vector<double> open(m.rows);
  for (int64_t r = 0; r < m.rows; ++r) open[r] = static_cast<double>(m.row_nnz(r));
  return open;
}

TEST(RealDataTest, Granja2019Bmmc) {
  LOAD_OR_SKIP(ds, "granja2019_bmmc");
  EXPECT_EQ(ds.matrix.rows, 600);
  EXPECT_EQ(ds.matrix.cols, 5000);
  EXPECT_EQ(ds.matrix.nnz(), 46359);
  EXPECT_FALSE(ds.matrix.is_binary());
  EXPECT_EQ(ds.barcodes.front(), "BMM_R2_4838");
  EXPECT_EQ(ds.peaks.size(), 5000u);
  const auto types = Counts(ds, "cell_type");
  ASSERT_EQ(types.size(), 6u);
  for (const auto& [type, n] : types) EXPECT_EQ(n, 100) << type;
  const auto donors = Counts(ds, "sample_group");
  EXPECT_EQ(donors.at("BMMC_D6T1"), 492);
  EXPECT_EQ(donors.at("BMMC_D5T1"), 108);
}

TEST(RealDataTest, Buenrostro2015) {
  LOAD_OR_SKIP(ds, "buenrostro2015_gm12878_h1");
  EXPECT_EQ(ds.matrix.rows, 50);
  EXPECT_EQ(ds.matrix.cols, 29269);
  EXPECT_EQ(ds.matrix.nnz(), 113572);
  const auto types = Counts(ds, "cell_type");
  EXPECT_EQ(types.at("GM"), 25);
  EXPECT_EQ(types.at("H1"), 25);
  float max_value = 0;
  for (float v : ds.matrix.values) max_value = std::max(max_value, v);
  EXPECT_EQ(max_value, 13.0f);
}

TEST(RealDataTest, Pbmc10kSmall) {
  LOAD_OR_SKIP(ds, "pbmc10k_small_fragments");
  EXPECT_EQ(ds.matrix.rows, 100);
  EXPECT_EQ(ds.matrix.cols, 323);
  EXPECT_EQ(ds.matrix.nnz(), 4269);
  const auto clusters = Counts(ds, "cell_type");
  EXPECT_EQ(clusters.at("cluster_0"), 50);
  EXPECT_EQ(clusters.at("cluster_1"), 50);
}

TEST(RealDataTest, SnareSeq2019GzippedMatrix) {
  LOAD_OR_SKIP(ds, "snareseq2019_mouse_cortex");
  EXPECT_EQ(ds.matrix.rows, 10309);
  EXPECT_EQ(ds.matrix.cols, 25734);
  EXPECT_EQ(ds.matrix.nnz(), 1018463);
  EXPECT_EQ(Counts(ds, "cell_type").size(), 15u);
  const auto libraries = Counts(ds, "batch");
  EXPECT_EQ(libraries.size(), 12u);
  for (const auto& [library, n] : libraries) {
    EXPECT_GE(n, 785) << library;
    EXPECT_LE(n, 916) << library;
  }
  // The dataset's own per-cell QC columns agree with the matrix we read.
  ExpectColumnMatches(ds, "n_counts", ds.matrix.RowSums());
  ExpectColumnMatches(ds, "n_peaks", OpenPeaks(ds.matrix));
}

}  // namespace
}  // namespace flsailer::data
