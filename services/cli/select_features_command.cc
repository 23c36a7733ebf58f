// `flsailer select-features --input PATH --out DIR`: FL-Sailer's leverage-score peak selection
// run centrally (the federated code path with one institution), or a baseline selection at the
// same rate, written as a BED of the kept peaks with a summary.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/dataset.h"
#include "libs/sampling/feature_selector.h"
#include "libs/sampling/selection_bed.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/load_flags.h"
#include "services/cli/quantiles.h"

namespace flsailer::cli {
namespace {

struct Settings {
  std::string input;
  std::string out_dir;
  std::string method;    // leverage | random | accessible
  std::string sampling;  // top | sample
  sampling::FeatureSelectorOptions selector;
  int threads = 1;
};

absl::StatusOr<Settings> SettingsFromArgs(const Args& args) {
  Settings s;
  FLS_ASSIGN_OR_RETURN(s.input, args.Required("input"));
  FLS_ASSIGN_OR_RETURN(s.out_dir, args.Required("out"));
  s.method = args.Get("method", "leverage");
  if (s.method != "leverage" && s.method != "random" && s.method != "accessible") {
    return absl::InvalidArgumentError("--method: expected leverage, random or accessible");
  }
  s.sampling = args.Get("sampling", s.method == "random" ? "sample" : "top");
  if (s.sampling != "top" && s.sampling != "sample") {
    return absl::InvalidArgumentError("--sampling: expected top or sample");
  }
  if (s.method == "random" && s.sampling != "sample") {
    return absl::InvalidArgumentError("--method random is a uniform sample; --sampling top "
                                      "would keep the first peaks of the file");
  }
  FLS_ASSIGN_OR_RETURN(const double rate, args.GetDouble("rate", 0.2));
  FLS_ASSIGN_OR_RETURN(const int64_t rank, args.GetInt("rank", 30));
  FLS_ASSIGN_OR_RETURN(const int64_t seed, args.GetInt("seed", 0));
  FLS_ASSIGN_OR_RETURN(const int64_t threads, args.GetInt("threads", 1));
  if (!(rate > 0 && rate <= 1)) return absl::InvalidArgumentError("--rate must be in (0, 1]");
  if (rank < 1 || rank > 10000) return absl::InvalidArgumentError("--rank must be in [1, 10000]");
  if (seed < 0) return absl::InvalidArgumentError("--seed must be a non-negative integer");
  if (threads < 1 || threads > 1024) {
    return absl::InvalidArgumentError("--threads must be in [1, 1024]");
  }
  s.selector.subspace.rank = static_cast<int32_t>(rank);
  s.selector.rank_at_most_data = !args.Has("rank");  // a default rank yields to small data
  s.selector.subspace.seed = static_cast<uint64_t>(seed);
  s.selector.selection.rate = rate;
  s.selector.selection.seed = static_cast<uint64_t>(seed);
  s.selector.selection.method =
      s.sampling == "top" ? sampling::SelectionMethod::kTop : sampling::SelectionMethod::kSample;
  s.threads = static_cast<int>(threads);
  return s;
}

struct Selection {
  std::vector<double> scores;  // per peak; what the BED's score columns hold
  std::vector<int32_t> kept;   // ascending
  std::vector<double> singular_values;  // leverage only; as many as the rank used
};

// Scores every peak by the chosen method and keeps the selection's share of them.
absl::StatusOr<Selection> Select(const data::CsrMatrix& x, const Settings& s) {
  const sampling::TfIdfSums sums = sampling::LocalTfIdfSums(x);
  Selection out;
  if (s.method == "leverage") {
    FLS_ASSIGN_OR_RETURN(sampling::FeatureSelection selection,
                         sampling::SelectCentrally(x, s.selector, s.threads));
    out.scores = std::move(selection.scores);
    out.kept = std::move(selection.peaks);
    out.singular_values = std::move(selection.singular_values);
    return out;
  }
  if (sums.cells == 0) return absl::InvalidArgumentError("no cells");
  out.scores.resize(sums.document_frequency.size());
  for (size_t j = 0; j < out.scores.size(); ++j) {
    // accessible: the fraction of cells with the peak open; random: all peaks alike.
    out.scores[j] = s.method == "accessible"
                        ? sums.document_frequency[j] / static_cast<double>(sums.cells)
                        : 1.0 / static_cast<double>(out.scores.size());
  }
  FLS_ASSIGN_OR_RETURN(out.kept, sampling::SelectPeaks(out.scores, s.selector.selection));
  return out;
}

// What the kept peaks retain of the data.
struct Retained {
  double counts = 0;          // fraction of all counts
  double nonzeros = 0;        // fraction of all non-zero entries
  double cell_depth_median = 0;  // median over cells of the fraction of the cell's counts
  int64_t empty_cells = 0;    // cells with counts but none on a kept peak
};

Retained Measure(const data::CsrMatrix& x, const std::vector<int32_t>& kept) {
  std::vector<char> is_kept(static_cast<size_t>(x.cols), 0);
  for (int32_t j : kept) is_kept[j] = 1;
  Retained r;
  double total = 0, kept_total = 0;
  int64_t kept_nnz = 0;
  std::vector<double> per_cell;
  per_cell.reserve(static_cast<size_t>(x.rows));
  for (int64_t row = 0; row < x.rows; ++row) {
    double depth = 0, kept_depth = 0;
    for (int64_t k = x.indptr[row]; k < x.indptr[row + 1]; ++k) {
      depth += x.value(k);
      if (is_kept[x.indices[k]]) {
        kept_depth += x.value(k);
        ++kept_nnz;
      }
    }
    total += depth;
    kept_total += kept_depth;
    if (depth > 0) {
      per_cell.push_back(kept_depth / depth);
      if (kept_depth == 0) ++r.empty_cells;
    }
  }
  r.counts = total > 0 ? kept_total / total : 0;
  r.nonzeros = x.nnz() > 0 ? static_cast<double>(kept_nnz) / x.nnz() : 0;
  r.cell_depth_median = Summarise(std::move(per_cell)).median;
  return r;
}

std::string JsonFiveNumbers(const FiveNumbers& q) {
  return absl::StrCat("{\"min\": ", q.min, ", \"q25\": ", q.q25, ", \"median\": ", q.median,
                      ", \"q75\": ", q.q75, ", \"max\": ", q.max, "}");
}

void PrintFiveNumbers(const char* what, const FiveNumbers& q) {
  std::printf("%-26s min %.3g  q25 %.3g  median %.3g  q75 %.3g  max %.3g\n", what, q.min, q.q25,
              q.median, q.q75, q.max);
}

absl::Status WriteOutputs(const Settings& s, const data::Dataset& ds, const Selection& sel,
                          double seconds) {
  FLS_RETURN_IF_ERROR(MakeDirectories(s.out_dir));
  const std::string description = absl::StrCat(
      "flsailer select-features: method ", s.method, " (", s.sampling, "), rate ",
      s.selector.selection.rate, s.method == "leverage"
                                     ? absl::StrCat(", rank ", sel.singular_values.size())
                                     : std::string(),
      ", seed ", s.selector.selection.seed, "; ", sel.kept.size(), " of ", ds.peaks.size(),
      " peaks of ", ds.source);
  FLS_RETURN_IF_ERROR(sampling::WriteSelectionBed(s.out_dir + "/selected_peaks.bed", ds.peaks,
                                                  sel.scores, sel.kept, description));
  std::vector<double> kept_scores;
  for (int32_t j : sel.kept) kept_scores.push_back(sel.scores[j]);
  const FiveNumbers all = Summarise(sel.scores), kept = Summarise(kept_scores);
  const Retained retained = Measure(ds.matrix, sel.kept);

  std::string singular = "[";
  for (size_t i = 0; i < sel.singular_values.size(); ++i) {
    absl::StrAppend(&singular, i ? ", " : "", sel.singular_values[i]);
  }
  singular += "]";
  const std::string json = absl::StrCat(
      "{\"method\": \"", s.method, "\", \"sampling\": \"", s.sampling,
      "\", \"rate\": ", s.selector.selection.rate, ", \"rank\": ", sel.singular_values.size(),
      ", \"seed\": ", s.selector.selection.seed, ", \"cells\": ", ds.matrix.rows,
      ", \"peaks\": ", ds.matrix.cols, ", \"peaks_kept\": ", sel.kept.size(),
      ", \"fraction_of_counts_kept\": ", retained.counts,
      ", \"fraction_of_nonzeros_kept\": ", retained.nonzeros,
      ", \"median_cell_fraction_of_depth_kept\": ", retained.cell_depth_median,
      ", \"cells_without_kept_peaks\": ", retained.empty_cells,
      ", \"score_quantiles_all\": ", JsonFiveNumbers(all),
      ", \"score_quantiles_kept\": ", JsonFiveNumbers(kept), ", \"singular_values\": ", singular,
      ", \"seconds\": ", seconds, "}\n");
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(s.out_dir + "/summary.json"));
  FLS_RETURN_IF_ERROR(out->Write(json));
  FLS_RETURN_IF_ERROR(out->Close());

  std::printf("method                     %s (%s)\n", s.method.c_str(), s.sampling.c_str());
  std::printf("peaks kept                 %zu of %lld (%.1f%%)\n", sel.kept.size(),
              static_cast<long long>(ds.matrix.cols), 100.0 * sel.kept.size() / ds.matrix.cols);
  PrintFiveNumbers("scores, all peaks", all);
  PrintFiveNumbers("scores, kept peaks", kept);
  std::printf("counts kept                %.1f%%\n", 100 * retained.counts);
  std::printf("non-zeros kept             %.1f%%\n", 100 * retained.nonzeros);
  std::printf("depth kept, median cell    %.1f%%\n", 100 * retained.cell_depth_median);
  std::printf("cells left without a peak  %lld\n", static_cast<long long>(retained.empty_cells));
  std::printf("seconds                    %.2f\n", seconds);
  std::printf("wrote                      %s/selected_peaks.bed, %s/summary.json\n",
              s.out_dir.c_str(), s.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace

int RunSelectFeatures(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer select-features --input PATH --out DIR [flags]\n"
      "Keeps a fraction of the peaks: by leverage in the top-k right singular subspace of the\n"
      "TF-IDF matrix (FL-Sailer's selection, computed centrally), or a baseline at the same rate.\n"
      "Writes DIR/selected_peaks.bed (chrom, start, end, name, score 0-1000, strand, exact score,\n"
      "rank; usable as --reference) and DIR/summary.json, and prints a summary.\n"
      "  --input PATH        10x folder, .h5, .h5ad or fragments (with --reference)\n"
      "  --rate R            fraction of peaks kept (default 0.2)\n"
      "  --rank K            singular vectors the leverage is measured in (default 30, or the\n"
      "                      rank of the data when lower: fewer cells, empty or repeated ones)\n"
      "  --method M          leverage (default), random (uniform), accessible (most open)\n"
      "  --sampling top|sample   the highest scores (default), or sampled without replacement\n"
      "                      proportionally to score (random: always sample)\n"
      "  --seed N            random seed (default 0)\n"
      "  --threads N         threads (default 1)\n",
      kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert({"input", "out", "rate", "rank", "method", "sampling", "seed", "threads"});
  auto args = Args::Parse(argc, argv, flags, {"help"});
  if (!args.ok()) return PrintUsage("select-features", args.status(), usage);
  if (args->Has("help")) return PrintUsage("select-features", absl::OkStatus(), usage);
  if (!args->positional().empty()) {
    return PrintUsage("select-features", absl::InvalidArgumentError("unexpected arguments"),
                      usage);
  }
  auto settings = SettingsFromArgs(*args);
  if (!settings.ok()) return PrintUsage("select-features", settings.status(), usage);

  auto ds = LoadInputFromArgs(*args);
  if (!ds.ok()) return PrintError("select-features", ds.status());
  const auto start = std::chrono::steady_clock::now();
  auto selection = Select(ds->matrix, *settings);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!selection.ok()) return PrintError("select-features", selection.status());
  absl::Status written = WriteOutputs(*settings, *ds, *selection, seconds);
  return written.ok() ? 0 : PrintError("select-features", written);
}

}  // namespace flsailer::cli
