#include "libs/data/peak_mapping.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace flsailer::data {

// The peaks of one chromosome, sorted by (start, end, index). When they are not pairwise
// disjoint, the sorted array doubles as an implicit binary tree (as in Heng Li's cgranges):
// node x sits at level k = the number of trailing 1 bits of x, its children are x -/+ 2^(k-1)
// and its subtree spans the array positions [x - 2^k + 1, x + 2^k - 1]. Nodes past the end of the
// array are virtual: they hold nothing and are always descended into (only the right spine).
struct PeakIndex::Chromosome {
  struct Node {
    int64_t start;
    int64_t end;
    int64_t max_end;  // largest end in this node's subtree (used by the tree only)
    int32_t id;       // index into the constructor's vector
  };

  std::string name;
  std::vector<Node> nodes;
  bool disjoint = true;        // each peak ends at or before the next one starts
  bool ids_increasing = true;  // array order is index order, so hits need no sorting
  int root_level = 0;          // the root is node 2^root_level - 1

  void BuildTree();
  void Query(int64_t start, int64_t end, std::vector<int32_t>* out) const;
  void QueryTree(int64_t x, int level, int64_t start, int64_t end, std::vector<int32_t>* out) const;
};

namespace {

// At or below this level a subtree (at most 15 nodes) is scanned in order, not descended.
constexpr int kScanLevel = 3;

}  // namespace

void PeakIndex::Chromosome::BuildTree() {
  const int64_t n = static_cast<int64_t>(nodes.size());
  // A virtual right child stands for the array's tail after its parent: its max is a suffix max.
  std::vector<int64_t> suffix_max(static_cast<size_t>(n) + 1, INT64_MIN);
  for (int64_t i = n - 1; i >= 0; --i) {
    suffix_max[i] = std::max(suffix_max[i + 1], nodes[i].end);
  }
  for (Node& node : nodes) node.max_end = node.end;  // level 0: leaves
  int level = 1;
  for (; (int64_t{1} << level) <= n; ++level) {
    const int64_t half = int64_t{1} << (level - 1);
    for (int64_t x = (int64_t{1} << level) - 1; x < n; x += int64_t{1} << (level + 1)) {
      const int64_t right = x + half;
      const int64_t right_max = right < n ? nodes[right].max_end : suffix_max[x + 1];
      nodes[x].max_end = std::max({nodes[x].end, nodes[x - half].max_end, right_max});
    }
  }
  root_level = level - 1;
}

void PeakIndex::Chromosome::QueryTree(int64_t x, int level, int64_t start, int64_t end,
                                      std::vector<int32_t>* out) const {
  const int64_t n = static_cast<int64_t>(nodes.size());
  if (level <= kScanLevel) {
    const int64_t last = std::min(n, x + (int64_t{1} << level));
    for (int64_t i = x - (int64_t{1} << level) + 1; i < last && nodes[i].start < end; ++i) {
      if (nodes[i].end > start) out->push_back(nodes[i].id);
    }
    return;
  }
  // In-order (left, node, right) so that hits come out in array order.
  const int64_t half = int64_t{1} << (level - 1);
  const int64_t left = x - half;
  if (left >= n || nodes[left].max_end > start) QueryTree(left, level - 1, start, end, out);
  if (x >= n || nodes[x].start >= end) return;  // everything to the right starts later
  if (nodes[x].end > start) out->push_back(nodes[x].id);
  const int64_t right = x + half;
  if (right >= n || nodes[right].max_end > start) QueryTree(right, level - 1, start, end, out);
}

void PeakIndex::Chromosome::Query(int64_t start, int64_t end, std::vector<int32_t>* out) const {
  if (disjoint) {
    // Ends increase with starts: the first peak ending after `start`, then all starting before
    // `end`.
    auto it = std::partition_point(nodes.begin(), nodes.end(),
                                   [start](const Node& node) { return node.end <= start; });
    for (; it != nodes.end() && it->start < end; ++it) out->push_back(it->id);
  } else {
    QueryTree((int64_t{1} << root_level) - 1, root_level, start, end, out);
  }
  if (!ids_increasing) std::sort(out->begin(), out->end());
}

PeakIndex::PeakIndex(const std::vector<Peak>& peaks) {
  // Number the chromosomes in order of appearance, then order them by name.
  absl::flat_hash_map<absl::string_view, int32_t> chrom_number;
  std::vector<absl::string_view> names;
  std::vector<int32_t> chrom_of(peaks.size());
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < peaks.size(); ++i) {
    auto [it, inserted] =
        chrom_number.try_emplace(peaks[i].chrom, static_cast<int32_t>(names.size()));
    if (inserted) {
      names.push_back(peaks[i].chrom);
      sizes.push_back(0);
    }
    chrom_of[i] = it->second;
    ++sizes[it->second];
  }
  std::vector<int32_t> by_name(names.size());
  std::iota(by_name.begin(), by_name.end(), 0);
  std::sort(by_name.begin(), by_name.end(),
            [&names](int32_t a, int32_t b) { return names[a] < names[b]; });
  std::vector<int32_t> slot(names.size());
  chroms_.resize(names.size());
  for (size_t r = 0; r < by_name.size(); ++r) {
    slot[by_name[r]] = static_cast<int32_t>(r);
    chroms_[r].name = std::string(names[by_name[r]]);
    chroms_[r].nodes.reserve(static_cast<size_t>(sizes[by_name[r]]));
  }
  for (size_t i = 0; i < peaks.size(); ++i) {
    chroms_[slot[chrom_of[i]]].nodes.push_back(
        {peaks[i].start, peaks[i].end, peaks[i].end, static_cast<int32_t>(i)});
  }

  for (Chromosome& c : chroms_) {
    std::sort(c.nodes.begin(), c.nodes.end(),
              [](const Chromosome::Node& a, const Chromosome::Node& b) {
                if (a.start != b.start) return a.start < b.start;
                if (a.end != b.end) return a.end < b.end;
                return a.id < b.id;
              });
    for (size_t i = 1; i < c.nodes.size(); ++i) {
      if (c.nodes[i].start < c.nodes[i - 1].end) c.disjoint = false;
      if (c.nodes[i].id < c.nodes[i - 1].id) c.ids_increasing = false;
    }
    if (!c.disjoint) c.BuildTree();
  }
}

PeakIndex::~PeakIndex() = default;
PeakIndex::PeakIndex(PeakIndex&&) noexcept = default;
PeakIndex& PeakIndex::operator=(PeakIndex&&) noexcept = default;

const PeakIndex::Chromosome* PeakIndex::Find(absl::string_view chrom) const {
  const int32_t id = ChromosomeId(chrom);
  return id < 0 ? nullptr : &chroms_[id];
}

int32_t PeakIndex::ChromosomeId(absl::string_view chrom) const {
  auto it = std::partition_point(chroms_.begin(), chroms_.end(), [chrom](const Chromosome& c) {
    return absl::string_view(c.name) < chrom;
  });
  if (it == chroms_.end() || it->name != chrom) return -1;
  return static_cast<int32_t>(it - chroms_.begin());
}

void PeakIndex::Overlapping(absl::string_view chrom, int64_t start, int64_t end,
                            std::vector<int32_t>* out) const {
  out->clear();
  const Chromosome* c = Find(chrom);
  if (c != nullptr && start < end) c->Query(start, end, out);
}

void PeakIndex::OverlappingOn(int32_t chrom_id, int64_t start, int64_t end,
                              std::vector<int32_t>* out) const {
  out->clear();
  if (chrom_id >= 0 && start < end) chroms_[chrom_id].Query(start, end, out);
}

absl::StatusOr<CsrMatrix> MapToReference(const CsrMatrix& m, const std::vector<Peak>& source_peaks,
                                         const std::vector<Peak>& reference,
                                         PeakMappingStats* stats) {
  if (m.cols != static_cast<int64_t>(source_peaks.size())) {
    return absl::InvalidArgumentError(absl::StrCat("peak mapping: the matrix has ", m.cols,
                                                   " columns but there are ", source_peaks.size(),
                                                   " source peaks"));
  }
  if (reference.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("peak mapping: ", reference.size(), " reference peaks, more than 2^31-1"));
  }
  if (absl::Status valid = m.Validate(); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("peak mapping: invalid input matrix: ", valid.message()));
  }
  const int64_t num_source = m.cols;
  const int64_t num_reference = static_cast<int64_t>(reference.size());
  PeakMappingStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  *stats = PeakMappingStats();
  stats->source_peaks = num_source;
  stats->reference_peaks = num_reference;

  if (source_peaks == reference) {
    stats->source_peaks_mapped = num_source;
    stats->reference_peaks_covered = num_reference;
    stats->fraction_of_counts_kept = 1.0;
    return m;
  }

  // Source peak j goes to reference peaks targets[target_begin[j] .. target_begin[j + 1]),
  // increasing.
  const PeakIndex index(reference);
  std::vector<int64_t> target_begin(static_cast<size_t>(num_source) + 1, 0);
  std::vector<int32_t> targets;
  targets.reserve(static_cast<size_t>(num_source));
  std::vector<int32_t> hits;
  std::vector<bool> covered(static_cast<size_t>(num_reference), false);
  for (int64_t j = 0; j < num_source; ++j) {
    const Peak& p = source_peaks[j];
    index.Overlapping(p.chrom, p.start, p.end, &hits);
    targets.insert(targets.end(), hits.begin(), hits.end());
    target_begin[j + 1] = static_cast<int64_t>(targets.size());
    if (!hits.empty()) ++stats->source_peaks_mapped;
    for (int32_t r : hits) covered[r] = true;
  }
  stats->reference_peaks_covered = std::count(covered.begin(), covered.end(), true);

  // Row by row, accumulate into a dense scratch row; values are > 0, so a zero sum marks a
  // reference peak not yet touched in this row.
  const bool binary = m.is_binary();
  std::vector<float> sums(static_cast<size_t>(num_reference), 0.0f);
  std::vector<int32_t> touched;
  double total = 0;
  double kept = 0;
  CsrBuilder builder(num_reference, binary, m.nnz());
  for (int64_t row = 0; row < m.rows; ++row) {
    touched.clear();
    for (int64_t k = m.indptr[row]; k < m.indptr[row + 1]; ++k) {
      const int32_t j = m.indices[k];
      const float v = m.value(k);
      total += v;
      if (target_begin[j] != target_begin[j + 1]) kept += v;
      for (int64_t t = target_begin[j]; t < target_begin[j + 1]; ++t) {
        const int32_t r = targets[t];
        if (sums[r] == 0.0f) touched.push_back(r);
        sums[r] = binary ? 1.0f : sums[r] + v;
      }
    }
    std::sort(touched.begin(), touched.end());
    for (int32_t r : touched) {
      builder.Add(r, sums[r]);
      sums[r] = 0.0f;
    }
    builder.FinishRow();
  }
  stats->fraction_of_counts_kept = total > 0 ? kept / total : 1.0;
  return std::move(builder).Finish();
}

}  // namespace flsailer::data
