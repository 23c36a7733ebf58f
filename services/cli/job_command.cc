// `flsailer job ...`: the coordinator's admin API from the command line (an admin certificate).
// Responses print as JSON, protobuf's mapping of the same messages the REST endpoint serves.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "flsailer/v1/coordinator.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/rpc/tensor_stream.h"
#include "services/cli/admin_client.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/federation_flags.h"

namespace flsailer::cli {
namespace {

constexpr char kUsage[] =
    "usage: flsailer job <action> --coordinator HOST:PORT --ca PEM --cert PEM --key PEM ...\n"
    "Actions (an admin certificate is required):\n"
    "  submit --reference BED --institutions A,B,... [--rounds N] [--local-epochs N]\n"
    "         [--min-clients N] [--rate R] [--refresh-every R] [--clusters K] [--seed N]\n"
    "         [--optimizer fedavg|fedprox|fedadam] [--timeout S] [--name NAME]\n"
    "         [--insecure-plain-aggregation]                  prints the new job\n"
    "  list | get --id JOB | rounds --id JOB | cancel --id JOB [--reason TEXT]\n"
    "  wait --id JOB          polls until the job ends; exit 0 when it finished\n"
    "  download --id JOB --artifact model|selected_peaks.bed --out FILE\n";

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::StatusOr<v1::JobSpec> SpecFromArgs(const Args& args) {
  v1::JobSpec spec;
  spec.set_name(args.Get("name", "flsailer-job"));
  for (absl::string_view id :
       absl::StrSplit(args.Get("institutions"), ',', absl::SkipWhitespace())) {
    spec.add_institutions()->set_value(std::string(id));
  }
  FLS_ASSIGN_OR_RETURN(int64_t rounds, args.GetInt("rounds", 20));
  FLS_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("local-epochs", 5));
  FLS_ASSIGN_OR_RETURN(int64_t min_clients, args.GetInt("min-clients", 1));
  FLS_ASSIGN_OR_RETURN(int64_t refresh, args.GetInt("refresh-every", 0));
  FLS_ASSIGN_OR_RETURN(int64_t clusters, args.GetInt("clusters", 0));
  FLS_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 1));
  FLS_ASSIGN_OR_RETURN(int64_t timeout, args.GetInt("timeout", 600));
  FLS_ASSIGN_OR_RETURN(double rate, args.GetDouble("rate", 0.2));
  if (rounds < 1 || epochs < 1 || min_clients < 0 || refresh < 0 || clusters < 0 || seed < 0 ||
      timeout < 1) {
    return absl::InvalidArgumentError("numbers must be positive");
  }
  spec.set_rounds(static_cast<uint32_t>(rounds));
  spec.set_local_epochs(static_cast<uint32_t>(epochs));
  spec.set_min_clients_per_round(static_cast<uint32_t>(min_clients));
  spec.mutable_sampling()->set_rate(rate);
  spec.mutable_sampling()->set_refresh_every_rounds(static_cast<uint32_t>(refresh));
  spec.set_num_clusters(static_cast<uint32_t>(clusters));
  spec.set_seed(static_cast<uint64_t>(seed));
  spec.set_client_timeout_seconds(static_cast<uint32_t>(timeout));
  const std::string optimizer = args.Get("optimizer", "fedavg");
  if (optimizer == "fedavg") {
    spec.set_server_optimizer(v1::SERVER_OPTIMIZER_FEDAVG);
  } else if (optimizer == "fedprox") {
    spec.set_server_optimizer(v1::SERVER_OPTIMIZER_FEDPROX);
  } else if (optimizer == "fedadam") {
    spec.set_server_optimizer(v1::SERVER_OPTIMIZER_FEDADAM);
  } else {
    return absl::InvalidArgumentError("--optimizer must be fedavg, fedprox or fedadam");
  }
  spec.set_insecure_plain_aggregation(args.Has("insecure-plain-aggregation"));
  return spec;
}

absl::Status Run(const std::string& action, const Args& args, AdminClient& admin) {
  v1::CoordinatorAdmin::Stub& stub = admin.stub();
  grpc::ClientContext ctx;
  v1::JobId id;
  id.set_value(args.Get("id"));
  if (action != "submit" && action != "list" && id.value().empty()) {
    return absl::InvalidArgumentError("--id is required");
  }
  if (action == "submit") {
    v1::SubmitJobRequest req;
    FLS_ASSIGN_OR_RETURN(*req.mutable_spec(), SpecFromArgs(args));
    FLS_ASSIGN_OR_RETURN(std::string reference, args.Required("reference"));
    FLS_ASSIGN_OR_RETURN(*req.mutable_reference_bed(), ReadFileToString(reference));
    v1::Job job;
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub.SubmitJob(&ctx, req, &job)));
    std::printf("%s", Json(job).c_str());
    return absl::OkStatus();
  }
  if (action == "list") {
    v1::ListJobsResponse response;
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub.ListJobs(&ctx, {}, &response)));
    std::printf("%s", Json(response).c_str());
    return absl::OkStatus();
  }
  if (action == "get" || action == "cancel") {
    v1::Job job;
    if (action == "get") {
      v1::GetJobRequest req;
      *req.mutable_id() = id;
      FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub.GetJob(&ctx, req, &job)));
    } else {
      v1::CancelJobRequest req;
      *req.mutable_id() = id;
      req.set_reason(args.Get("reason"));
      FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub.CancelJob(&ctx, req, &job)));
    }
    std::printf("%s", Json(job).c_str());
    return absl::OkStatus();
  }
  if (action == "rounds") {
    v1::ListRoundsRequest req;
    *req.mutable_id() = id;
    v1::ListRoundsResponse response;
    FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub.ListRounds(&ctx, req, &response)));
    std::printf("%s", Json(response).c_str());
    return absl::OkStatus();
  }
  if (action == "wait") {
    uint32_t reported = 0;
    bool first = true;
    return admin
        .Wait(id.value(),
              [&](const v1::Job& job) {
                if (first || job.rounds_done() != reported ||
                    job.state() != v1::JOB_STATE_RUNNING) {
                  first = false;
                  reported = job.rounds_done();
                  std::fprintf(stderr, "job %s: %s, step %s, round %u/%u\n",
                               id.value().c_str(), v1::JobState_Name(job.state()).c_str(),
                               job.step().c_str(), job.rounds_done(), job.spec().rounds());
                }
                return absl::OkStatus();
              })
        .status();
  }
  if (action == "download") {
    FLS_ASSIGN_OR_RETURN(std::string artifact, args.Required("artifact"));
    FLS_ASSIGN_OR_RETURN(std::string out_path, args.Required("out"));
    FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(out_path));
    FLS_RETURN_IF_ERROR(admin.Download(id.value(), artifact,
                                       [&out](absl::string_view data) { return out->Write(data); }));
    return out->Close();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown action '", action, "'"));
}

}  // namespace

int RunJob(int argc, char** argv) {
  if (argc < 1) return PrintUsage("job", absl::InvalidArgumentError("no action"), kUsage);
  const std::string action = argv[0];
  std::set<std::string> flags = TlsFlagNames();
  flags.insert({"coordinator", "id", "reason", "reference", "institutions", "rounds",
                "local-epochs", "min-clients", "rate", "refresh-every", "clusters", "seed",
                "optimizer", "timeout", "name", "artifact", "out"});
  auto args = Args::Parse(argc - 1, argv + 1, flags,
                          {"help", "insecure-plaintext-dev", "insecure-plain-aggregation"});
  if (action == "--help" || (args.ok() && args->Has("help"))) {
    return PrintUsage("job", absl::OkStatus(), kUsage);
  }
  if (!args.ok()) return PrintUsage("job", args.status(), kUsage);
  auto coordinator = args->Required("coordinator");
  auto credentials = CredentialsFromArgs(*args);
  if (!coordinator.ok()) return PrintUsage("job", coordinator.status(), kUsage);
  if (!credentials.ok()) return PrintUsage("job", credentials.status(), kUsage);
  auto admin = AdminClient::Connect(*coordinator, *credentials);
  if (!admin.ok()) return PrintError("job", admin.status());
  absl::Status s = Run(action, *args, *admin);
  return s.ok() ? 0 : PrintError(absl::StrCat("job ", action), s);
}

}  // namespace flsailer::cli
