#include "libs/data/simulate.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"
#include "libs/data/peaks.h"

namespace flsailer::data {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/simulate_" + std::to_string(getpid()) + "_" + name;
}

std::set<std::string> ListDir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(d);
  return names;
}

// The raw bytes of a file (not decompressed).
std::string RawBytes(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, got);
  std::fclose(f);
  return out;
}

// Rows of a TSV file with a header, as maps from column name to value.
std::vector<std::map<std::string, std::string>> ReadTsv(const std::string& path) {
  std::vector<std::map<std::string, std::string>> rows;
  auto text = ReadFileToString(path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return rows;
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.empty()) return rows;
  const std::vector<std::string> header = absl::StrSplit(lines[0], '\t');
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = absl::StrSplit(lines[i], '\t');
    EXPECT_EQ(fields.size(), header.size()) << path << " line " << i + 1;
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < header.size() && c < fields.size(); ++c) row[header[c]] = fields[c];
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::vector<std::string>& Column(const Dataset& ds, const std::string& name) {
  const int c = ds.metadata.Find(name);
  EXPECT_GE(c, 0) << "no metadata column " << name;
  static const std::vector<std::string> kEmpty;
  return c < 0 ? kEmpty : ds.metadata.columns[c];
}

// Peaks of each role ("type:type_1", "noise:institution_2", "shared") from truth_peaks.tsv.
std::map<std::string, std::vector<int32_t>> PeaksByRole(const std::string& out_dir) {
  std::map<std::string, std::vector<int32_t>> roles;
  for (const auto& row : ReadTsv(out_dir + "/truth_peaks.tsv")) {
    roles[row.at("role")].push_back(std::stoi(row.at("peak_index")));
  }
  return roles;
}

// Mean over the cells in `group` of the fraction of `peaks` open in the cell.
double MeanOpenFraction(const CsrMatrix& m, const std::vector<int64_t>& group,
                        const std::vector<int32_t>& peaks) {
  std::vector<char> in_set(m.cols, 0);
  for (int32_t p : peaks) in_set[p] = 1;
  double sum = 0;
  for (int64_t r : group) {
    int64_t open = 0;
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) open += in_set[m.indices[k]];
    sum += static_cast<double>(open) / peaks.size();
  }
  return sum / group.size();
}

// Cells grouped by the value of a metadata column.
std::map<std::string, std::vector<int64_t>> GroupBy(const Dataset& ds, const std::string& column) {
  std::map<std::string, std::vector<int64_t>> groups;
  const std::vector<std::string>& values = Column(ds, column);
  for (size_t r = 0; r < values.size(); ++r) groups[values[r]].push_back(static_cast<int64_t>(r));
  return groups;
}

// Accuracy of a nearest-centroid classifier (cosine similarity of binarised profiles) of
// `column`, fitted on the cells `train` accepts and tested on the others.
double NearestCentroidAccuracy(const Dataset& ds, const std::string& column,
                               const std::function<bool(int64_t)>& train) {
  const CsrMatrix& m = ds.matrix;
  const std::vector<std::string>& labels = Column(ds, column);
  std::map<std::string, std::vector<double>> centroids;
  for (int64_t r = 0; r < m.rows; ++r) {
    if (!train(r)) continue;
    std::vector<double>& c = centroids[labels[r]];
    c.resize(m.cols, 0.0);
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) c[m.indices[k]] += 1;
  }
  for (auto& [label, c] : centroids) {
    double norm = 0;
    for (double x : c) norm += x * x;
    for (double& x : c) x /= std::sqrt(norm);
  }
  int64_t tested = 0, correct = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    if (train(r)) continue;
    std::string best;
    double best_score = -1;
    for (const auto& [label, c] : centroids) {
      double score = 0;
      for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) score += c[m.indices[k]];
      if (score > best_score) {
        best_score = score;
        best = label;
      }
    }
    ++tested;
    correct += best == labels[r];
  }
  return tested == 0 ? 0 : static_cast<double>(correct) / tested;
}

SimulationOptions SmallOptions() {
  SimulationOptions o;
  o.cells = 900;
  o.peaks = 3000;
  o.cell_types = 4;
  o.institutions = 3;
  o.seed = 7;
  return o;
}

// Runs Simulate and loads the (single) folder it wrote.
Dataset SimulateAndLoad(const SimulationOptions& options, const std::string& dir,
                        SimulationSummary* summary = nullptr) {
  auto result = Simulate(options, dir);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return Dataset();
  if (summary != nullptr) *summary = *result;
  auto ds = LoadDataset(dir);
  EXPECT_TRUE(ds.ok()) << ds.status();
  return ds.ok() ? *std::move(ds) : Dataset();
}

TEST(SimulateTest, WritesALoadableDatasetWithMetadataAndTruth) {
  const SimulationOptions o = SmallOptions();
  const std::string dir = TempPath("loadable");
  SimulationSummary summary;
  const Dataset ds = SimulateAndLoad(o, dir, &summary);
  ASSERT_EQ(ds.matrix.rows, 900);
  EXPECT_EQ(ds.matrix.cols, 3000);
  EXPECT_EQ(summary.cells, 900);
  EXPECT_EQ(ds.matrix.nnz(), summary.nnz);
  EXPECT_FALSE(ds.matrix.is_binary());
  EXPECT_EQ(summary.cells_per_institution, (std::vector<int64_t>{300, 300, 300}));
  EXPECT_EQ(summary.folders, (std::vector<std::string>{dir}));
  EXPECT_EQ(ListDir(dir), (std::set<std::string>{"matrix.mtx.gz", "peaks.bed", "barcodes.tsv",
                                                 "cell_metadata.tsv", "truth_peaks.tsv",
                                                 "truth_institutions.tsv"}));

  // Every cell has metadata, a count, and a depth equal to its total count.
  const std::vector<double> sums = ds.matrix.RowSums();
  const std::vector<std::string>& depth = Column(ds, "depth");
  ASSERT_EQ(depth.size(), 900u);
  for (int64_t r = 0; r < ds.matrix.rows; ++r) {
    ASSERT_GE(ds.matrix.row_nnz(r), 1) << "cell " << r;
    ASSERT_EQ(std::stod(depth[r]), sums[r]) << "cell " << r;
  }
  const auto types = GroupBy(ds, "cell_type");
  EXPECT_EQ(types.size(), 4u);
  for (const auto& [type, cells] : types) EXPECT_EQ(type.rfind("type_", 0), 0u) << type;
  const auto batches = GroupBy(ds, "batch");
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches.at("institution_1").size(), 300u);
  EXPECT_EQ(batches.at("institution_3").size(), 300u);

  // Ground truth: one row per peak, named as in peaks.bed, with the requested role counts.
  const auto truth = ReadTsv(dir + "/truth_peaks.tsv");
  ASSERT_EQ(truth.size(), 3000u);
  for (size_t j = 0; j < truth.size(); j += 97) {
    EXPECT_EQ(truth[j].at("peak_index"), std::to_string(j));
    EXPECT_EQ(truth[j].at("peak_name"), PeakName(ds.peaks[j]));
  }
  const auto roles = PeaksByRole(dir);
  EXPECT_EQ(roles.size(), 1u + 4 + 3);
  EXPECT_EQ(roles.at("type:type_1").size(), 150u);  // 5% of 3000
  EXPECT_EQ(roles.at("type:type_4").size(), 150u);
  EXPECT_EQ(roles.at("noise:institution_2").size(), 60u);  // 2%
  EXPECT_EQ(roles.at("shared").size(), 3000u - 4 * 150 - 3 * 60);

  const auto institutions = ReadTsv(dir + "/truth_institutions.tsv");
  ASSERT_EQ(institutions.size(), 3u);
  EXPECT_EQ(institutions[0].at("institution"), "institution_1");
  EXPECT_EQ(institutions[0].at("cells"), "300");
  double mix_sum = 0;
  for (int t = 1; t <= 4; ++t) {
    mix_sum += std::stod(institutions[0].at("type_" + std::to_string(t)));
  }
  EXPECT_NEAR(mix_sum, 1.0, 1e-4);
}

TEST(SimulateTest, SameSeedGivesIdenticalFilesAndAnotherSeedOtherData) {
  SimulationOptions o = SmallOptions();
  const std::string a = TempPath("seed_a"), b = TempPath("seed_b"), c = TempPath("seed_c");
  ASSERT_TRUE(Simulate(o, a).ok());
  ASSERT_TRUE(Simulate(o, b).ok());
  o.seed = 8;
  ASSERT_TRUE(Simulate(o, c).ok());
  for (const std::string& file : ListDir(a)) {
    const std::string bytes = RawBytes(a + "/" + file);
    EXPECT_FALSE(bytes.empty()) << file;
    EXPECT_EQ(bytes, RawBytes(b + "/" + file)) << file;
  }
  EXPECT_NE(RawBytes(a + "/matrix.mtx.gz"), RawBytes(c + "/matrix.mtx.gz"));
  EXPECT_NE(RawBytes(a + "/cell_metadata.tsv"), RawBytes(c + "/cell_metadata.tsv"));
  EXPECT_NE(RawBytes(a + "/truth_peaks.tsv"), RawBytes(c + "/truth_peaks.tsv"));
}

TEST(SimulateTest, DensityIsCloseToTheRequest) {
  struct Case {
    double density, depth_shift_sd, distortion_sd, log_depth_sd;
  };
  for (const Case& c :
       {Case{0.01, 0.3, 0.5, 0.5}, Case{0.03, 1.0, 1.0, 0.8}, Case{0.15, 0.3, 0.5, 0.2}}) {
    SimulationOptions o = SmallOptions();
    o.cells = 1000;
    o.peaks = 2000;
    o.density = c.density;
    o.depth_shift_sd = c.depth_shift_sd;
    o.distortion_sd = c.distortion_sd;
    o.log_depth_sd = c.log_depth_sd;
    auto summary = Simulate(o, TempPath("density"));
    ASSERT_TRUE(summary.ok()) << summary.status();
    const double density = static_cast<double>(summary->nnz) / (1000.0 * 2000);
    EXPECT_NEAR(density / c.density, 1.0, 0.05) << "requested " << c.density << " got " << density;
  }
}

TEST(SimulateTest, CellTypesHaveTheirSpecificPeaksAndAreRecoverableAcrossInstitutions) {
  SimulationOptions o = SmallOptions();
  o.cells = 1500;
  const std::string dir = TempPath("types");
  const Dataset ds = SimulateAndLoad(o, dir);
  ASSERT_EQ(ds.matrix.rows, 1500);
  const auto roles = PeaksByRole(dir);
  const auto types = GroupBy(ds, "cell_type");
  for (const auto& [type, cells] : types) {
    std::vector<int64_t> others;
    for (const auto& [other, other_cells] : types) {
      if (other != type) others.insert(others.end(), other_cells.begin(), other_cells.end());
    }
    const std::vector<int32_t>& specific = roles.at("type:" + type);
    const double in_type = MeanOpenFraction(ds.matrix, cells, specific);
    const double elsewhere = MeanOpenFraction(ds.matrix, others, specific);
    EXPECT_GT(in_type, 4 * elsewhere) << type << ": " << in_type << " vs " << elsewhere;
  }
  // A classifier fitted on one institution labels another's cells: the types survive the
  // institution effects.
  const std::vector<std::string>& batch = Column(ds, "batch");
  const double accuracy = NearestCentroidAccuracy(
      ds, "cell_type", [&](int64_t r) { return batch[r] == "institution_1"; });
  EXPECT_GT(accuracy, 0.95);
}

TEST(SimulateTest, InstitutionEffectsAreStrong) {
  SimulationOptions o = SmallOptions();
  o.cells = 1600;
  o.institutions = 4;
  o.depth_shift_sd = 1.0;
  const std::string dir = TempPath("institutions");
  const Dataset ds = SimulateAndLoad(o, dir);
  ASSERT_EQ(ds.matrix.rows, 1600);
  const auto batches = GroupBy(ds, "batch");
  ASSERT_EQ(batches.size(), 4u);

  // Depth: each institution's mean log depth is the one in the truth, and they differ widely.
  const std::vector<double> depth = ds.matrix.RowSums();
  double lowest = 1e9, highest = -1e9;
  for (const auto& row : ReadTsv(dir + "/truth_institutions.tsv")) {
    const double truth = std::stod(row.at("mean_log_depth"));
    double sum = 0;
    const std::vector<int64_t>& cells = batches.at(row.at("institution"));
    for (int64_t r : cells) sum += std::log(depth[r]);
    EXPECT_NEAR(sum / cells.size(), truth, 0.1) << row.at("institution");
    lowest = std::min(lowest, truth);
    highest = std::max(highest, truth);
  }
  EXPECT_GT(highest - lowest, 1.0);

  // Noise peaks are open far more often in their own institution.
  const auto roles = PeaksByRole(dir);
  for (const auto& [name, cells] : batches) {
    std::vector<int64_t> others;
    for (const auto& [other, other_cells] : batches) {
      if (other != name) others.insert(others.end(), other_cells.begin(), other_cells.end());
    }
    // Compare cells of similar depth: the other institutions' depths differ by design.
    const std::vector<int32_t>& noise = roles.at("noise:" + name);
    const std::vector<int32_t>& shared = roles.at("shared");
    const double own =
        MeanOpenFraction(ds.matrix, cells, noise) / MeanOpenFraction(ds.matrix, cells, shared);
    const double elsewhere =
        MeanOpenFraction(ds.matrix, others, noise) / MeanOpenFraction(ds.matrix, others, shared);
    EXPECT_GT(own, 2.5 * elsewhere) << name;
  }

  // A naive method sees the institutions: a nearest-centroid classifier tells them apart, from
  // about 90 open peaks per cell.
  const double accuracy =
      NearestCentroidAccuracy(ds, "batch", [](int64_t r) { return r % 2 == 0; });
  EXPECT_GT(accuracy, 0.75);  // chance: 0.25
}

TEST(SimulateTest, MixConcentrationControlsHowTypeMixesDiffer) {
  // Largest total-variation distance between two institutions' observed type mixes.
  auto max_mix_distance = [](double concentration, const std::string& dir) {
    SimulationOptions o = SmallOptions();
    o.cells = 2000;
    o.institutions = 4;
    o.mix_concentration = concentration;
    const Dataset ds = SimulateAndLoad(o, dir);
    const std::vector<std::string>& type = Column(ds, "cell_type");
    std::map<std::string, std::map<std::string, double>> mix;
    for (const auto& [batch, cells] : GroupBy(ds, "batch")) {
      for (int64_t r : cells) mix[batch][type[r]] += 1.0 / cells.size();
    }
    double distance = 0;
    for (const auto& [a, mix_a] : mix) {
      for (const auto& [b, mix_b] : mix) {
        double tv = 0;
        for (int t = 1; t <= 4; ++t) {
          const std::string name = "type_" + std::to_string(t);
          const double pa = mix_a.count(name) ? mix_a.at(name) : 0;
          const double pb = mix_b.count(name) ? mix_b.at(name) : 0;
          tv += 0.5 * std::abs(pa - pb);
        }
        distance = std::max(distance, tv);
      }
    }
    return distance;
  };
  EXPECT_GT(max_mix_distance(0.3, TempPath("mix_small")), 0.4);
  EXPECT_LT(max_mix_distance(1000, TempPath("mix_large")), 0.1);
}

TEST(SimulateTest, PerInstitutionLayoutSplitsTheCombinedData) {
  SimulationOptions o = SmallOptions();
  o.cells = 301;
  const std::string combined_dir = TempPath("combined");
  const Dataset combined = SimulateAndLoad(o, combined_dir);
  ASSERT_EQ(combined.matrix.rows, 301);

  o.per_institution = true;
  const std::string dir = TempPath("split");
  auto summary = Simulate(o, dir);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->cells_per_institution, (std::vector<int64_t>{101, 100, 100}));
  ASSERT_EQ(summary->folders.size(), 3u);
  EXPECT_EQ(ListDir(dir), (std::set<std::string>{"institution_1", "institution_2", "institution_3",
                                                 "truth_peaks.tsv", "truth_institutions.tsv"}));
  EXPECT_EQ(RawBytes(dir + "/truth_peaks.tsv"), RawBytes(combined_dir + "/truth_peaks.tsv"));

  int64_t next_row = 0;
  for (int k = 0; k < 3; ++k) {
    const std::string folder = dir + "/institution_" + std::to_string(k + 1);
    EXPECT_EQ(summary->folders[k], folder);
    auto ds = LoadDataset(folder);
    ASSERT_TRUE(ds.ok()) << ds.status();
    ASSERT_EQ(ds->matrix.rows, summary->cells_per_institution[k]);
    EXPECT_EQ(ds->peaks, combined.peaks);
    for (const std::string& batch : Column(*ds, "batch")) {
      ASSERT_EQ(batch, "institution_" + std::to_string(k + 1));
    }
    // The same cells as the combined layout's rows, in order.
    for (int64_t r = 0; r < ds->matrix.rows; ++r, ++next_row) {
      ASSERT_EQ(ds->barcodes[r], combined.barcodes[next_row]);
      const auto begin = ds->matrix.indptr[r], end = ds->matrix.indptr[r + 1];
      const auto cbegin = combined.matrix.indptr[next_row];
      ASSERT_EQ(end - begin, combined.matrix.row_nnz(next_row));
      for (int64_t i = 0; i < end - begin; ++i) {
        ASSERT_EQ(ds->matrix.indices[begin + i], combined.matrix.indices[cbegin + i]);
        ASSERT_EQ(ds->matrix.values[begin + i], combined.matrix.values[cbegin + i]);
      }
    }
  }
  EXPECT_EQ(next_row, 301);
}

TEST(SimulateTest, PlainOutputHasTheSameContent) {
  SimulationOptions o = SmallOptions();
  const std::string gz_dir = TempPath("gz"), plain_dir = TempPath("plain");
  ASSERT_TRUE(Simulate(o, gz_dir).ok());
  o.gzip = false;
  ASSERT_TRUE(Simulate(o, plain_dir).ok());
  EXPECT_FALSE(FileExists(plain_dir + "/matrix.mtx.gz"));
  const std::string plain = RawBytes(plain_dir + "/matrix.mtx");
  ASSERT_GT(plain.size(), 1000u);
  EXPECT_EQ(plain.rfind("%%MatrixMarket matrix coordinate integer general\n", 0), 0u);
  auto unzipped = ReadFileToString(gz_dir + "/matrix.mtx.gz");
  ASSERT_TRUE(unzipped.ok()) << unzipped.status();
  EXPECT_EQ(*unzipped, plain);

  // Switching compression replaces the matrix, rather than leaving a stale one that would be read.
  o.gzip = true;
  ASSERT_TRUE(Simulate(o, plain_dir).ok());
  EXPECT_TRUE(FileExists(plain_dir + "/matrix.mtx.gz"));
  EXPECT_FALSE(FileExists(plain_dir + "/matrix.mtx"));
}

TEST(SimulateTest, ReportsProgressUpToTheEnd) {
  SimulationOptions o = SmallOptions();
  o.cells = 2000;
  std::vector<std::pair<int64_t, int64_t>> calls;
  o.progress = [&](int64_t cells, int64_t nnz) { calls.emplace_back(cells, nnz); };
  auto summary = Simulate(o, TempPath("progress"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_TRUE(std::is_sorted(calls.begin(), calls.end()));
  EXPECT_EQ(calls.back(), std::make_pair(int64_t{2000}, summary->nnz));
}

TEST(SimulateTest, InvalidOptionsAreRejectedBeforeWritingAnything) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::function<void(SimulationOptions*)>> breakers = {
      [](SimulationOptions* o) { o->cells = 0; },
      [](SimulationOptions* o) { o->cells = -5; },
      [](SimulationOptions* o) { o->cells = int64_t{1} << 40; },
      [](SimulationOptions* o) { o->peaks = 0; },
      [](SimulationOptions* o) { o->cell_types = 0; },
      [](SimulationOptions* o) { o->cell_types = 5000; },
      [](SimulationOptions* o) { o->institutions = 0; },
      [](SimulationOptions* o) { o->institutions = 1000; },  // more than the 900 cells
      [](SimulationOptions* o) { o->peaks = 300000, o->cell_types = 1000; },
      [](SimulationOptions* o) { o->density = 0; },
      [](SimulationOptions* o) { o->density = 1; },
      [=](SimulationOptions* o) { o->density = nan; },
      [](SimulationOptions* o) { o->density = 1e-4; },  // below 1/peaks
      [](SimulationOptions* o) { o->type_specific_fraction = 1.5; },
      [](SimulationOptions* o) { o->type_specific_fraction = 0.3; },  // 4 x 30% > 100%
      [](SimulationOptions* o) { o->noise_peak_fraction = -0.1; },
      [](SimulationOptions* o) { o->type_specific_boost = 0.5; },
      [=](SimulationOptions* o) { o->noise_peak_boost = nan; },
      [](SimulationOptions* o) { o->log_depth_sd = -1; },
      [=](SimulationOptions* o) { o->depth_shift_sd = inf; },
      [=](SimulationOptions* o) { o->distortion_sd = nan; },
      [](SimulationOptions* o) { o->mix_concentration = 0; },
  };
  const std::string dir = TempPath("invalid/nested");
  for (size_t i = 0; i < breakers.size(); ++i) {
    SimulationOptions o = SmallOptions();
    breakers[i](&o);
    auto summary = Simulate(o, dir);
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument)
        << "case " << i << ": " << summary.status();
    EXPECT_FALSE(summary.status().message().empty());
    EXPECT_FALSE(IsDirectory(TempPath("invalid"))) << "case " << i;
  }
}

}  // namespace
}  // namespace flsailer::data
