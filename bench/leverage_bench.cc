// leverage_bench: time and peak memory of FL-Sailer's leverage scores (TF-IDF sums, transform,
// randomized subspace iteration, scores: the centralised feature-selection path) on a synthetic
// binary cells x peaks matrix, generated in memory.
//
//   leverage_bench [--cells 100000] [--peaks 200000] [--density 0.03] [--rank 30] [--threads 1]
//                  [--seed 1] [--repeats 1] [--tfidf-h5ad PATH] [--subsample CELLS PEAKS DIR]
//
// The matrix has structure, as scATAC-seq does: 40 cell types, each with 2% of the peaks specific
// to it (10x more accessible there), log-normal base accessibility and log-normal cell depth.
// Prints one line of key=value figures: the median over --repeats of the leverage computation
// (TF-IDF statistics and transform, then the iteration: leverage_s includes tfidf_s; the
// generation excluded), the process's peak RSS (getrusage: the binary matrix, its TF-IDF and
// the iteration) and the CSR sizes. Run one thread count per process so the peak is its own.
// --tfidf-h5ad writes the TF-IDF matrix for other tools (bench/leverage_vs_sklearn.sh).
// --subsample writes the top-left CELLS x PEAKS block of the TF-IDF matrix to DIR/tfidf.h5ad and
// this code's leverage scores of that block to DIR/flsailer_scores.txt (one per line), with the
// median time of 3 runs, so that they can be checked against an exact SVD.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"
#include "libs/sampling/feature_selector.h"

namespace {

using flsailer::data::CsrMatrix;
using Clock = std::chrono::steady_clock;

constexpr int kCellTypes = 40;
constexpr double kTypeSpecificFraction = 0.02;
constexpr double kTypeSpecificBoost = 10;
// The subsample is small: its timing is always a median of this many runs.
constexpr int kSubsampleRepeats = 3;

struct Options {
  int64_t cells = 100000;
  int32_t peaks = 200000;
  double density = 0.03;
  int32_t rank = 30;
  int threads = 1;
  uint64_t seed = 1;
  int repeats = 1;
  std::string tfidf_h5ad;
  int64_t sub_cells = 0;
  int32_t sub_peaks = 0;
  std::string sub_dir;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds of the whole process (all threads): the figure that stays meaningful when other
// jobs share the machine.
double CpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Walker's alias table: O(1) draws from a fixed categorical distribution.
struct AliasTable {
  std::vector<double> prob;
  std::vector<int32_t> alias;

  explicit AliasTable(const std::vector<double>& weights) {
    const size_t n = weights.size();
    prob.resize(n);
    alias.resize(n);
    double total = 0;
    for (double w : weights) total += w;
    std::vector<double> scaled(n);
    std::vector<int32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * n / total;
      (scaled[i] < 1 ? small : large).push_back(static_cast<int32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const int32_t s = small.back(), l = large.back();
      small.pop_back();
      prob[s] = scaled[s];
      alias[s] = l;
      scaled[l] -= 1 - scaled[s];
      if (scaled[l] < 1) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (int32_t i : small) prob[i] = 1;
    for (int32_t i : large) prob[i] = 1;
  }

  int32_t Draw(std::mt19937_64& rng) const {
    const uint64_t r = rng();
    const size_t i = static_cast<size_t>((r >> 32) * prob.size() >> 32);
    const double u = static_cast<double>(r & 0xffffffffu) * 0x1.0p-32;
    return u < prob[i] ? static_cast<int32_t>(i) : alias[i];
  }
};

// Each cell opens a log-normal number of distinct peaks (mean density x peaks), drawn from its
// type's accessibility profile.
CsrMatrix Generate(const Options& o) {
  std::mt19937_64 rng(o.seed);
  std::lognormal_distribution<double> base(0, 1);
  std::vector<double> accessibility(o.peaks);
  for (double& a : accessibility) a = base(rng);
  std::uniform_int_distribution<int> type_of_peak(0, kCellTypes - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<int> specific(o.peaks, -1);
  for (int32_t j = 0; j < o.peaks; ++j) {
    if (unit(rng) < kTypeSpecificFraction * kCellTypes) specific[j] = type_of_peak(rng);
  }
  std::vector<AliasTable> tables;
  for (int t = 0; t < kCellTypes; ++t) {
    std::vector<double> w = accessibility;
    for (int32_t j = 0; j < o.peaks; ++j) {
      if (specific[j] == t) w[j] *= kTypeSpecificBoost;
    }
    tables.emplace_back(w);
  }
  const double sd = 0.5;
  std::normal_distribution<double> log_open(std::log(o.density * o.peaks) - sd * sd / 2, sd);
  flsailer::data::CsrBuilder b(o.peaks, /*binary=*/true,
                               static_cast<int64_t>(o.density * o.peaks * o.cells * 1.01));
  std::vector<char> open(o.peaks, 0);
  std::vector<int32_t> row;
  for (int64_t i = 0; i < o.cells; ++i) {
    const AliasTable& table = tables[i % kCellTypes];
    const int64_t target = std::clamp<int64_t>(std::llround(std::exp(log_open(rng))), 1,
                                               o.peaks / 2);
    row.clear();
    for (int64_t attempts = 0; static_cast<int64_t>(row.size()) < target && attempts < 20 * target;
         ++attempts) {
      const int32_t j = table.Draw(rng);
      if (!open[j]) {
        open[j] = 1;
        row.push_back(j);
      }
    }
    std::sort(row.begin(), row.end());
    for (int32_t j : row) {
      b.Add(j, 1);
      open[j] = 0;
    }
    b.FinishRow();
  }
  return std::move(b).Finish();
}

// A Dataset around `m` with placeholder names, for WriteH5ad.
flsailer::data::Dataset Named(CsrMatrix m) {
  flsailer::data::Dataset ds;
  for (int64_t i = 0; i < m.rows; ++i) ds.barcodes.push_back(absl::StrCat("cell", i));
  for (int64_t j = 0; j < m.cols; ++j) ds.peaks.push_back({"chr1", 1000 * j, 1000 * j + 500});
  ds.matrix = std::move(m);
  return ds;
}

// The top-left block of `t`.
CsrMatrix Block(const CsrMatrix& t, int64_t cells, int32_t peaks) {
  flsailer::data::CsrBuilder b(peaks, /*binary=*/false);
  for (int64_t r = 0; r < std::min(cells, t.rows); ++r) {
    for (int64_t k = t.indptr[r]; k < t.indptr[r + 1] && t.indices[k] < peaks; ++k) {
      b.Add(t.indices[k], t.value(k));
    }
    b.FinishRow();
  }
  return std::move(b).Finish();
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--cells" && has_value) {
      o->cells = std::atoll(argv[++i]);
    } else if (flag == "--peaks" && has_value) {
      o->peaks = std::atoi(argv[++i]);
    } else if (flag == "--density" && has_value) {
      o->density = std::atof(argv[++i]);
    } else if (flag == "--rank" && has_value) {
      o->rank = std::atoi(argv[++i]);
    } else if (flag == "--threads" && has_value) {
      o->threads = std::max(1, std::atoi(argv[++i]));
    } else if (flag == "--seed" && has_value) {
      o->seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (flag == "--repeats" && has_value) {
      o->repeats = std::max(1, std::atoi(argv[++i]));
    } else if (flag == "--tfidf-h5ad" && has_value) {
      o->tfidf_h5ad = argv[++i];
    } else if (flag == "--subsample" && i + 3 < argc) {
      o->sub_cells = std::atoll(argv[++i]);
      o->sub_peaks = std::atoi(argv[++i]);
      o->sub_dir = argv[++i];
    } else {
      return false;
    }
  }
  return o->cells > 0 && o->peaks > 0 && o->density > 0 && o->density < 1;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "leverage_bench: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  namespace sampling = flsailer::sampling;
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: leverage_bench [--cells N] [--peaks P] [--density D] [--rank K] "
                         "[--threads T] [--seed S] [--repeats R] [--tfidf-h5ad PATH] "
                         "[--subsample CELLS PEAKS DIR]\n");
    return 2;
  }
  Clock::time_point start = Clock::now();
  const CsrMatrix x = Generate(o);
  const double generate_s = Seconds(start);

  sampling::FeatureSelectorOptions options;
  options.subspace.rank = o.rank;
  options.subspace.seed = o.seed;
  std::vector<double> seconds, cpu_seconds, tfidf_seconds, tfidf_cpu_seconds;
  CsrMatrix t;
  for (int r = 0; r < o.repeats; ++r) {
    start = Clock::now();
    const double cpu_start = CpuSeconds();
    auto selector = sampling::FeatureSelector::Create(sampling::LocalTfIdfSums(x), options);
    if (!selector.ok()) return Fail(selector.status());
    auto transformed = selector->tfidf().Transform(x);
    if (!transformed.ok()) return Fail(transformed.status());
    t = std::move(*transformed);
    tfidf_seconds.push_back(Seconds(start));
    tfidf_cpu_seconds.push_back(CpuSeconds() - cpu_start);
    if (absl::Status s = sampling::RunEstimate(&*selector, {&t}, o.threads); !s.ok()) {
      return Fail(s);
    }
    seconds.push_back(Seconds(start));
    cpu_seconds.push_back(CpuSeconds() - cpu_start);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double peak_rss = static_cast<double>(usage.ru_maxrss) * 1024.0;
  std::printf("cells=%lld peaks=%d nnz=%lld density=%.4f rank=%d threads=%d repeats=%d "
              "generate_s=%.1f tfidf_s=%.2f tfidf_cpu_s=%.2f leverage_s=%.2f leverage_cpu_s=%.2f "
              "x_csr_mb=%.1f t_csr_mb=%.1f peak_rss_mb=%.1f peak_over_t_csr=%.2f "
              "peak_over_x_csr=%.2f\n",
              static_cast<long long>(x.rows), static_cast<int>(x.cols),
              static_cast<long long>(x.nnz()), x.density(), o.rank, o.threads, o.repeats,
              generate_s, Median(tfidf_seconds), Median(tfidf_cpu_seconds), Median(seconds),
              Median(cpu_seconds),
              x.MemoryBytes() / 1e6,
              t.MemoryBytes() / 1e6, peak_rss / 1e6, peak_rss / t.MemoryBytes(),
              peak_rss / x.MemoryBytes());
  std::fflush(stdout);

  if (!o.sub_dir.empty()) {
    const CsrMatrix block = Block(t, o.sub_cells, o.sub_peaks);
    options.subspace.rank = std::min<int32_t>(o.rank, static_cast<int32_t>(block.cols));
    std::vector<double> sub_seconds, sub_cpu_seconds;
    std::vector<double> scores;
    for (int r = 0; r < kSubsampleRepeats; ++r) {
      start = Clock::now();
      const double cpu_start = CpuSeconds();
      auto it = sampling::RunSubspaceIteration({&block}, options.subspace, o.threads);
      if (!it.ok()) return Fail(it.status());
      scores = sampling::LeverageScores(it->right_vectors());
      sub_seconds.push_back(Seconds(start));
      sub_cpu_seconds.push_back(CpuSeconds() - cpu_start);
    }
    if (absl::Status s = flsailer::MakeDirectories(o.sub_dir); !s.ok()) return Fail(s);
    if (absl::Status s = flsailer::data::WriteH5ad(o.sub_dir + "/tfidf.h5ad", Named(block));
        !s.ok()) {
      return Fail(s);
    }
    auto out = flsailer::AtomicOutputFile::Create(o.sub_dir + "/flsailer_scores.txt");
    if (!out.ok()) return Fail(out.status());
    std::string text;
    for (double s : scores) absl::StrAppend(&text, absl::StrFormat("%.17g", s), "\n");
    if (absl::Status s = (*out)->Write(text); !s.ok()) return Fail(s);
    if (absl::Status s = (*out)->Close(); !s.ok()) return Fail(s);
    std::printf("subsample_cells=%lld subsample_peaks=%d subsample_nnz=%lld subsample_s=%.3f "
                "subsample_cpu_s=%.3f\n",
                static_cast<long long>(block.rows), static_cast<int>(block.cols),
                static_cast<long long>(block.nnz()), Median(sub_seconds), Median(sub_cpu_seconds));
  }
  if (!o.tfidf_h5ad.empty()) {
    if (absl::Status s = flsailer::data::WriteH5ad(o.tfidf_h5ad, Named(std::move(t))); !s.ok()) {
      return Fail(s);
    }
  }
  return 0;
}
