// flsailer: the command-line front end (data inspection, simulation; later training, the
// federation's services and PKI).
#include <cstdio>
#include <cstring>

#include "services/cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

constexpr Command kCommands[] = {
    {"aggregator", flsailer::cli::RunAggregator,
     "--ca/--cert/--key PEM                     serve secure aggregation (SecAgg+, mutual TLS)"},
    {"client", flsailer::cli::RunClient,
     "--coordinator H:P --job ID --input PATH   take part in a federated job as an institution"},
    {"convert", flsailer::cli::RunConvert,
     "INPUT --out OUT.h5ad                      convert any supported input to AnnData"},
    {"coordinator", flsailer::cli::RunCoordinator,
     "--state-dir DIR --ca/--cert/--key PEM      serve the federation (gRPC, mutual TLS)"},
    {"demo", flsailer::cli::RunDemo,
     "--input PATH --batch-col COL --out DIR    a whole federation on this machine, reported"},
    {"embed", flsailer::cli::RunEmbed,
     "--model DIR --input PATH --out DIR        embed new cells with a trained model"},
    {"evaluate", flsailer::cli::RunEvaluate,
     "--embedding TSV --metadata TSV --out DIR   metrics and a picture of an embedding"},
    {"health", flsailer::cli::RunHealth,
     "--address H:P --tls-dir DIR | --url URL   is a service up? (container health checks)"},
    {"inspect", flsailer::cli::RunInspect,
     "PATH [--metadata TSV] [--reference BED]   summarise a dataset (any supported format)"},
    {"job", flsailer::cli::RunJob,
     "submit|list|get|rounds|wait|cancel|download   the coordinator's admin API"},
    {"lsi", flsailer::cli::RunLsi,
     "--input PATH --out DIR                    LSI baseline embedding, evaluated"},
    {"pki", flsailer::cli::RunPki,
     "init|issue --dir DIR ...                  the federation CA and its certificates"},
    {"select-features", flsailer::cli::RunSelectFeatures,
     "--input PATH --out DIR [--rate 0.2]       keep the peaks of highest leverage (BED)"},
    {"simulate", flsailer::cli::RunSimulate,
     "--out DIR [--cells N --peaks P ...]       write synthetic scATAC-seq with batch effects"},
    {"split", flsailer::cli::RunSplit,
     "--input PATH --by COLUMN --out DIR        one .h5ad per value of a column (institutions)"},
    {"train", flsailer::cli::RunTrain,
     "--input PATH --out DIR                    train the invariant VAE, evaluated"},
};

void Usage() {
  std::fprintf(stderr, "usage: flsailer <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(stderr, "  %-15s %s\n", c.name, c.help);
  std::fprintf(stderr, "\n'flsailer <command> --help' describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 2, argv + 2);
  }
  std::fprintf(stderr, "flsailer: unknown command '%s'\n\n", argv[1]);
  Usage();
  return 2;
}
