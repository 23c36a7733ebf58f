// `flsailer simulate --out DIR`: synthetic scATAC-seq with known cell types and batch effects.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/data/simulate.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"

namespace flsailer::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kProgressSeconds = 3;

void PrintUsage() {
  const data::SimulationOptions d;
  std::fprintf(
      stderr,
      "usage: flsailer simulate --out DIR [options]\n"
      "Writes a 10x folder (matrix.mtx.gz peaks x cells, peaks.bed, barcodes.tsv,\n"
      "cell_metadata.tsv with cell_type, batch, depth) and the ground truth (truth_peaks.tsv,\n"
      "truth_institutions.tsv) to DIR. The generative model is described in libs/data/simulate.h.\n"
      "  --cells N                    cells over all institutions (%lld)\n"
      "  --peaks P                    peaks (%d)\n"
      "  --cell-types T               cell types (%d)\n"
      "  --institutions K             institutions (batches) (%d)\n"
      "  --seed S                     random seed; same seed, same files (%llu)\n"
      "  --density D                  expected fraction of open peaks per cell (%g)\n"
      "  --log-depth-sd X             sd of log depth within an institution (%g)\n"
      "  --type-specific-fraction F   fraction of peaks specific to each cell type (%g)\n"
      "  --type-specific-boost B      their accessibility gain in their type (%g)\n"
      "  --depth-shift-sd X           sd of the institutions' mean log depth (%g)\n"
      "  --distortion-sd X            sd of the institutions' log peak-wise distortion (%g)\n"
      "  --noise-peak-fraction F      fraction of peaks that are noise of each institution (%g)\n"
      "  --noise-peak-boost B         their accessibility gain in their institution (%g)\n"
      "  --mix-concentration A        Dirichlet concentration of the cell-type mixes (%g)\n"
      "  --per-institution            one folder per institution: DIR/institution_<k>/\n"
      "  --plain                      matrix.mtx instead of matrix.mtx.gz\n",
      static_cast<long long>(d.cells), d.peaks, d.cell_types, d.institutions,
      static_cast<unsigned long long>(d.seed), d.density, d.log_depth_sd, d.type_specific_fraction,
      d.type_specific_boost, d.depth_shift_sd, d.distortion_sd, d.noise_peak_fraction,
      d.noise_peak_boost, d.mix_concentration);
}

// Reads the flags into `o`; range checks beyond the integer types are Simulate's.
absl::Status ParseOptions(const Args& args, data::SimulationOptions* o) {
  auto int32_flag = [&](const char* name, int32_t* out) -> absl::Status {
    auto v = args.GetInt(name, *out);
    if (!v.ok()) return v.status();
    if (*v < INT32_MIN || *v > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", *v, " is out of range"));
    }
    *out = static_cast<int32_t>(*v);
    return absl::OkStatus();
  };
  auto double_flag = [&](const char* name, double* out) -> absl::Status {
    auto v = args.GetDouble(name, *out);
    if (!v.ok()) return v.status();
    *out = *v;
    return absl::OkStatus();
  };
  auto cells = args.GetInt("cells", o->cells);
  if (!cells.ok()) return cells.status();
  o->cells = *cells;
  auto seed = args.GetInt("seed", static_cast<int64_t>(o->seed));
  if (!seed.ok()) return seed.status();
  if (*seed < 0) return absl::InvalidArgumentError("--seed must be a non-negative integer");
  o->seed = static_cast<uint64_t>(*seed);
  for (auto [name, field] : {std::pair{"peaks", &o->peaks}, std::pair{"cell-types", &o->cell_types},
                             std::pair{"institutions", &o->institutions}}) {
    if (absl::Status s = int32_flag(name, field); !s.ok()) return s;
  }
  for (auto [name, field] :
       {std::pair{"density", &o->density}, std::pair{"log-depth-sd", &o->log_depth_sd},
        std::pair{"type-specific-fraction", &o->type_specific_fraction},
        std::pair{"type-specific-boost", &o->type_specific_boost},
        std::pair{"depth-shift-sd", &o->depth_shift_sd},
        std::pair{"distortion-sd", &o->distortion_sd},
        std::pair{"noise-peak-fraction", &o->noise_peak_fraction},
        std::pair{"noise-peak-boost", &o->noise_peak_boost},
        std::pair{"mix-concentration", &o->mix_concentration}}) {
    if (absl::Status s = double_flag(name, field); !s.ok()) return s;
  }
  o->per_institution = args.Has("per-institution");
  o->gzip = !args.Has("plain");
  return absl::OkStatus();
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  auto args = Args::Parse(
      argc, argv,
      {"out", "cells", "peaks", "cell-types", "institutions", "seed", "density", "log-depth-sd",
       "type-specific-fraction", "type-specific-boost", "depth-shift-sd", "distortion-sd",
       "noise-peak-fraction", "noise-peak-boost", "mix-concentration"},
      {"per-institution", "plain", "help"});
  if (!args.ok() || args->Has("help") || !args->positional().empty()) {
    if (!args.ok()) {
      std::fprintf(stderr, "flsailer simulate: %s\n", std::string(args.status().message()).c_str());
    }
    if (args.ok() && !args->positional().empty()) {
      std::fprintf(stderr, "flsailer simulate: unexpected argument '%s'\n",
                   args->positional()[0].c_str());
    }
    PrintUsage();
    return args.ok() && args->Has("help") ? 0 : 2;
  }
  data::SimulationOptions options;
  auto out = args->Required("out");
  absl::Status parsed = out.ok() ? ParseOptions(*args, &options) : out.status();
  if (!parsed.ok()) {
    std::fprintf(stderr, "flsailer simulate: %s\n", std::string(parsed.message()).c_str());
    PrintUsage();
    return 2;
  }

  const Clock::time_point start = Clock::now();
  Clock::time_point last_report = start;
  options.progress = [&](int64_t cells, int64_t nnz) {
    const Clock::time_point now = Clock::now();
    if (now - last_report < std::chrono::duration<double>(kProgressSeconds)) return;
    last_report = now;
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const double rate = cells / elapsed;
    std::fprintf(
        stderr, "simulate: %lld/%lld cells (%.1f%%), %.0f cells/s, %.2g non-zeros/s, ETA %.0f s\n",
        static_cast<long long>(cells), static_cast<long long>(options.cells),
        100.0 * cells / options.cells, rate, nnz / elapsed, (options.cells - cells) / rate);
  };
  auto summary = data::Simulate(options, *out);
  if (!summary.ok()) {
    std::fprintf(stderr, "flsailer simulate: %s\n",
                 std::string(summary.status().message()).c_str());
    return summary.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("cells                  %lld\n", static_cast<long long>(summary->cells));
  std::printf("peaks                  %d\n", options.peaks);
  std::printf("non-zeros              %lld\n", static_cast<long long>(summary->nnz));
  std::printf("density                %.4f%%\n",
              100.0 * summary->nnz / (static_cast<double>(summary->cells) * options.peaks));
  std::printf("time                   %.2f s (%.3g non-zeros/s)\n", elapsed,
              summary->nnz / std::max(elapsed, 1e-9));
  for (const std::string& folder : summary->folders) {
    std::printf("folder                 %s\n", folder.c_str());
  }
  std::printf("ground truth           %s/truth_peaks.tsv, %s/truth_institutions.tsv\n",
              out->c_str(), out->c_str());
  return 0;
}

}  // namespace flsailer::cli
