#include "libs/data/peak_mapping.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/data/dataset.h"

namespace flsailer::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<int32_t> BruteForce(const std::vector<Peak>& peaks, absl::string_view chrom,
                                int64_t start, int64_t end) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < peaks.size(); ++i) {
    const Peak& p = peaks[i];
    if (p.start < end && start < p.end && p.chrom == chrom) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

std::vector<int32_t> Query(const PeakIndex& index, absl::string_view chrom, int64_t start,
                           int64_t end) {
  std::vector<int32_t> out = {-7};  // must be cleared
  index.Overlapping(chrom, start, end, &out);
  return out;
}

// Unsorted, overlapping, nested, on several chromosomes.
const std::vector<Peak>& HandPeaks() {
  static const std::vector<Peak> peaks = {
      {"chr2", 500, 600},    // 0
      {"chr1", 100, 200},    // 1
      {"chr1", 150, 400},    // 2 overlaps 1 and 3
      {"chr1", 300, 350},    // 3 nested in 2
      {"chr1", 1000, 5000},  // 4 long
      {"chr1", 1200, 1300},  // 5 nested in 4
      {"chr1", 1200, 1300},  // 6 same interval as 5
      {"chrX", 0, 10},       // 7
      {"chr1", 10, 20},      // 8 first on chr1 by position
      {"chr2", 600, 700},    // 9 adjacent to 0, not overlapping it
  };
  return peaks;
}

TEST(PeakIndexTest, HandMadePeaks) {
  const std::vector<Peak>& peaks = HandPeaks();
  PeakIndex index(peaks);
  EXPECT_THAT(Query(index, "chr1", 160, 170), ElementsAre(1, 2));
  EXPECT_THAT(Query(index, "chr1", 320, 321), ElementsAre(2, 3));
  EXPECT_THAT(Query(index, "chr1", 0, 100000), ElementsAre(1, 2, 3, 4, 5, 6, 8));
  EXPECT_THAT(Query(index, "chr1", 1250, 1251), ElementsAre(4, 5, 6));
  EXPECT_THAT(Query(index, "chr1", 4999, 5000), ElementsAre(4));
  // End is exclusive; start is inclusive.
  EXPECT_THAT(Query(index, "chr1", 5000, 5001), IsEmpty());
  EXPECT_THAT(Query(index, "chr1", 20, 100), IsEmpty());
  EXPECT_THAT(Query(index, "chr1", 19, 100), ElementsAre(8));
  EXPECT_THAT(Query(index, "chr1", 20, 101), ElementsAre(1));
  EXPECT_THAT(Query(index, "chr2", 599, 601), ElementsAre(0, 9));
  EXPECT_THAT(Query(index, "chr2", 600, 601), ElementsAre(9));
  EXPECT_THAT(Query(index, "chrX", 5, 6), ElementsAre(7));
  // Unknown chromosomes, prefixes of known names and empty intervals find nothing.
  EXPECT_THAT(Query(index, "chr3", 0, 1000), IsEmpty());
  EXPECT_THAT(Query(index, "chr", 0, 1000), IsEmpty());
  EXPECT_THAT(Query(index, "1", 100, 200), IsEmpty());
  EXPECT_THAT(Query(index, "chr1", 150, 150), IsEmpty());

  std::vector<int32_t> out;
  index.Containing("chr1", 200, &out);
  EXPECT_THAT(out, ElementsAre(2));
  index.Containing("chr1", 199, &out);
  EXPECT_THAT(out, ElementsAre(1, 2));
  index.Containing("chr1", 99, &out);
  EXPECT_THAT(out, IsEmpty());

  // A whole sweep over every position against brute force.
  for (const char* chrom : {"chr1", "chr2", "chrX", "chrY"}) {
    for (int64_t pos = 0; pos < 5100; pos += 1) {
      index.Containing(chrom, pos, &out);
      ASSERT_EQ(out, BruteForce(peaks, chrom, pos, pos + 1)) << chrom << ":" << pos;
    }
  }
}

TEST(PeakIndexTest, ChromosomeHandles) {
  PeakIndex index(HandPeaks());
  const int32_t chr1 = index.ChromosomeId("chr1");
  ASSERT_GE(chr1, 0);
  EXPECT_NE(index.ChromosomeId("chr2"), chr1);
  EXPECT_EQ(index.ChromosomeId("chr3"), -1);
  std::vector<int32_t> out = {1};
  index.OverlappingOn(chr1, 160, 170, &out);
  EXPECT_THAT(out, ElementsAre(1, 2));
  index.ContainingOn(chr1, 1200, &out);
  EXPECT_THAT(out, ElementsAre(4, 5, 6));
  index.ContainingOn(-1, 1200, &out);
  EXPECT_THAT(out, IsEmpty());

  PeakIndex moved(std::move(index));
  moved.Overlapping("chr2", 0, 1000, &out);
  EXPECT_THAT(out, ElementsAre(0, 9));
}

TEST(PeakIndexTest, EmptyPeakSet) {
  PeakIndex index(std::vector<Peak>{});
  EXPECT_EQ(index.ChromosomeId("chr1"), -1);
  EXPECT_THAT(Query(index, "chr1", 0, 100), IsEmpty());
}

// Random peaks on three chromosomes; `max_length` controls how much they overlap and `disjoint`
// makes them pairwise disjoint (the binary-search path) before shuffling.
std::vector<Peak> RandomPeaks(std::mt19937_64& rng, int n, int64_t span, int64_t max_length,
                              bool disjoint) {
  const char* chroms[] = {"chr1", "chr2", "chr10"};
  std::uniform_int_distribution<int64_t> pos(0, span);
  std::uniform_int_distribution<int64_t> len(1, max_length);
  std::uniform_int_distribution<int> chrom(0, 2);
  std::vector<Peak> peaks;
  if (disjoint) {
    int64_t next[3] = {0, 0, 0};
    for (int i = 0; i < n; ++i) {
      const int c = chrom(rng);
      const int64_t start = next[c] + pos(rng) % (max_length + 1);  // gap 0 allowed: adjacent
      peaks.push_back({chroms[c], start, start + len(rng)});
      next[c] = peaks.back().end;
    }
    std::shuffle(peaks.begin(), peaks.end(), rng);
  } else {
    for (int i = 0; i < n; ++i) {
      const int64_t start = pos(rng);
      peaks.push_back({chroms[chrom(rng)], start, start + len(rng)});
    }
  }
  return peaks;
}

void CompareWithBruteForce(const std::vector<Peak>& peaks, std::mt19937_64& rng, int queries,
                           int64_t span, int64_t max_length) {
  PeakIndex index(peaks);
  const char* chroms[] = {"chr1", "chr2", "chr10", "chrM"};
  std::uniform_int_distribution<int64_t> pos(-10, span + 2 * max_length);
  std::uniform_int_distribution<int64_t> len(1, 3 * max_length);
  std::uniform_int_distribution<int> chrom(0, 3);
  std::vector<int32_t> out;
  for (int q = 0; q < queries; ++q) {
    const char* c = chroms[chrom(rng)];
    const int64_t start = pos(rng);
    const int64_t end = q % 2 == 0 ? start + 1 : start + len(rng);
    index.Overlapping(c, start, end, &out);
    ASSERT_EQ(out, BruteForce(peaks, c, start, end))
        << c << ":" << start << "-" << end << " among " << peaks.size() << " peaks";
  }
}

TEST(PeakIndexTest, RandomOverlappingPeaksMatchBruteForce) {
  std::mt19937_64 rng(20240601);
  // Short and long peaks, heavily overlapping.
  CompareWithBruteForce(RandomPeaks(rng, 3000, 200000, 2000, false), rng, 3000, 200000, 2000);
  // Lengths varying over four orders of magnitude.
  CompareWithBruteForce(RandomPeaks(rng, 3000, 1000000, 100000, false), rng, 2000, 1000000, 100000);
}

TEST(PeakIndexTest, RandomDisjointPeaksMatchBruteForce) {
  std::mt19937_64 rng(7);
  CompareWithBruteForce(RandomPeaks(rng, 4000, 500, 500, true), rng, 3000, 4000 * 1000 / 3, 500);
}

TEST(PeakIndexTest, EverySmallTreeShapeMatchesBruteForce) {
  // Sizes around powers of two exercise the virtual nodes of incomplete implicit trees.
  std::mt19937_64 rng(99);
  for (int n = 1; n <= 140; ++n) {
    SCOPED_TRACE(n);
    CompareWithBruteForce(RandomPeaks(rng, n, 2000, 300, false), rng, 200, 2000, 300);
    CompareWithBruteForce(RandomPeaks(rng, n, 100, 100, true), rng, 100, n * 150 / 3, 100);
  }
}

// --- MapToReference -----------------------------------------------------------------------------

CsrMatrix FromDense(const std::vector<std::vector<float>>& rows, bool binary) {
  CsrBuilder builder(static_cast<int64_t>(rows[0].size()), binary);
  for (const auto& row : rows) {
    for (size_t j = 0; j < row.size(); ++j) {
      if (row[j] != 0) builder.Add(static_cast<int32_t>(j), row[j]);
    }
    builder.FinishRow();
  }
  return std::move(builder).Finish();
}

std::vector<std::vector<float>> ToDense(const CsrMatrix& m) {
  std::vector<std::vector<float>> rows(static_cast<size_t>(m.rows),
                                       std::vector<float>(static_cast<size_t>(m.cols), 0.0f));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) rows[r][m.indices[k]] += m.value(k);
  }
  return rows;
}

struct Fixture {
  std::vector<Peak> source = {
      {"chr1", 100, 300},    // s0: spans r0 and r1
      {"chr1", 1000, 1100},  // s1: overlaps nothing
      {"chr2", 10, 20},      // s2: into r2...
      {"chr2", 30, 40},      // s3: ...with s2
      {"chr3", 0, 100},      // s4: the reference names this chromosome "3"
  };
  std::vector<Peak> reference = {
      {"chr2", 0, 100},      // r0
      {"chr1", 250, 400},    // r1
      {"chr1", 50, 150},     // r2
      {"chr1", 5000, 6000},  // r3: covered by nothing
      {"3", 0, 100},         // r4
  };
  CsrMatrix counts = FromDense({{2, 5, 1, 3, 0}, {0, 0, 0, 1, 4}}, false);
};

TEST(MapToReferenceTest, HandMadeFixture) {
  Fixture f;
  PeakMappingStats stats;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(f.counts, f.source, f.reference, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_TRUE(mapped->Validate().ok());
  EXPECT_FALSE(mapped->is_binary());
  EXPECT_EQ(ToDense(*mapped), (std::vector<std::vector<float>>{{4, 2, 2, 0, 0}, {1, 0, 0, 0, 0}}));
  EXPECT_EQ(stats.source_peaks, 5);
  EXPECT_EQ(stats.source_peaks_mapped, 3);
  EXPECT_EQ(stats.reference_peaks, 5);
  EXPECT_EQ(stats.reference_peaks_covered, 3);
  EXPECT_DOUBLE_EQ(stats.fraction_of_counts_kept, 7.0 / 16.0);
}

TEST(MapToReferenceTest, BinaryStaysBinary) {
  Fixture f;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(f.counts.Binarized(), f.source, f.reference);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_TRUE(mapped->Validate().ok());
  EXPECT_TRUE(mapped->is_binary());
  // r0 gets two open source peaks in cell 0 and is still just open.
  EXPECT_EQ(ToDense(*mapped), (std::vector<std::vector<float>>{{1, 1, 1, 0, 0}, {1, 0, 0, 0, 0}}));
}

TEST(MapToReferenceTest, IdenticalPeakSetsReturnTheMatrix) {
  Fixture f;
  PeakMappingStats stats;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(f.counts, f.source, f.source, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->indptr, f.counts.indptr);
  EXPECT_EQ(mapped->indices, f.counts.indices);
  EXPECT_EQ(mapped->values, f.counts.values);
  EXPECT_EQ(stats.source_peaks_mapped, 5);
  EXPECT_EQ(stats.reference_peaks_covered, 5);
  EXPECT_EQ(stats.fraction_of_counts_kept, 1.0);

  // The same peaks in another order: a column permutation.
  std::vector<Peak> reversed(f.source.rbegin(), f.source.rend());
  mapped = MapToReference(f.counts, f.source, reversed, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(ToDense(*mapped), (std::vector<std::vector<float>>{{0, 3, 1, 5, 2}, {4, 1, 0, 0, 0}}));
  EXPECT_EQ(stats.fraction_of_counts_kept, 1.0);
}

TEST(MapToReferenceTest, RejectsBadShapesAndInvalidMatrices) {
  Fixture f;
  std::vector<Peak> four(f.source.begin(), f.source.begin() + 4);
  absl::StatusOr<CsrMatrix> mapped = MapToReference(f.counts, four, f.reference);
  EXPECT_EQ(mapped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mapped.status().message(), HasSubstr("5 columns but there are 4 source peaks"));

  CsrMatrix broken = f.counts;
  broken.indices[0] = 9;  // outside the 5 columns
  mapped = MapToReference(broken, f.source, f.reference);
  EXPECT_EQ(mapped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mapped.status().message(), HasSubstr("column 9"));
}

TEST(MapToReferenceTest, EmptyMatrixKeepsEverything) {
  Fixture f;
  CsrMatrix empty;
  empty.cols = 5;
  PeakMappingStats stats;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(empty, f.source, f.reference, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->rows, 0);
  EXPECT_EQ(mapped->cols, 5);
  EXPECT_EQ(stats.fraction_of_counts_kept, 1.0);
}

constexpr char kGranja[] = "../shared/data/granja2019_bmmc";

// Source peak j -> reference peaks overlapping it, by brute force over sorted lists.
std::vector<std::vector<int32_t>> BruteForceTargets(const std::vector<Peak>& source,
                                                    const std::vector<Peak>& reference) {
  std::vector<std::vector<int32_t>> targets;
  for (const Peak& p : source) targets.push_back(BruteForce(reference, p.chrom, p.start, p.end));
  return targets;
}

TEST(MapToReferenceTest, RealDataMergedPairsConserveCounts) {
  absl::StatusOr<Dataset> ds = LoadDataset(kGranja);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->peaks.size(), 5000u);
  // Merge neighbouring peaks pairwise (by position, within a chromosome).
  std::vector<int32_t> order(ds->peaks.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const Peak& x = ds->peaks[a];
    const Peak& y = ds->peaks[b];
    return std::tie(x.chrom, x.start) < std::tie(y.chrom, y.start);
  });
  std::vector<Peak> merged;
  std::vector<int32_t> merged_of(ds->peaks.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const Peak& p = ds->peaks[order[i]];
    if (i % 2 == 1 && merged.back().chrom == p.chrom) {
      merged.back().end = p.end;
    } else {
      merged.push_back(p);
    }
    merged_of[order[i]] = static_cast<int32_t>(merged.size()) - 1;
  }
  ASSERT_LT(merged.size(), 2600u);
  // Each source peak lies in exactly its own merged peak.
  const std::vector<std::vector<int32_t>> targets = BruteForceTargets(ds->peaks, merged);
  for (size_t j = 0; j < targets.size(); ++j) {
    ASSERT_EQ(targets[j], std::vector<int32_t>{merged_of[j]}) << j;
  }

  PeakMappingStats stats;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(ds->matrix, ds->peaks, merged, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_TRUE(mapped->Validate().ok());
  EXPECT_EQ(mapped->rows, 600);
  EXPECT_EQ(mapped->cols, static_cast<int64_t>(merged.size()));
  EXPECT_EQ(mapped->RowSums(), ds->matrix.RowSums());  // every count lands somewhere, once
  EXPECT_EQ(stats.source_peaks_mapped, 5000);
  EXPECT_EQ(stats.reference_peaks_covered, static_cast<int64_t>(merged.size()));
  EXPECT_DOUBLE_EQ(stats.fraction_of_counts_kept, 1.0);

  // nnz = distinct (cell, merged peak) pairs; binary input gives the same pattern.
  int64_t distinct = 0;
  for (int64_t r = 0; r < ds->matrix.rows; ++r) {
    std::vector<int32_t> cols;
    for (int64_t k = ds->matrix.indptr[r]; k < ds->matrix.indptr[r + 1]; ++k) {
      cols.push_back(merged_of[ds->matrix.indices[k]]);
    }
    std::sort(cols.begin(), cols.end());
    distinct += std::unique(cols.begin(), cols.end()) - cols.begin();
  }
  EXPECT_EQ(mapped->nnz(), distinct);
  EXPECT_LT(mapped->nnz(), ds->matrix.nnz());
  absl::StatusOr<CsrMatrix> binary = MapToReference(ds->matrix.Binarized(), ds->peaks, merged);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_TRUE(binary->is_binary());
  EXPECT_EQ(binary->indptr, mapped->indptr);
  EXPECT_EQ(binary->indices, mapped->indices);
}

TEST(MapToReferenceTest, RealDataShiftedPeaksMatchBruteForce) {
  absl::StatusOr<Dataset> ds = LoadDataset(kGranja);
  ASSERT_TRUE(ds.ok()) << ds.status();
  // Shifted by 300 bp and widened to 800: each source peak overlaps its own shifted peak and
  // those of neighbours closer than 800 bp; some reference peaks land on a renamed chromosome.
  std::vector<Peak> shifted;
  for (size_t i = 0; i < ds->peaks.size(); ++i) {
    const Peak& p = ds->peaks[i];
    shifted.push_back({i % 10 == 0 ? "chrUn" : p.chrom, p.start + 300, p.start + 1100});
  }
  PeakMappingStats stats;
  absl::StatusOr<CsrMatrix> mapped = MapToReference(ds->matrix, ds->peaks, shifted, &stats);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  ASSERT_TRUE(mapped->Validate().ok());

  const std::vector<std::vector<int32_t>> targets = BruteForceTargets(ds->peaks, shifted);
  int64_t mapped_peaks = 0;
  for (const auto& t : targets) mapped_peaks += t.empty() ? 0 : 1;
  EXPECT_EQ(stats.source_peaks_mapped, mapped_peaks);
  EXPECT_LT(mapped_peaks, 5000);  // the renamed tenth lost its own shifted peak
  EXPECT_GT(mapped_peaks, 4000);
  double total = 0, kept = 0;
  for (int64_t r = 0; r < ds->matrix.rows; ++r) {
    std::map<int32_t, float> expected;
    for (int64_t k = ds->matrix.indptr[r]; k < ds->matrix.indptr[r + 1]; ++k) {
      const auto& t = targets[ds->matrix.indices[k]];
      total += ds->matrix.value(k);
      if (!t.empty()) kept += ds->matrix.value(k);
      for (int32_t target : t) expected[target] += ds->matrix.value(k);
    }
    std::map<int32_t, float> got;
    for (int64_t k = mapped->indptr[r]; k < mapped->indptr[r + 1]; ++k) {
      got[mapped->indices[k]] = mapped->value(k);
    }
    ASSERT_EQ(got, expected) << "cell " << r;
  }
  EXPECT_DOUBLE_EQ(stats.fraction_of_counts_kept, kept / total);
  EXPECT_LT(stats.fraction_of_counts_kept, 1.0);

  // LoadDataset maps onto a reference BED the same way.
  const std::string bed = ::testing::TempDir() + "/shifted_reference.bed";
  ASSERT_TRUE(WriteBed(bed, shifted).ok());
  LoadOptions options;
  options.reference_bed = bed;
  absl::StatusOr<Dataset> loaded = LoadDataset(kGranja, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->peaks, shifted);
  EXPECT_EQ(loaded->matrix.indptr, mapped->indptr);
  EXPECT_EQ(loaded->matrix.indices, mapped->indices);
  EXPECT_EQ(loaded->matrix.values, mapped->values);
}

}  // namespace
}  // namespace flsailer::data
