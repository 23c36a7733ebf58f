#include "libs/data/isolated_reader.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

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

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/isolated_reader_test_" +
         std::to_string(::getpid()) + "_" + name;
}

std::vector<std::string> H5adReader() {
  absl::StatusOr<std::string> helper = HelperReaderPath();
  EXPECT_TRUE(helper.ok()) << helper.status();
  return {helper.value_or("missing"), "h5ad"};
}

TEST(IsolatedReaderTest, DatasetComesBackWhole) {
  const std::string path = TempPath("whole.h5ad");
  ASSERT_TRUE(WriteH5ad(path, Sample()).ok());
  auto ds = ReadInHelperProcess(H5adReader(), path);
  std::remove(path.c_str());
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
  const std::string path = TempPath("not-there.h5ad");
  auto ds = ReadInHelperProcess(H5adReader(), path);
  EXPECT_FALSE(ds.ok());
  EXPECT_NE(ds.status().code(), absl::StatusCode::kInternal) << ds.status();
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr(path));
}

TEST(IsolatedReaderTest, ACrashingReaderIsAnError) {
  auto ds = ReadInHelperProcess({"/bin/sh", "-c", "kill -SEGV $$", "sh"}, "corrupt.h5ad");
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ds.status().message()),
              HasSubstr("corrupt.h5ad: the reader crashed (signal 11)"));
}

TEST(IsolatedReaderTest, GarbageFromTheReaderIsAnError) {
  auto ds = ReadInHelperProcess({"/bin/sh", "-c", "echo not a dataset >&3", "sh"}, "f.h5ad");
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr("f.h5ad: the reader process failed"));
  auto missing = ReadInHelperProcess({"/nonexistent/reader"}, "f.h5ad");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/reader"));
}

// The reason for a separate program: reads from many threads at once, while other threads run,
// all complete (a fork()ed copy of a multithreaded process could block forever).
TEST(IsolatedReaderTest, ConcurrentReadsFromManyThreads) {
  const std::string path = TempPath("concurrent.h5ad");
  ASSERT_TRUE(WriteH5ad(path, Sample()).ok());
  const std::vector<std::string> reader = H5adReader();
  std::vector<int> rows(8, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        auto ds = ReadInHelperProcess(reader, path);
        rows[t] = ds.ok() ? static_cast<int>(ds->matrix.rows) : -1;
        if (!ds.ok()) return;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::remove(path.c_str());
  EXPECT_EQ(rows, std::vector<int>(8, 2));
}

TEST(IsolatedReaderTest, HelperIsFoundAndOverridable) {
  absl::StatusOr<std::string> helper = HelperReaderPath();
  ASSERT_TRUE(helper.ok()) << helper.status();
  EXPECT_THAT(*helper, HasSubstr(kHelperReaderName));
  ::setenv("FLSAILER_READ_DATASET", "/opt/reader", 1);
  EXPECT_EQ(HelperReaderPath().value_or(""), "/opt/reader");
  ::unsetenv("FLSAILER_READ_DATASET");
}

}  // namespace
}  // namespace flsailer::data
