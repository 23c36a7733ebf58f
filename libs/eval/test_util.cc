#include "libs/eval/test_util.h"

#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::eval::testing {

absl::StatusOr<std::vector<std::vector<std::string>>> ReadFixture(const std::string& name) {
  FLS_ASSIGN_OR_RETURN(std::string text, ReadFileToString("libs/eval/testdata/" + name));
  std::vector<std::vector<std::string>> rows;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (header) {
      header = false;
      continue;
    }
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

absl::StatusOr<Blobs> ReadBlobs() {
  FLS_ASSIGN_OR_RETURN(auto rows, ReadFixture("blobs.tsv"));
  Blobs blobs;
  blobs.embedding.rows = static_cast<int64_t>(rows.size());
  blobs.embedding.cols = rows.empty() ? 0 : static_cast<int64_t>(rows[0].size()) - 2;
  for (const auto& row : rows) {
    if (static_cast<int64_t>(row.size()) != blobs.embedding.cols + 2) {
      return absl::DataLossError("blobs.tsv: ragged row");
    }
    blobs.labels.push_back(row[0]);
    blobs.batches.push_back(row[1]);
    for (size_t t = 2; t < row.size(); ++t) {
      float value;
      if (!absl::SimpleAtof(row[t], &value)) return absl::DataLossError("blobs.tsv: bad number");
      blobs.embedding.data.push_back(value);
    }
  }
  return blobs;
}

absl::StatusOr<std::map<std::string, double>> ReadExpected() {
  FLS_ASSIGN_OR_RETURN(auto rows, ReadFixture("expected.tsv"));
  std::map<std::string, double> values;
  for (const auto& row : rows) {
    double value;
    if (row.size() != 2 || !absl::SimpleAtod(row[1], &value)) {
      return absl::DataLossError("expected.tsv: bad row");
    }
    values[row[0]] = value;
  }
  return values;
}

std::vector<double> SplitDoubles(absl::string_view text) {
  std::vector<double> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    double value = NAN;
    if (!absl::SimpleAtod(part, &value)) value = NAN;
    values.push_back(value);
  }
  return values;
}

std::vector<int32_t> SplitInts(absl::string_view text) {
  std::vector<int32_t> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int32_t value = -1;
    if (!absl::SimpleAtoi(part, &value)) value = -1;
    values.push_back(value);
  }
  return values;
}

data::DenseMatrix GaussianBlobs(int clusters, int per_cluster, int dims, double separation,
                                uint64_t seed, std::vector<int32_t>* labels) {
  // Box-Muller on mt19937_64 bits: the same numbers on every platform.
  std::mt19937_64 engine(seed);
  auto uniform = [&] { return (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53; };
  auto normal = [&] {
    return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
  };
  std::vector<double> centres(static_cast<size_t>(clusters * dims));
  for (double& c : centres) c = separation * normal();
  data::DenseMatrix points;
  points.rows = int64_t{clusters} * per_cluster;
  points.cols = dims;
  labels->clear();
  for (int64_t i = 0; i < points.rows; ++i) {
    const int c = static_cast<int>(i % clusters);
    labels->push_back(c);
    for (int t = 0; t < dims; ++t) {
      points.data.push_back(
          static_cast<float>(centres[static_cast<size_t>(c * dims + t)] + normal()));
    }
  }
  return points;
}

}  // namespace flsailer::eval::testing
