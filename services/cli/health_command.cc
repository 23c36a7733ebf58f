// `flsailer health`: is a service up? For container HEALTHCHECKs and Kubernetes exec probes, which
// cannot present a client certificate to the services' gRPC health service themselves.
//   - a server (coordinator, aggregator): grpc.health.v1.Health/Check over mutual TLS, with the
//     container's own certificate (server certificates are also valid client identities);
//   - a client (no listening port but /metrics): an HTTP GET of its metrics URL.
// Every flag falls back to an environment variable, so an image's HEALTHCHECK can be the bare
// command and each container says what to check. Every failure, bad usage included, exits 1:
// Docker reserves a health check's exit code 2.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/credentials.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/federation_flags.h"
#include "httplib.h"

namespace flsailer::cli {
namespace {

constexpr char kUsage[] =
    "usage: flsailer health (--address HOST:PORT [--server-name NAME] | --url URL) [options]\n"
    "Exit 0 when the service answers as serving, 1 otherwise. Given either flag, the\n"
    "FLSAILER_HEALTH_* variables are ignored.\n"
    "  --address HOST:PORT  a server's gRPC port: its health service over mutual TLS\n"
    "                       (env FLSAILER_HEALTH_ADDRESS)\n"
    "  --server-name NAME   the name to verify the server's certificate against, when it is not\n"
    "                       the dialled host (e.g. the Service name, dialling 127.0.0.1)\n"
    "                       (env FLSAILER_HEALTH_SERVER_NAME)\n"
    "  --service NAME       the gRPC service to ask about (default: the whole server)\n"
    "  --tls-dir DIR        ca.crt, tls.crt and tls.key, as a Kubernetes TLS Secret mounts them\n"
    "                       (env FLSAILER_TLS_DIR); or --ca/--cert/--key PEM\n"
    "  --url URL            http://HOST:PORT/PATH answering 200 (a client's /metrics)\n"
    "                       (env FLSAILER_HEALTH_URL)\n"
    "  --timeout-ms N       per check (default 5000)\n";

// The flag's value, else the environment variable's, else "".
std::string FlagOrEnv(const Args& args, const std::string& flag, const char* env) {
  if (args.Has(flag)) return args.Get(flag);
  const char* value = std::getenv(env);
  return value == nullptr ? "" : value;
}

absl::StatusOr<rpc::CredentialsOptions> HealthCredentials(const Args& args) {
  if (args.Has("ca") || args.Has("cert") || args.Has("key")) return CredentialsFromArgs(args);
  rpc::CredentialsOptions options;
  const std::string dir = FlagOrEnv(args, "tls-dir", "FLSAILER_TLS_DIR");
  if (dir.empty()) {
    return absl::InvalidArgumentError(
        "--address needs --tls-dir (or FLSAILER_TLS_DIR) or --ca/--cert/--key");
  }
  options.ca_cert_path = absl::StrCat(dir, "/ca.crt");
  options.cert_path = absl::StrCat(dir, "/tls.crt");
  options.key_path = absl::StrCat(dir, "/tls.key");
  return options;
}

absl::Status CheckGrpc(const Args& args, const std::string& address, absl::Duration timeout) {
  FLS_ASSIGN_OR_RETURN(rpc::CredentialsOptions options, HealthCredentials(args));
  FLS_ASSIGN_OR_RETURN(auto credentials, rpc::ChannelCredentials(options));
  grpc::ChannelArguments channel_args;
  const std::string server_name = FlagOrEnv(args, "server-name", "FLSAILER_HEALTH_SERVER_NAME");
  if (!server_name.empty()) channel_args.SetSslTargetNameOverride(server_name);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(address, credentials, channel_args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(args.Get("service"));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat(address, ": health check failed: ", status.error_message()));
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        address, " is not serving (",
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckHttp(const std::string& url, absl::Duration timeout) {
  constexpr absl::string_view kScheme = "http://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("--url must start with http://: ", url));
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string host_port = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  httplib::Client client(absl::StrCat(kScheme, host_port));
  const auto micros = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(micros / 1000000, micros % 1000000);
  client.set_read_timeout(micros / 1000000, micros % 1000000);
  const httplib::Result result = client.Get(path);
  if (!result) {
    return absl::UnavailableError(absl::StrCat(url, ": ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::UnavailableError(absl::StrCat(url, " answered HTTP ", result->status));
  }
  return absl::OkStatus();
}

}  // namespace

int RunHealth(int argc, char** argv) {
  // PrintUsage's exit code 2 would mean "reserved" to Docker.
  auto usage_error = [](const absl::Status& status) {
    PrintUsage("health", status, kUsage);
    return 1;
  };
  auto args = Args::Parse(
      argc, argv, {"address", "server-name", "service", "tls-dir", "ca", "cert", "key", "url",
                   "timeout-ms"},
      {"help"});
  if (!args.ok()) return usage_error(args.status());
  if (args->Has("help")) return PrintUsage("health", absl::OkStatus(), kUsage);
  absl::StatusOr<int64_t> timeout_ms = args->GetInt("timeout-ms", 5000);
  if (!timeout_ms.ok() || *timeout_ms < 1) {
    return usage_error(absl::InvalidArgumentError("--timeout-ms must be positive"));
  }
  const absl::Duration timeout = absl::Milliseconds(*timeout_ms);
  // What to check: the flags if either is given, else the environment.
  const bool flagged = args->Has("address") || args->Has("url");
  const std::string address =
      flagged ? args->Get("address") : FlagOrEnv(*args, "address", "FLSAILER_HEALTH_ADDRESS");
  const std::string url =
      flagged ? args->Get("url") : FlagOrEnv(*args, "url", "FLSAILER_HEALTH_URL");
  if (address.empty() == url.empty()) {
    return usage_error(absl::InvalidArgumentError(
        "say what to check: --address (FLSAILER_HEALTH_ADDRESS) or --url (FLSAILER_HEALTH_URL), "
        "one of them"));
  }
  const absl::Status status =
      address.empty() ? CheckHttp(url, timeout) : CheckGrpc(*args, address, timeout);
  if (!status.ok()) return PrintError("health", status);
  std::printf("%s: serving\n", address.empty() ? url.c_str() : address.c_str());
  return 0;
}

}  // namespace flsailer::cli
