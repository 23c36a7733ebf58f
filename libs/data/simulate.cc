#include "libs/data/simulate.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/peaks.h"

namespace flsailer::data {
namespace {

constexpr int32_t kMaxChromosomes = 22;
constexpr int64_t kPeakWidth = 500;
constexpr double kMeanPeakGap = 10000;
constexpr double kBaseAccessibilitySd = 1.0;
// Bounds that keep every option's cost finite: a cell's work is its depth, an institution's
// sampling tables take 8 bytes per peak and cell type.
constexpr int64_t kMaxDepth = int64_t{1} << 30;
constexpr int32_t kMaxCellTypes = 1000;
constexpr int32_t kMaxInstitutions = 1000;
constexpr int64_t kMaxTableEntries = int64_t{1} << 28;
constexpr double kMaxSd = 5;
constexpr double kMaxBoost = 1e6;
constexpr int64_t kProgressEvery = 512;
constexpr double kTwoPi = 6.283185307179586;

// Independent random streams of one seed.
enum Stream : uint64_t {
  kLayoutStream = 1,
  kAccessibilityStream,
  kRoleStream,
  kInstitutionStream,
  kDistortionStream,
  kCellStream,
};

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256** (Blackman & Vigna) with distributions of our own: the same numbers on every
// platform, which the std:: distributions do not promise.
class Rng {
 public:
  // The generator of item `index` of `stream`, independent of every other (seed, stream, index).
  Rng(uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t state = seed;
    state = SplitMix64(&state) ^ stream;
    state = SplitMix64(&state) ^ index;
    for (uint64_t& s : s_) s = SplitMix64(&state);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) for n < 2^32 (Lemire's multiply-shift; the bias is below n / 2^32).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Normal() {  // Box-Muller
    const double u = 1.0 - Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(kTwoPi * Uniform());
  }
  double Exponential() { return -std::log(1.0 - Uniform()); }
  // The log of a Gamma(shape, 1) draw (Marsaglia & Tsang 2000); logs keep the draws of tiny
  // shapes from underflowing to 0.
  double LogGamma(double shape) {
    if (shape < 1) return LogGamma(shape + 1) + std::log(1.0 - Uniform()) / shape;
    const double d = shape - 1.0 / 3;
    const double c = 1 / std::sqrt(9 * d);
    while (true) {
      double x, v;
      do {
        x = Normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      if (std::log(1.0 - Uniform()) < 0.5 * x * x + d - d * v + d * std::log(v)) {
        return std::log(d * v);
      }
    }
  }

 private:
  uint64_t s_[4];
};

absl::Status CheckRange(absl::string_view name, double value, double lo, double hi,
                        bool lo_open = false, bool hi_open = false) {
  const bool above = lo_open ? value > lo : value >= lo;
  const bool below = hi_open ? value < hi : value <= hi;
  if (above && below) return absl::OkStatus();  // false for NaN
  return absl::InvalidArgumentError(absl::StrCat(name, " must be in ", lo_open ? "(" : "[", lo,
                                                 ", ", hi, hi_open ? ")" : "]", ", got ", value));
}

absl::Status CheckCount(absl::string_view name, int64_t value, int64_t max) {
  if (value >= 1 && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, " must be in [1, ", max, "], got ", value));
}

absl::Status ValidateOptions(const SimulationOptions& o) {
  FLS_RETURN_IF_ERROR(CheckCount("cells", o.cells, INT32_MAX));
  FLS_RETURN_IF_ERROR(CheckCount("peaks", o.peaks, INT32_MAX));
  FLS_RETURN_IF_ERROR(CheckCount("cell_types", o.cell_types, kMaxCellTypes));
  FLS_RETURN_IF_ERROR(CheckCount("institutions", o.institutions, kMaxInstitutions));
  if (o.institutions > o.cells) {
    return absl::InvalidArgumentError(
        absl::StrCat(o.institutions, " institutions need at least as many cells, got ", o.cells));
  }
  if (int64_t{o.peaks} * o.cell_types > kMaxTableEntries) {
    return absl::InvalidArgumentError(absl::StrCat("peaks x cell_types must be at most ",
                                                   kMaxTableEntries, ", got ", o.peaks, " x ",
                                                   o.cell_types));
  }
  FLS_RETURN_IF_ERROR(CheckRange("density", o.density, 0, 1, true, true));
  FLS_RETURN_IF_ERROR(CheckRange("type_specific_fraction", o.type_specific_fraction, 0, 1));
  FLS_RETURN_IF_ERROR(CheckRange("noise_peak_fraction", o.noise_peak_fraction, 0, 1));
  FLS_RETURN_IF_ERROR(CheckRange("type_specific_boost", o.type_specific_boost, 1, kMaxBoost));
  FLS_RETURN_IF_ERROR(CheckRange("noise_peak_boost", o.noise_peak_boost, 1, kMaxBoost));
  FLS_RETURN_IF_ERROR(CheckRange("log_depth_sd", o.log_depth_sd, 0, kMaxSd));
  FLS_RETURN_IF_ERROR(CheckRange("depth_shift_sd", o.depth_shift_sd, 0, kMaxSd));
  FLS_RETURN_IF_ERROR(CheckRange("distortion_sd", o.distortion_sd, 0, kMaxSd));
  FLS_RETURN_IF_ERROR(CheckRange("mix_concentration", o.mix_concentration, 0, 1e6, true));
  const int64_t specific = std::llround(o.type_specific_fraction * o.peaks) * o.cell_types;
  const int64_t noise = std::llround(o.noise_peak_fraction * o.peaks) * o.institutions;
  if (specific + noise > o.peaks) {
    return absl::InvalidArgumentError(
        absl::StrCat(specific, " type-specific and ", noise, " noise peaks do not fit in ", o.peaks,
                     " peaks: lower type_specific_fraction or noise_peak_fraction"));
  }
  return absl::OkStatus();
}

std::string TypeName(int32_t t) { return absl::StrCat("type_", t + 1); }
std::string InstitutionName(int32_t k) { return absl::StrCat("institution_", k + 1); }

std::vector<Peak> MakePeaks(const SimulationOptions& o) {
  Rng rng(o.seed, kLayoutStream, 0);
  const int32_t chroms = std::min(o.peaks, kMaxChromosomes);
  std::vector<Peak> peaks(o.peaks);
  for (int32_t c = 0; c < chroms; ++c) {
    const std::string chrom = absl::StrCat("chr", c + 1);
    int64_t pos = 0;
    for (int64_t j = int64_t{o.peaks} * c / chroms; j < int64_t{o.peaks} * (c + 1) / chroms; ++j) {
      pos += kPeakWidth + static_cast<int64_t>(kMeanPeakGap * rng.Exponential());
      peaks[j] = Peak{chrom, pos, pos + kPeakWidth};
    }
  }
  return peaks;
}

// The model's fixed parameters; institution weights are recomputed from their streams on demand.
struct Model {
  // role[j]: -1 shared, t in [0, cell_types) specific to type t, cell_types + k noise of k.
  std::vector<int32_t> role;
  std::vector<double> accessibility;     // a_j
  std::vector<double> depth_shift;       // s_k
  std::vector<std::vector<double>> mix;  // pi_k
  std::vector<int64_t> first_cell;       // institution k holds [first_cell[k], [k + 1])
  double mean_log_depth = 0;             // mu
};

Model MakeModel(const SimulationOptions& o) {
  Model m;
  const int32_t n = o.peaks;
  Rng access_rng(o.seed, kAccessibilityStream, 0);
  m.accessibility.resize(n);
  for (double& a : m.accessibility) a = std::exp(kBaseAccessibilitySd * access_rng.Normal());

  // Roles at random positions, so that type-specific peaks are spread over the genome.
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Rng role_rng(o.seed, kRoleStream, 0);
  for (int32_t i = n - 1; i > 0; --i) std::swap(order[i], order[role_rng.Below(i + 1)]);
  m.role.assign(n, -1);
  size_t next = 0;
  const int64_t per_type = std::llround(o.type_specific_fraction * n);
  const int64_t per_institution = std::llround(o.noise_peak_fraction * n);
  for (int32_t t = 0; t < o.cell_types; ++t) {
    for (int64_t i = 0; i < per_type; ++i) m.role[order[next++]] = t;
  }
  for (int32_t k = 0; k < o.institutions; ++k) {
    for (int64_t i = 0; i < per_institution; ++i) m.role[order[next++]] = o.cell_types + k;
  }

  for (int32_t k = 0; k < o.institutions; ++k) {
    Rng rng(o.seed, kInstitutionStream, k);
    m.depth_shift.push_back(o.depth_shift_sd * rng.Normal());
    // Dirichlet as normalised Gamma draws, in logs (softmax) for small concentrations.
    std::vector<double> mix(o.cell_types);
    for (double& x : mix) x = rng.LogGamma(o.mix_concentration);
    const double top = *std::max_element(mix.begin(), mix.end());
    double sum = 0;
    for (double& x : mix) sum += (x = std::exp(x - top));
    for (double& x : mix) x /= sum;
    m.mix.push_back(std::move(mix));
    m.first_cell.push_back(k * (o.cells / o.institutions) +
                           std::min<int64_t>(k, o.cells % o.institutions));
  }
  m.first_cell.push_back(o.cells);
  return m;
}

// Institution k's weight of every peak before cell-type effects: a_j * distortion * noise boost.
void InstitutionWeights(const SimulationOptions& o, const Model& m, int32_t k,
                        std::vector<double>* w) {
  Rng rng(o.seed, kDistortionStream, k);
  w->resize(o.peaks);
  for (int32_t j = 0; j < o.peaks; ++j) {
    double x = m.accessibility[j] * std::exp(o.distortion_sd * rng.Normal());
    if (m.role[j] == o.cell_types + k) x *= o.noise_peak_boost;
    (*w)[j] = x;
  }
}

// The weights of cell type t in an institution; returns their sum.
double TypeWeights(const SimulationOptions& o, const Model& m, const std::vector<double>& w,
                   int32_t t, std::vector<double>* out) {
  out->resize(w.size());
  double total = 0;
  for (size_t j = 0; j < w.size(); ++j) {
    total += (*out)[j] = m.role[j] == t ? w[j] * o.type_specific_boost : w[j];
  }
  return total;
}

int64_t DepthFromLog(double log_depth) {
  if (!(log_depth < std::log(static_cast<double>(kMaxDepth)))) return kMaxDepth;
  return std::max<int64_t>(1, std::llround(std::exp(log_depth)));
}

// The expected number of distinct peaks among d draws from a categorical p,
// sum_j 1 - (1 - p_j)^d, from a histogram of log p in bins 5% wide: O(bins) instead of O(peaks)
// per evaluation, with an error far below the sampling noise.
class OpenPeakCurve {
 public:
  OpenPeakCurve(const std::vector<double>& w, double total) {
    constexpr double kBinWidth = 0.05;
    std::vector<double> count, sum;
    for (double x : w) {
      const double p = x / total;
      const size_t bin = static_cast<size_t>(std::max(0.0, -std::log(p) / kBinWidth));
      if (bin >= count.size()) {
        count.resize(bin + 1, 0);
        sum.resize(bin + 1, 0);
      }
      ++count[bin];
      sum[bin] += p;
    }
    for (size_t b = 0; b < count.size(); ++b) {
      if (count[b] == 0) continue;
      count_.push_back(count[b]);
      log1m_p_.push_back(std::log1p(-sum[b] / count[b]));
    }
  }

  double Expected(int64_t draws) const {
    double open = 0;
    for (size_t b = 0; b < count_.size(); ++b) {
      open -= count_[b] * std::expm1(static_cast<double>(draws) * log1m_p_[b]);
    }
    return open;
  }

 private:
  std::vector<double> count_;
  std::vector<double> log1m_p_;  // log(1 - mean p of the bin)
};

// Solves for mu: the mean log depth at which the expected density over all institutions and
// types equals options.density. curves[k * cell_types + t].
absl::Status SolveMeanLogDepth(const SimulationOptions& o, const std::vector<OpenPeakCurve>& curves,
                               Model* m) {
  // E[f(Z)], Z ~ N(0, 1), by the trapezoid rule on [-5, 5] (smooth integrands).
  std::vector<double> nodes, weights;
  double weight_sum = 0;
  for (int i = -20; i <= 20; ++i) {
    nodes.push_back(0.25 * i);
    weights.push_back(std::exp(-0.5 * nodes.back() * nodes.back()));
    weight_sum += weights.back();
  }
  for (double& q : weights) q /= weight_sum;

  auto density = [&](double mu) {
    double open = 0;
    for (int32_t k = 0; k < o.institutions; ++k) {
      const double share = static_cast<double>(m->first_cell[k + 1] - m->first_cell[k]) /
                           static_cast<double>(o.cells);
      for (int32_t t = 0; t < o.cell_types; ++t) {
        const OpenPeakCurve& curve = curves[static_cast<size_t>(k) * o.cell_types + t];
        double expected = 0;
        for (size_t i = 0; i < nodes.size(); ++i) {
          expected +=
              weights[i] *
              curve.Expected(DepthFromLog(mu + m->depth_shift[k] + o.log_depth_sd * nodes[i]));
        }
        open += share * m->mix[k][t] * expected;
      }
    }
    return open / o.peaks;
  };

  // At lo every cell has depth 1 (density 1/peaks); at hi every cell has the maximum depth.
  double lo = -100;
  double hi = std::log(static_cast<double>(kMaxDepth)) + 100;
  if (o.density <= density(lo) * (1 + 1e-9)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "density ", o.density, " is too low for ", o.peaks,
        " peaks: every cell has at least one open peak, so density must exceed 1/peaks"));
  }
  if (density(hi) < o.density) {
    return absl::InvalidArgumentError(
        absl::StrCat("density ", o.density, " is out of reach: even ", kMaxDepth,
                     " insertions per cell open fewer peaks; lower the density"));
  }
  while (hi - lo > 1e-6) {
    const double mid = 0.5 * (lo + hi);
    (density(mid) < o.density ? lo : hi) = mid;
  }
  m->mean_log_depth = 0.5 * (lo + hi);
  return absl::OkStatus();
}

// Walker's alias method (Vose's construction): a draw takes one random number and one table entry.
// A slot keeps its own peak when the low 32 random bits are below `threshold`.
struct AliasEntry {
  uint32_t threshold;
  int32_t alias;
};

class AliasTableBuilder {
 public:
  void Build(const std::vector<double>& w, double total, AliasEntry* table) {
    const size_t n = w.size();
    scaled_.resize(n);
    small_.clear();
    large_.clear();
    for (size_t j = 0; j < n; ++j) {
      scaled_[j] = w[j] * static_cast<double>(n) / total;
      (scaled_[j] < 1 ? small_ : large_).push_back(static_cast<int32_t>(j));
    }
    while (!small_.empty() && !large_.empty()) {
      const int32_t s = small_.back();
      small_.pop_back();
      const int32_t l = large_.back();
      table[s] = AliasEntry{static_cast<uint32_t>(std::max(0.0, scaled_[s]) * 0x1.0p32), l};
      scaled_[l] -= 1 - scaled_[s];
      if (scaled_[l] < 1) {
        large_.pop_back();
        small_.push_back(l);
      }
    }
    // What is left has probability 1 up to rounding: the slot always yields its own peak.
    for (const std::vector<int32_t>* rest : {&small_, &large_}) {
      for (int32_t j : *rest) table[j] = AliasEntry{UINT32_MAX, j};
    }
  }

 private:
  std::vector<double> scaled_;
  std::vector<int32_t> small_, large_;
};

inline int32_t Draw(const AliasEntry* table, uint32_t n, Rng& rng) {
  const uint64_t r = rng.Next();
  const uint32_t slot = static_cast<uint32_t>(((r >> 32) * n) >> 32);
  const AliasEntry e = table[slot];
  return static_cast<uint32_t>(r) < e.threshold ? static_cast<int32_t>(slot) : e.alias;
}

// Removes a file when it goes out of scope (the matrix body, on every path).
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() { std::remove(path.c_str()); }
};

// Streams one 10x folder. The matrix body goes to a temporary file because the MatrixMarket
// header needs the number of entries; Finish() writes the header and appends the body.
class TenxFolderWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TenxFolderWriter>> Create(const std::string& dir,
                                                                  const SimulationOptions& o,
                                                                  const std::vector<Peak>& peaks) {
    FLS_RETURN_IF_ERROR(MakeDirectories(dir));
    FLS_RETURN_IF_ERROR(WriteBed(absl::StrCat(dir, "/peaks.bed"), peaks));
    std::unique_ptr<TenxFolderWriter> w(new TenxFolderWriter);
    w->matrix_path_ = absl::StrCat(dir, o.gzip ? "/matrix.mtx.gz" : "/matrix.mtx");
    w->body_.path = absl::StrCat(w->matrix_path_, ".body");
    w->gzip_ = o.gzip;
    w->peaks_ = o.peaks;
    FLS_ASSIGN_OR_RETURN(w->body_file_, AtomicOutputFile::Create(w->body_.path, o.gzip));
    FLS_ASSIGN_OR_RETURN(w->barcodes_,
                         AtomicOutputFile::Create(absl::StrCat(dir, "/barcodes.tsv")));
    FLS_ASSIGN_OR_RETURN(w->metadata_,
                         AtomicOutputFile::Create(absl::StrCat(dir, "/cell_metadata.tsv")));
    FLS_RETURN_IF_ERROR(w->metadata_->Write("barcode\tcell_type\tbatch\tdepth\n"));
    return w;
  }

  // Appends a cell: its open peaks in increasing order and their counts (indexed by peak).
  absl::Status AddCell(const std::vector<int32_t>& open, const std::vector<uint32_t>& counts,
                       absl::string_view barcode, absl::string_view type, absl::string_view batch,
                       int64_t depth) {
    ++cells_;
    char cell_field[24];
    cell_field[0] = ' ';
    char* end = std::to_chars(cell_field + 1, cell_field + sizeof(cell_field) - 1, cells_).ptr;
    *end++ = ' ';
    const size_t cell_len = static_cast<size_t>(end - cell_field);
    text_.clear();
    char line[64];
    for (int32_t peak : open) {
      char* p = std::to_chars(line, line + 16, peak + 1).ptr;
      std::memcpy(p, cell_field, cell_len);
      p = std::to_chars(p + cell_len, line + sizeof(line) - 1, counts[peak]).ptr;
      *p++ = '\n';
      text_.append(line, static_cast<size_t>(p - line));
    }
    nnz_ += static_cast<int64_t>(open.size());
    FLS_RETURN_IF_ERROR(body_file_->Write(text_));
    text_.clear();
    absl::StrAppend(&text_, barcode, "\n");
    FLS_RETURN_IF_ERROR(barcodes_->Write(text_));
    text_.pop_back();
    absl::StrAppend(&text_, "\t", type, "\t", batch, "\t", depth, "\n");
    return metadata_->Write(text_);
  }

  absl::Status Finish() {
    FLS_RETURN_IF_ERROR(body_file_->Close());
    FLS_ASSIGN_OR_RETURN(auto matrix, AtomicOutputFile::Create(matrix_path_, gzip_));
    FLS_RETURN_IF_ERROR(
        matrix->Write(absl::StrCat("%%MatrixMarket matrix coordinate integer general\n"
                                   "%metadata_json: {\"software\": \"flsailer simulate\"}\n",
                                   peaks_, " ", cells_, " ", nnz_, "\n")));
    FLS_RETURN_IF_ERROR(matrix->AppendRawFile(body_.path));
    FLS_RETURN_IF_ERROR(matrix->Close());
    // A matrix of the other compression left by an earlier run would be read instead of this one.
    const std::string other =
        gzip_ ? matrix_path_.substr(0, matrix_path_.size() - 3) : absl::StrCat(matrix_path_, ".gz");
    if (std::remove(other.c_str()) != 0 && errno != ENOENT) {
      return absl::PermissionDeniedError(
          absl::StrCat(other, ": cannot remove the stale matrix: ", std::strerror(errno)));
    }
    FLS_RETURN_IF_ERROR(barcodes_->Close());
    return metadata_->Close();
  }

  int64_t cells() const { return cells_; }

 private:
  TenxFolderWriter() = default;

  std::string matrix_path_;
  RemoveOnExit body_;
  bool gzip_ = true;
  int32_t peaks_ = 0;
  std::unique_ptr<AtomicOutputFile> body_file_, barcodes_, metadata_;
  int64_t cells_ = 0;
  int64_t nnz_ = 0;
  std::string text_;  // reused for every cell's lines
};

absl::Status WriteTruth(const SimulationOptions& o, const Model& m, const std::vector<Peak>& peaks,
                        const std::string& out_dir) {
  FLS_ASSIGN_OR_RETURN(auto truth,
                       AtomicOutputFile::Create(absl::StrCat(out_dir, "/truth_peaks.tsv")));
  FLS_RETURN_IF_ERROR(truth->Write("peak_index\tpeak_name\trole\n"));
  std::string line;
  for (int32_t j = 0; j < o.peaks; ++j) {
    const int32_t role = m.role[j];
    line = absl::StrCat(j, "\t", PeakName(peaks[j]), "\t",
                        role < 0 ? "shared"
                        : role < o.cell_types
                            ? absl::StrCat("type:", TypeName(role))
                            : absl::StrCat("noise:", InstitutionName(role - o.cell_types)),
                        "\n");
    FLS_RETURN_IF_ERROR(truth->Write(line));
  }
  FLS_RETURN_IF_ERROR(truth->Close());

  FLS_ASSIGN_OR_RETURN(auto inst,
                       AtomicOutputFile::Create(absl::StrCat(out_dir, "/truth_institutions.tsv")));
  line = "institution\tcells\tmean_log_depth";
  for (int32_t t = 0; t < o.cell_types; ++t) absl::StrAppend(&line, "\t", TypeName(t));
  line.push_back('\n');
  FLS_RETURN_IF_ERROR(inst->Write(line));
  for (int32_t k = 0; k < o.institutions; ++k) {
    line = absl::StrCat(InstitutionName(k), "\t", m.first_cell[k + 1] - m.first_cell[k], "\t",
                        m.mean_log_depth + m.depth_shift[k]);
    for (double x : m.mix[k]) absl::StrAppend(&line, "\t", x);
    line.push_back('\n');
    FLS_RETURN_IF_ERROR(inst->Write(line));
  }
  return inst->Close();
}

}  // namespace

absl::StatusOr<SimulationSummary> Simulate(const SimulationOptions& options,
                                           const std::string& out_dir) {
  const SimulationOptions& o = options;
  if (out_dir.empty()) return absl::InvalidArgumentError("no output directory given");
  FLS_RETURN_IF_ERROR(ValidateOptions(o));
  Model model = MakeModel(o);
  const size_t n = static_cast<size_t>(o.peaks);

  // Calibrate the depth before anything is written, so that an unreachable density leaves no
  // files behind.
  std::vector<double> inst_w, type_w;
  {
    std::vector<OpenPeakCurve> curves;
    for (int32_t k = 0; k < o.institutions; ++k) {
      InstitutionWeights(o, model, k, &inst_w);
      for (int32_t t = 0; t < o.cell_types; ++t) {
        const double total = TypeWeights(o, model, inst_w, t, &type_w);
        curves.emplace_back(type_w, total);
      }
    }
    FLS_RETURN_IF_ERROR(SolveMeanLogDepth(o, curves, &model));
  }

  const std::vector<Peak> peaks = MakePeaks(o);
  FLS_RETURN_IF_ERROR(MakeDirectories(out_dir));
  FLS_RETURN_IF_ERROR(WriteTruth(o, model, peaks, out_dir));

  SimulationSummary summary;
  std::vector<AliasEntry> tables(n * static_cast<size_t>(o.cell_types));
  AliasTableBuilder builder;
  // A cell's counts and open peaks (a bitmap), dense scratch that is zero between cells.
  std::vector<uint32_t> counts(n, 0);
  std::vector<uint64_t> open_bits((n + 63) / 64, 0);
  std::vector<int32_t> open;
  open.reserve(n);
  std::vector<double> cumulative_mix(o.cell_types);
  std::vector<std::string> type_names;
  for (int32_t t = 0; t < o.cell_types; ++t) type_names.push_back(TypeName(t));
  std::unique_ptr<TenxFolderWriter> writer;
  std::string barcode;

  for (int32_t k = 0; k < o.institutions; ++k) {
    const std::string batch = InstitutionName(k);
    if (writer == nullptr) {
      const std::string dir = o.per_institution ? absl::StrCat(out_dir, "/", batch) : out_dir;
      FLS_ASSIGN_OR_RETURN(writer, TenxFolderWriter::Create(dir, o, peaks));
      summary.folders.push_back(dir);
    }
    InstitutionWeights(o, model, k, &inst_w);
    for (int32_t t = 0; t < o.cell_types; ++t) {
      const double total = TypeWeights(o, model, inst_w, t, &type_w);
      builder.Build(type_w, total, &tables[t * n]);
    }
    std::partial_sum(model.mix[k].begin(), model.mix[k].end(), cumulative_mix.begin());
    const double log_depth = model.mean_log_depth + model.depth_shift[k];

    for (int64_t cell = model.first_cell[k]; cell < model.first_cell[k + 1]; ++cell) {
      Rng rng(o.seed, kCellStream, static_cast<uint64_t>(cell));
      const double u = rng.Uniform() * cumulative_mix.back();
      const int32_t type = static_cast<int32_t>(
          std::min<ptrdiff_t>(std::upper_bound(cumulative_mix.begin(), cumulative_mix.end(), u) -
                                  cumulative_mix.begin(),
                              o.cell_types - 1));
      const int64_t depth = DepthFromLog(log_depth + o.log_depth_sd * rng.Normal());
      const AliasEntry* table = &tables[type * n];
      for (int64_t i = 0; i < depth; ++i) {
        const int32_t peak = Draw(table, static_cast<uint32_t>(n), rng);
        if (counts[peak]++ == 0) open_bits[peak >> 6] |= uint64_t{1} << (peak & 63);
      }
      // The bitmap lists the open peaks in order at 1/64 of the cost of scanning the counts.
      for (size_t word = 0; word < open_bits.size(); ++word) {
        for (uint64_t bits = open_bits[word]; bits != 0; bits &= bits - 1) {
          open.push_back(static_cast<int32_t>(word * 64 + __builtin_ctzll(bits)));
        }
        open_bits[word] = 0;
      }
      barcode.clear();
      absl::StrAppend(&barcode, "cell", cell + 1, "-", k + 1);
      FLS_RETURN_IF_ERROR(writer->AddCell(open, counts, barcode, type_names[type], batch, depth));
      for (int32_t peak : open) counts[peak] = 0;
      summary.nnz += static_cast<int64_t>(open.size());
      open.clear();
      ++summary.cells;
      if (o.progress && summary.cells % kProgressEvery == 0) o.progress(summary.cells, summary.nnz);
    }
    summary.cells_per_institution.push_back(model.first_cell[k + 1] - model.first_cell[k]);
    if (o.per_institution || k + 1 == o.institutions) {
      FLS_RETURN_IF_ERROR(writer->Finish());
      writer.reset();
    }
  }
  if (o.progress) o.progress(summary.cells, summary.nnz);
  return summary;
}

}  // namespace flsailer::data
