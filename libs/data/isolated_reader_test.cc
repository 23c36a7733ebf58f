#include "libs/data/isolated_reader.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::data {
namespace {

using ::testing::HasSubstr;

Dataset Sample() {
  Dataset ds;
  CsrBuilder b(3, /*binary=*/false);
  b.Add(0, 2);
  b.Add(2, 1.5f);
  b.FinishRow();
  b.FinishRow();
  ds.matrix = std::move(b).Finish();
  ds.barcodes = {"A", "B"};
  ds.peaks = {{"chr1", 0, 10}, {"chr1", 20, 30}, {"chrX", 5, 9}};
  ds.metadata.names = {"cell_type"};
  ds.metadata.columns = {{"T", ""}};
  ds.obsm["X_flsailer"] = DenseMatrix{2, 2, {1, 2, 3, 4}};
  return ds;
}

TEST(IsolatedReaderTest, DatasetComesBackWhole) {
  auto ds = ReadInChildProcess("any", [](const std::string&) -> absl::StatusOr<Dataset> {
    return Sample();
  });
  ASSERT_TRUE(ds.ok()) << ds.status();
  const Dataset want = Sample();
  EXPECT_EQ(ds->matrix.indptr, want.matrix.indptr);
  EXPECT_EQ(ds->matrix.indices, want.matrix.indices);
  EXPECT_EQ(ds->matrix.values, want.matrix.values);
  EXPECT_EQ(ds->matrix.cols, 3);
  EXPECT_EQ(ds->barcodes, want.barcodes);
  EXPECT_EQ(ds->peaks, want.peaks);
  EXPECT_EQ(ds->metadata.columns, want.metadata.columns);
  EXPECT_EQ(ds->obsm.at("X_flsailer").data, want.obsm.at("X_flsailer").data);
  EXPECT_TRUE(ds->Validate().ok());
}

TEST(IsolatedReaderTest, ErrorsComeBackAsTheyWere) {
  auto ds = ReadInChildProcess("f.h5ad", [](const std::string& path) -> absl::StatusOr<Dataset> {
    return absl::InvalidArgumentError(path + ": /X/indptr: decreases at 7");
  });
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds.status().message(), "f.h5ad: /X/indptr: decreases at 7");
}

TEST(IsolatedReaderTest, ACrashingReaderIsAnError) {
  auto ds = ReadInChildProcess("corrupt.h5ad", [](const std::string&) -> absl::StatusOr<Dataset> {
    std::abort();
  });
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr("corrupt.h5ad: the reader crashed"));
  // The parent carries on.
  auto again = ReadInChildProcess("any", [](const std::string&) -> absl::StatusOr<Dataset> {
    return Sample();
  });
  EXPECT_TRUE(again.ok());
}

}  // namespace
}  // namespace flsailer::data
