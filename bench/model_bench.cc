// Invariant VAE benchmark: prints figures, not a Google Benchmark suite.
//
//   model_bench                  all figures below
//   model_bench --data DIR       also trains on a real dataset folder (default: granja2019_bmmc
//                                under ../shared/data, when present)
//
// 1. The sparse first encoder layer against a dense one: forward + backward (full weight
//    gradient) of a B = 100 minibatch at 3% density, p = 20,000 peaks, 1,000 hidden units.
// 2. Training throughput, cells/s per epoch (median over epochs), at SAILER's model size
//    (p -> 1000 -> 100 -> 10, decoder 10+1 -> 100 -> 1000 -> p), batch 100, at 5,000, 20,000 and
//    200,000 peaks (synthetic, 3% density) and 1 and 2 threads, with the peak resident memory of
//    each run; on the real dataset also with the project's default (smaller) network. SAILER's
//    size is also run with bfloat16 output-layer products (TrainOptions::bf16_output_products).
//    Each run is a fresh process (this binary re-executed with --run) so that its peak memory is
//    its own.
//    Anchor: SAILER's PyTorch code trains ~850 cells/s on one thread at 5,000 peaks
//    (granja2019_bmmc, batch 100).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/dataset.h"
#include "libs/model/invariant_vae.h"

namespace flsailer {
namespace {

data::CsrMatrix RandomBinary(int64_t rows, int32_t cols, double density, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  data::CsrBuilder b(cols, /*binary=*/true,
                     static_cast<int64_t>(static_cast<double>(rows) * cols * density * 1.1));
  // Per-peak rates vary (heavy-tailed like real peaks) around the target density.
  std::vector<double> rate(cols);
  std::lognormal_distribution<double> ln(0, 1);
  double mean = 0;
  for (double& r : rate) mean += (r = ln(rng)) / cols;
  for (double& r : rate) r = std::min(1.0, r * density / mean);
  for (int64_t i = 0; i < rows; ++i) {
    for (int32_t j = 0; j < cols; ++j) {
      if (u(rng) < rate[j]) b.Add(j, 1);
    }
    b.FinishRow();
  }
  return std::move(b).Finish();
}

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The network a row trains: the project's defaults, or SAILER's (encoder 1000/100, latent 10,
// decoder 100/1000, no input dropout; the size the anchor was measured at), in float32 or with
// bfloat16 output-layer products.
enum class Network { kDefault = 0, kSailer = 1, kSailerBf16 = 2 };

const char* NetworkName(Network network) {
  switch (network) {
    case Network::kDefault: return "default";
    case Network::kSailer: return "SAILER";
    case Network::kSailerBf16: return "SAILER bf16";
  }
  return "?";
}

// Trains `epochs` epochs and prints one table row. Returns false on error.
bool TrainRow(const std::string& label, const data::CsrMatrix& x, int32_t threads,
              int32_t epochs, Network network) {
  model::VaeConfig config;
  config.input_dim = static_cast<int32_t>(x.cols);
  model::TrainOptions options;
  if (network != Network::kDefault) {
    config.encoder_hidden = {1000, 100};
    config.decoder_hidden = {100, 1000};
    config.latent_dim = 10;
    config.pos_weight = 30;
    config.mi_bound = model::MiBound::kPairwiseKl;
    options.input_dropout = 0;
  }
  absl::StatusOr<std::unique_ptr<model::InvariantVae>> vae = model::InvariantVae::Create(config, 1);
  if (!vae.ok()) {
    std::fprintf(stderr, "%s\n", vae.status().ToString().c_str());
    return false;
  }
  model::Covariates cov;
  cov.log_depth = model::StandardisedLogDepth(x.RowSums());
  options.epochs = epochs;
  options.threads = threads;
  options.bf16_output_products = network == Network::kSailerBf16;
  std::vector<double> epoch_seconds;
  auto last = std::chrono::steady_clock::now();
  options.on_epoch = [&](int32_t, int32_t, double) {
    const auto now = std::chrono::steady_clock::now();
    epoch_seconds.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  };
  absl::StatusOr<model::TrainReport> report = (*vae)->Train(x, cov, options);
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
    return false;
  }
  std::printf("%-24s %-12s %8lld %8lld %7d %10.0f %12.0f\n", label.c_str(),
              NetworkName(network),
              static_cast<long long>(x.cols), static_cast<long long>(x.rows), threads,
              static_cast<double>(x.rows) / Median(epoch_seconds), PeakRssMiB());
  std::fflush(stdout);
  return true;
}

// One synthetic training configuration, in this (child) process.
int RunOne(int32_t peaks, int32_t threads, Network network) {
  // Fewer cells for wider models keeps each run to tens of seconds; cells/s is per epoch.
  const int64_t cells = peaks >= 100000 ? 500 : peaks >= 20000 ? 1000 : 2000;
  const int32_t epochs = peaks >= 100000 ? 3 : 5;
  const data::CsrMatrix x = RandomBinary(cells, peaks, 0.03, 7);
  return TrainRow("synthetic 3%", x, threads, epochs, network) ? 0 : 1;
}

int RunData(const std::string& path, int32_t threads, Network network) {
  absl::StatusOr<data::Dataset> ds = data::LoadDataset(path);
  if (!ds.ok()) {
    std::fprintf(stderr, "%s\n", ds.status().ToString().c_str());
    return 1;
  }
  const std::string name = path.substr(path.find_last_of('/') + 1);
  return TrainRow(name, ds->matrix.Binarized(), threads, 10, network) ? 0 : 1;
}

int Main(int argc, char** argv) {
  std::string data_path = "../shared/data/granja2019_bmmc";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const int network = i + 3 < argc ? std::atoi(argv[i + 3]) : -1;
    const bool network_ok = network >= 0 && network <= static_cast<int>(Network::kSailerBf16);
    if (arg == "--run" && network_ok) {
      return RunOne(std::atoi(argv[i + 1]), std::atoi(argv[i + 2]), static_cast<Network>(network));
    }
    if (arg == "--run-data" && network_ok) {
      return RunData(argv[i + 1], std::atoi(argv[i + 2]), static_cast<Network>(network));
    }
    if (arg == "--data" && i + 1 < argc) {
      data_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: model_bench [--data DIR]\n");
      return 2;
    }
  }

  // 1. First layer, sparse vs dense.
  const int32_t p = 20000, hidden = 1000;
  const data::CsrMatrix minibatch = RandomBinary(100, p, 0.03, 3);
  std::printf("first encoder layer, forward + backward: B=100, p=%d, hidden=%d, density %.1f%%\n",
              p, hidden, 100 * minibatch.density());
  for (int32_t threads : {1, 2}) {
    absl::StatusOr<model::FirstLayerTiming> t =
        model::TimeFirstLayer(minibatch, hidden, 15, threads);
    if (!t.ok()) {
      std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
      return 1;
    }
    std::printf("  threads %d: sparse %.2f ms, dense %.2f ms, speed-up %.1fx (max diff %.1e)\n",
                threads, 1e3 * t->sparse_seconds, 1e3 * t->dense_seconds,
                t->dense_seconds / t->sparse_seconds, t->max_difference);
  }

  // 2. Training throughput, each run in a fresh process.
  std::printf("\ntraining throughput (batch 100, median epoch; SAILER anchor ~850 cells/s at "
              "5,000 peaks, 1 thread)\n");
  std::printf("%-24s %-12s %8s %8s %7s %10s %12s\n", "data", "model", "peaks", "cells", "threads",
              "cells/s", "peak RSS MiB");
  std::fflush(stdout);
  int failures = 0;
  char self_buffer[4096];
  const ssize_t len = readlink("/proc/self/exe", self_buffer, sizeof(self_buffer) - 1);
  if (len <= 0) {
    std::fprintf(stderr, "cannot resolve /proc/self/exe\n");
    return 1;
  }
  const std::string self(self_buffer, static_cast<size_t>(len));
  if (access(data_path.c_str(), R_OK) == 0) {
    for (Network network : {Network::kSailer, Network::kSailerBf16, Network::kDefault}) {
      for (int32_t threads : {1, 2}) {
        failures += std::system(absl::StrCat(self, " --run-data '", data_path, "' ", threads, " ",
                                             static_cast<int>(network)).c_str()) != 0;
      }
    }
  }
  for (int32_t peaks : {5000, 20000, 200000}) {
    for (Network network : {Network::kSailer, Network::kSailerBf16}) {
      for (int32_t threads : {1, 2}) {
        failures += std::system(absl::StrCat(self, " --run ", peaks, " ", threads, " ",
                                             static_cast<int>(network)).c_str()) != 0;
      }
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace flsailer

int main(int argc, char** argv) { return flsailer::Main(argc, argv); }
