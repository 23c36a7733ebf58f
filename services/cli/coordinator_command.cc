// `flsailer coordinator`: serves the federation (gRPC over mutual TLS) until SIGTERM.
#include "absl/strings/str_cat.h"
#include "libs/telemetry/log.h"
#include "libs/telemetry/shutdown.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/federation_flags.h"
#include "services/coordinator/server.h"

namespace flsailer::cli {

int RunCoordinator(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer coordinator --state-dir DIR --ca PEM --cert PEM --key PEM [flags]\n"
      "Runs the coordinator: jobs, the FL-Sailer schedule, the admin API. Stops on SIGTERM.\n"
      "  --listen ADDR       gRPC address (default 0.0.0.0:7443)\n"
      "  --state-dir DIR     job state\n"
      "  --metrics-listen ADDR   Prometheus /metrics (e.g. 0.0.0.0:9464; default none)\n"
      "  --rest-listen ADDR  the admin API as HTTPS/JSON, same certificates (e.g. 0.0.0.0:7444;\n"
      "                      default none)\n"
      "  --aggregator HOST:PORT   the secure-aggregation service (flsailer aggregator) every\n"
      "                      job's sums go through; clients dial the same address\n"
      "  --allow-insecure-plain-aggregation   let jobs that ask for it sum in the clear\n",
      kTlsFlagsHelp);
  std::set<std::string> flags = TlsFlagNames();
  flags.insert({"listen", "state-dir", "metrics-listen", "rest-listen", "aggregator"});
  auto args = Args::Parse(argc, argv, flags,
                          {"help", "insecure-plaintext-dev", "allow-insecure-plain-aggregation"});
  if (!args.ok()) return PrintUsage("coordinator", args.status(), usage);
  if (args->Has("help")) return PrintUsage("coordinator", absl::OkStatus(), usage);
  coordinator::CoordinatorOptions options;
  options.listen = args->Get("listen", options.listen);
  auto state_dir = args->Required("state-dir");
  auto credentials = CredentialsFromArgs(*args);
  if (!state_dir.ok()) return PrintUsage("coordinator", state_dir.status(), usage);
  if (!credentials.ok()) return PrintUsage("coordinator", credentials.status(), usage);
  options.registry.state_dir = *state_dir;
  options.registry.allow_insecure_plain_aggregation =
      args->Has("allow-insecure-plain-aggregation");
  options.credentials = *credentials;
  options.metrics_listen = args->Get("metrics-listen");
  options.rest_listen = args->Get("rest-listen");
  options.aggregator = args->Get("aggregator");
  if (options.aggregator.empty() && !options.registry.allow_insecure_plain_aggregation) {
    return PrintUsage("coordinator",
                      absl::InvalidArgumentError("give --aggregator HOST:PORT (secure "
                                                 "aggregation) or, for development only, "
                                                 "--allow-insecure-plain-aggregation"),
                      usage);
  }

  telemetry::ConfigureLogging({"coordinator"});
  auto stop = telemetry::ShutdownSignal::Install();
  if (!stop.ok()) return PrintError("coordinator", stop.status());
  auto server = coordinator::CoordinatorServer::Start(options);
  if (!server.ok()) return PrintError("coordinator", server.status());
  telemetry::Log(telemetry::Level::kInfo, "listening",
                 {{"port", (*server)->port()}, {"metrics_port", (*server)->metrics_port()},
                  {"rest_port", (*server)->rest_port()},
                  {"state_dir", options.registry.state_dir}});
  (*stop)->WaitThenShutDown([&] { (*server)->Shutdown(); });
  return 0;
}

}  // namespace flsailer::cli
