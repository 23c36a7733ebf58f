#include "libs/data/fragments.h"

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/data/cell_table.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Per cell: peak -> count.
using Counts = std::vector<std::map<int32_t, float>>;

Counts ToCounts(const CsrMatrix& m) {
  Counts counts(static_cast<size_t>(m.rows));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) counts[r][m.indices[k]] = m.value(k);
  }
  return counts;
}

absl::StatusOr<Dataset> Count(absl::string_view text, const std::vector<Peak>& peaks,
                              std::vector<std::string> allowlist = {}) {
  auto reader = LineReader::FromString(text, "test.tsv");
  FragmentCountOptions options;
  options.allowlist = std::move(allowlist);
  absl::StatusOr<Dataset> ds = CountFragments(*reader, peaks, options);
  if (ds.ok()) {
    EXPECT_TRUE(ds->Validate().ok()) << ds->Validate();
    EXPECT_EQ(ds->peaks, peaks);
    EXPECT_FALSE(ds->matrix.is_binary() && ds->matrix.nnz() > 0);
  }
  return ds;
}

const std::vector<Peak> kPeaks = {
    {"chr1", 100, 200},  // 0
    {"chr1", 300, 400},  // 1
    {"chr1", 350, 500},  // 2: overlaps 1
    {"chr2", 0, 1000},   // 3
};

constexpr char kFragments[] =
    "# id=fixture\n"
    "# reference_path=/nowhere\n"
    "chr1\t60\t100\tCCC\t1\n"   // 99 lies just before peak 0
    "chr1\t120\t180\tAAA\t1\n"  // both cuts in peak 0: 2
    "chr1\t150\t320\tBBB\t3\n"  // one cut in peak 0, one in peak 1
    "chr1\t200\t250\tAAA\t1\n"  // 200 is peak 0's (exclusive) end, 249 in nothing
    "chr1\t250\t301\tCCC\t1\n"  // 300 is peak 1's (inclusive) start
    "chr1\t360\t380\tBBB\t1\n"  // both cuts in peaks 1 and 2
    "\n"
    "chr2\t10\t20\tZZZ\t1\n"
    "chrM\t10\t20\tAAA\t1\n"     // no peaks on chrM
    "chr2\t990\t1001\tAAA\t2\n"  // 990 in peak 3, 1000 past its end
    "chr2\t500\t600\tZZZ\n";     // four columns are enough

TEST(CountFragmentsTest, HandMadeFixture) {
  absl::StatusOr<Dataset> ds = Count(kFragments, kPeaks);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->barcodes, ElementsAre("CCC", "AAA", "BBB", "ZZZ"));  // first appearance
  EXPECT_EQ(ds->source, "test.tsv");
  const Counts expected = {
      {{1, 1}},
      {{0, 2}, {3, 1}},
      {{0, 1}, {1, 3}, {2, 2}},
      {{3, 4}},
  };
  EXPECT_EQ(ToCounts(ds->matrix), expected);
}

TEST(CountFragmentsTest, AllowListSetsTheRows) {
  absl::StatusOr<Dataset> ds = Count(kFragments, kPeaks, {"CCC", "AAA", "QQQ"});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->barcodes, ElementsAre("CCC", "AAA", "QQQ"));
  const Counts expected = {{{1, 1}}, {{0, 2}, {3, 1}}, {}};
  EXPECT_EQ(ToCounts(ds->matrix), expected);
}

TEST(CountFragmentsTest, ChromosomeOrderDiffersFromPeakOrder) {
  // Peaks list chr2 first, the file chr1 first: rows come out sorted all the same.
  const std::vector<Peak> peaks = {{"chr2", 0, 100}, {"chr1", 0, 100}, {"chr1", 50, 60}};
  absl::StatusOr<Dataset> ds =
      Count("chr1\t10\t55\tA\nchr1\t55\t56\tA\nchr2\t1\t2\tA\nchr1\t20\t30\tB\nchr2\t5\t5000\tA\n",
            peaks);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const Counts expected = {{{0, 3}, {1, 4}, {2, 3}}, {{1, 2}}};
  EXPECT_EQ(ToCounts(ds->matrix), expected);
}

TEST(CountFragmentsTest, MalformedLinesNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"chr1\t100\t200", "at least 4 tab-separated columns"},
      {"chr1\t100\t200\t", "empty barcode"},
      {"chr1\t100\t200\t\t1", "empty barcode"},
      {"\t100\t200\tAAA", "empty chromosome"},
      {"chr1 100 200 AAA", "at least 4 tab-separated columns"},
      {"chr1\tabc\t200\tAAA", "must be integers, got 'abc'"},
      {"chr1\t100\t2e2\tAAA", "must be integers"},
      {"chr1\t100.0\t200\tAAA", "must be integers"},
      {"chr1\t\t200\tAAA", "must be integers"},
      {"chr1\t100\t99999999999999999999\tAAA", "must be integers"},
      {"chr1\t-5\t200\tAAA", "negative start -5"},
      {"chr1\t200\t200\tAAA", "start 200 >= end 200"},
      {"chr1\t300\t200\tAAA", "start 300 >= end 200"},
      {"chr1\t300\t200\tNOT_ALLOWED", "start 300 >= end 200"},  // checked even when skipped
  };
  for (const auto& [bad, message] : cases) {
    const std::string text =
        absl::StrCat("#header\nchr1\t1\t2\tAAA\t1\n", bad, "\nchr1\t1\t2\tAAA\n");
    absl::StatusOr<Dataset> ds = Count(text, kPeaks, {"AAA"});
    ASSERT_FALSE(ds.ok()) << bad;
    EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(ds.status().message(), HasSubstr("test.tsv:3: ")) << bad;
    EXPECT_THAT(ds.status().message(), HasSubstr(message)) << bad;
  }
}

TEST(CountFragmentsTest, RejectsEmptyInputAndDuplicateAllowList) {
  absl::StatusOr<Dataset> ds = Count("", kPeaks);
  EXPECT_THAT(ds.status().message(), HasSubstr("test.tsv: no fragments"));
  ds = Count("# only a header\n\n", kPeaks);
  EXPECT_THAT(ds.status().message(), HasSubstr("no fragments"));
  ds = Count(kFragments, kPeaks, {"AAA", "BBB", "AAA"});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr("'AAA' twice"));
}

TEST(CountFragmentsTest, NoPeakHitIsStillAValidDataset) {
  absl::StatusOr<Dataset> ds = Count("chr9\t1\t2\tA\nchr9\t1\t2\tB\n", kPeaks);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->matrix.rows, 2);
  EXPECT_EQ(ds->matrix.cols, 4);
  EXPECT_EQ(ds->matrix.nnz(), 0);
}

// Insertions counted one peak at a time, the slow obvious way.
Counts BruteForce(const std::vector<std::vector<absl::string_view>>& fragments,
                  const std::vector<Peak>& peaks, const std::vector<std::string>& cells) {
  std::map<std::string, size_t> row;
  for (size_t i = 0; i < cells.size(); ++i) row[cells[i]] = i;
  Counts counts(cells.size());
  for (const auto& f : fragments) {
    auto it = row.find(std::string(f[3]));
    if (it == row.end()) continue;
    const int64_t start = std::stoll(std::string(f[1]));
    const int64_t end = std::stoll(std::string(f[2]));
    for (size_t p = 0; p < peaks.size(); ++p) {
      if (peaks[p].chrom != f[0]) continue;
      for (int64_t site : {start, end - 1}) {
        if (peaks[p].start <= site && site < peaks[p].end) counts[it->second][p] += 1;
      }
    }
  }
  return counts;
}

std::vector<std::vector<absl::string_view>> ParseFragments(absl::string_view text) {
  std::vector<std::vector<absl::string_view>> fragments;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    fragments.push_back(std::move(fields));
  }
  return fragments;
}

TEST(CountFragmentsTest, RandomFragmentsMatchBruteForce) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> pos(0, 20000);
  std::uniform_int_distribution<int64_t> peak_len(1, 600);
  std::uniform_int_distribution<int64_t> fragment_len(1, 400);
  std::uniform_int_distribution<int> chrom(1, 3);
  std::uniform_int_distribution<int> cell(0, 59);
  std::vector<Peak> peaks;
  for (int i = 0; i < 150; ++i) {
    const int64_t start = pos(rng);
    peaks.push_back({absl::StrCat("chr", chrom(rng)), start, start + peak_len(rng)});
  }
  // Unsorted fragments on chromosomes with and without peaks.
  std::string text = "# random\n";
  for (int i = 0; i < 5000; ++i) {
    const int64_t start = pos(rng);
    absl::StrAppend(&text, "chr", chrom(rng) + (i % 50 == 0 ? 3 : 0), "\t", start, "\t",
                    start + fragment_len(rng), "\tcell", cell(rng), "\t1\n");
  }
  const auto fragments = ParseFragments(text);

  absl::StatusOr<Dataset> all = Count(text, peaks);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->barcodes.size(), 60u);
  EXPECT_EQ(ToCounts(all->matrix), BruteForce(fragments, peaks, all->barcodes));

  std::vector<std::string> some = {"cell7", "cell3", "cell100", "cell59"};
  absl::StatusOr<Dataset> subset = Count(text, peaks, some);
  ASSERT_TRUE(subset.ok()) << subset.status();
  EXPECT_EQ(subset->barcodes, some);
  const Counts expected = BruteForce(fragments, peaks, some);
  EXPECT_EQ(ToCounts(subset->matrix), expected);
  EXPECT_GT(expected[0].size(), 5u);
}

constexpr char kPbmc[] = "../shared/data/pbmc10k_small_fragments";

TEST(CountFragmentsTest, RealFragmentsMatchBruteForce) {
  const std::string fragments_path = absl::StrCat(kPbmc, "/fragments.tsv.gz");
  absl::StatusOr<std::vector<Peak>> peaks = ReadBed(absl::StrCat(kPbmc, "/peaks.bed"));
  ASSERT_TRUE(peaks.ok()) << peaks.status();
  absl::StatusOr<std::vector<std::string>> cells =
      ReadBarcodes(absl::StrCat(kPbmc, "/barcodes.tsv"));
  ASSERT_TRUE(cells.ok()) << cells.status();
  ASSERT_EQ(cells->size(), 100u);

  absl::StatusOr<std::unique_ptr<LineReader>> reader = LineReader::OpenFile(fragments_path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  FragmentCountOptions options;
  options.allowlist = *cells;
  absl::StatusOr<Dataset> ds = CountFragments(**reader, *peaks, options);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_TRUE(ds->Validate().ok());
  EXPECT_EQ(ds->matrix.rows, 100);
  EXPECT_EQ(ds->barcodes, *cells);
  EXPECT_EQ(ds->matrix.cols, 323);

  absl::StatusOr<std::string> text = ReadFileToString(fragments_path);
  ASSERT_TRUE(text.ok()) << text.status();
  const auto fragments = ParseFragments(*text);
  ASSERT_EQ(fragments.size(), 100u);
  const Counts expected = BruteForce(fragments, *peaks, *cells);
  EXPECT_EQ(ToCounts(ds->matrix), expected);
  double total = 0;
  for (double s : ds->matrix.RowSums()) total += s;
  double expected_total = 0;
  for (const auto& row : expected) {
    for (const auto& [peak, count] : row) expected_total += count;
  }
  EXPECT_EQ(total, expected_total);
  EXPECT_EQ(total, 147);  // as counted independently with awk

  // LoadDataset finds barcodes.tsv and cell_metadata.tsv beside the fragments.
  LoadOptions load;
  load.reference_bed = absl::StrCat(kPbmc, "/peaks.bed");
  absl::StatusOr<Dataset> loaded = LoadDataset(fragments_path, load);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->barcodes, *cells);
  EXPECT_EQ(loaded->peaks, *peaks);
  EXPECT_EQ(loaded->matrix.indptr, ds->matrix.indptr);
  EXPECT_EQ(loaded->matrix.indices, ds->matrix.indices);
  EXPECT_EQ(loaded->matrix.values, ds->matrix.values);
  const int cell_type = loaded->metadata.Find("cell_type");
  ASSERT_GE(cell_type, 0);
  ASSERT_EQ(loaded->metadata.columns[cell_type].size(), 100u);
  EXPECT_EQ(loaded->metadata.columns[cell_type][0], "cluster_1");  // AAACGAAAGAGCGAAA-1
}

}  // namespace
}  // namespace flsailer::data
