// `flsailer aggregator`: serves secure aggregation (gRPC over mutual TLS) until SIGTERM.
#include "absl/strings/str_cat.h"
#include "libs/telemetry/log.h"
#include "libs/telemetry/shutdown.h"
#include "services/aggregator/server.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/federation_flags.h"

namespace flsailer::cli {

int RunAggregator(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer aggregator --ca PEM --cert PEM --key PEM [flags]\n"
      "Runs the secure-aggregation service (SecAgg+): institutions mask their sums with it and\n"
      "the coordinator receives only the totals. Stops on SIGTERM.\n"
      "  --listen ADDR       gRPC address (default 0.0.0.0:7445)\n"
      "  --coordinator-id ID the server identity allowed to open rounds (default coordinator)\n"
      "  --metrics-listen ADDR   Prometheus /metrics (e.g. 0.0.0.0:9465; default none)\n",
      kTlsFlagsHelp);
  std::set<std::string> flags = TlsFlagNames();
  flags.insert({"listen", "coordinator-id", "metrics-listen"});
  auto args = Args::Parse(argc, argv, flags, {"help", "insecure-plaintext-dev"});
  if (!args.ok()) return PrintUsage("aggregator", args.status(), usage);
  if (args->Has("help")) return PrintUsage("aggregator", absl::OkStatus(), usage);
  auto credentials = CredentialsFromArgs(*args);
  if (!credentials.ok()) return PrintUsage("aggregator", credentials.status(), usage);
  aggregator::AggregatorOptions options;
  options.listen = args->Get("listen", options.listen);
  options.coordinator_id = args->Get("coordinator-id", options.coordinator_id);
  options.metrics_listen = args->Get("metrics-listen");
  options.credentials = *credentials;

  telemetry::ConfigureLogging({"aggregator"});
  auto stop = telemetry::ShutdownSignal::Install();
  if (!stop.ok()) return PrintError("aggregator", stop.status());
  auto server = aggregator::AggregatorServer::Start(options);
  if (!server.ok()) return PrintError("aggregator", server.status());
  telemetry::Log(telemetry::Level::kInfo, "listening",
                 {{"port", (*server)->port()}, {"metrics_port", (*server)->metrics_port()}});
  (*stop)->WaitThenShutDown([&] { (*server)->Shutdown(); });
  return 0;
}

}  // namespace flsailer::cli
