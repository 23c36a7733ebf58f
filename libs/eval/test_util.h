// Test-only helpers of libs/eval: fixture readers (libs/eval/testdata, made by make_fixtures.py)
// and synthetic embeddings. Tests run with the repository root as working directory.
#ifndef FLSAILER_LIBS_EVAL_TEST_UTIL_H_
#define FLSAILER_LIBS_EVAL_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "libs/data/dataset.h"
#include "libs/eval/categories.h"

namespace flsailer::eval::testing {

// Rows of libs/eval/testdata/<name> split at tabs, header line dropped.
absl::StatusOr<std::vector<std::vector<std::string>>> ReadFixture(const std::string& name);

// The 240-cell fixture embedding (blobs.tsv) with its labels and batches.
struct Blobs {
  data::DenseMatrix embedding;
  std::vector<std::string> labels;
  std::vector<std::string> batches;
};
absl::StatusOr<Blobs> ReadBlobs();

// expected.tsv as key -> value.
absl::StatusOr<std::map<std::string, double>> ReadExpected();

// A test fixture holding the blobs fixture, the expected values, and the labels and batches as
// category codes.
class BlobsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto blobs = ReadBlobs();
    auto expected = ReadExpected();
    ASSERT_TRUE(blobs.ok() && expected.ok());
    blobs_ = *std::move(blobs);
    expected_ = *std::move(expected);
    labels_ = EncodeCategories(blobs_.labels).codes;
    batches_ = EncodeCategories(blobs_.batches).codes;
  }

  Blobs blobs_;
  std::map<std::string, double> expected_;
  std::vector<int32_t> labels_, batches_;
};

// Comma-separated numbers.
std::vector<double> SplitDoubles(absl::string_view text);
std::vector<int32_t> SplitInts(absl::string_view text);

// `clusters` isotropic Gaussian blobs of `per_cluster` cells in `dims` dimensions, unit standard
// deviation, centres drawn with standard deviation `separation`; *labels gets each cell's blob.
// Cells are interleaved (cell i belongs to blob i % clusters).
data::DenseMatrix GaussianBlobs(int clusters, int per_cluster, int dims, double separation,
                                uint64_t seed, std::vector<int32_t>* labels);

}  // namespace flsailer::eval::testing

#endif  // FLSAILER_LIBS_EVAL_TEST_UTIL_H_
