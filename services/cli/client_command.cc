// `flsailer client`: one institution's side of a federated job. Connects out to the coordinator,
// trains on the local cells, and writes the institution's own results; no cell leaves the site.
#include <chrono>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/eval/categories.h"
#include "libs/eval/partition_metrics.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/federation_flags.h"
#include "services/cli/load_flags.h"
#include "libs/rpc/certificate_expiry.h"
#include "libs/telemetry/log.h"
#include "libs/telemetry/metrics.h"
#include "services/client/client_runner.h"

namespace flsailer::cli {
namespace {

// DIR/clusters.tsv (barcode, federated cluster) and DIR/results.h5ad (the cells on the reference
// peaks, obsm X_flsailer, obs flsailer_cluster).
absl::Status WriteResults(const std::string& dir, client::ClientOutcome& outcome) {
  data::Dataset& ds = outcome.dataset;
  const std::vector<int32_t>& clusters = outcome.results.clusters;
  FLS_ASSIGN_OR_RETURN(auto tsv, AtomicOutputFile::Create(dir + "/clusters.tsv"));
  FLS_RETURN_IF_ERROR(tsv->Write("barcode\tflsailer_cluster\n"));
  std::vector<std::string> column(clusters.size());
  for (size_t i = 0; i < clusters.size(); ++i) {
    column[i] = absl::StrCat("cluster_", clusters[i]);
    FLS_RETURN_IF_ERROR(tsv->Write(absl::StrCat(ds.barcodes[i], "\t", column[i], "\n")));
  }
  FLS_RETURN_IF_ERROR(tsv->Close());
  ds.metadata.names.push_back("flsailer_cluster");
  ds.metadata.columns.push_back(std::move(column));
  ds.obsm["X_flsailer"] = outcome.results.embedding;
  return data::WriteH5ad(dir + "/results.h5ad", ds);
}

// DIR/federated_clusters.json: how the federated clusters of this institution's cells agree
// with its labels (when it has them).
absl::Status WriteClusterAgreement(const std::string& dir, const ReportSettings& settings,
                                   const client::ClientOutcome& outcome) {
  std::string json = absl::StrCat("{\"n_clusters_used\": ");
  std::set<int32_t> used(outcome.results.clusters.begin(), outcome.results.clusters.end());
  absl::StrAppend(&json, used.size());
  if (!settings.label_col.empty()) {
    FLS_ASSIGN_OR_RETURN(std::vector<std::string> labels,
                         MetadataColumn(outcome.dataset.metadata, settings.label_col));
    FLS_ASSIGN_OR_RETURN(eval::PartitionAgreement agreement,
                         eval::ComparePartitions(eval::EncodeCategories(labels).codes,
                                                 outcome.results.clusters));
    absl::StrAppend(&json, ", \"ari\": ", agreement.ari, ", \"nmi\": ", agreement.nmi,
                    ", \"ami\": ", agreement.ami);
    std::fprintf(stderr, "federated clusters vs %s: ARI %.3f NMI %.3f\n",
                 settings.label_col.c_str(), agreement.ari, agreement.nmi);
  }
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(dir + "/federated_clusters.json"));
  FLS_RETURN_IF_ERROR(out->Write(json + "}\n"));
  return out->Close();
}

// DIR/costs.tsv: what each training round cost this institution (client_runner.h RoundCost).
absl::Status WriteCosts(const std::string& dir, const client::ClientOutcome& outcome) {
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(dir + "/costs.tsv"));
  FLS_RETURN_IF_ERROR(
      out->Write("round\ttrain_seconds\ttransfer_seconds\tbytes_received\tbytes_sent\n"));
  for (const client::RoundCost& r : outcome.rounds) {
    FLS_RETURN_IF_ERROR(out->Write(absl::StrCat(r.round, "\t", r.train_seconds, "\t",
                                                r.transfer_seconds, "\t", r.bytes_received,
                                                "\t", r.bytes_sent, "\n")));
  }
  return out->Close();
}

}  // namespace

int RunClient(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer client --coordinator HOST:PORT --job ID --input PATH --out DIR\n"
      "                       --ca PEM --cert PEM --key PEM [flags]\n"
      "Takes part in a federated job as the institution named in --cert. Writes DIR/results.h5ad,\n"
      "DIR/clusters.tsv, DIR/embedding.tsv, DIR/embedding.svg, DIR/costs.tsv (per round: seconds\n"
      "and bytes) and, with labels, DIR/metrics.json.\n"
      "  --input PATH        local data, any supported format (mapped onto the job's peaks)\n"
      "  --metrics-listen ADDR   Prometheus /metrics while the job runs (default none)\n",
      kTlsFlagsHelp, kReportFlagsHelp, kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert(ReportFlagNames().begin(), ReportFlagNames().end());
  flags.insert(TlsFlagNames().begin(), TlsFlagNames().end());
  flags.insert({"coordinator", "job", "input", "metrics-listen"});
  auto args = Args::Parse(argc, argv, flags, {"help", "insecure-plaintext-dev"});
  if (!args.ok()) return PrintUsage("client", args.status(), usage);
  if (args->Has("help")) return PrintUsage("client", absl::OkStatus(), usage);
  client::ClientOptions options;
  auto coordinator = args->Required("coordinator");
  auto job = args->Required("job");
  auto input = args->Required("input");
  auto out = args->Required("out");
  auto credentials = CredentialsFromArgs(*args);
  auto load = LoadOptionsFromArgs(*args);
  for (const absl::Status& s : {coordinator.status(), job.status(), input.status(), out.status(),
                                credentials.status(), load.status()}) {
    if (!s.ok()) return PrintUsage("client", s, usage);
  }
  options.coordinator = *coordinator;
  options.job_id = *job;
  options.input = *input;
  options.load = *load;
  options.credentials = *credentials;
  options.work_dir = *out;
  auto threads = args->GetInt("threads", 1);
  options.threads = threads.ok() ? static_cast<int>(*threads) : 1;
  telemetry::ConfigureLogging({"client"});
  options.progress = [](const std::string& line) {
    telemetry::Log(telemetry::Level::kInfo, "progress", {{"message", line}});
  };
  std::unique_ptr<telemetry::MetricsServer> metrics;
  std::unique_ptr<rpc::CertificateExpiry> certificate_expiry;
  if (args->Has("metrics-listen")) {
    auto started = telemetry::MetricsServer::Start(args->Get("metrics-listen"));
    if (!started.ok()) return PrintError("client", started.status());
    metrics = std::move(*started);
    options.metrics = &metrics->registry();
    certificate_expiry =
        std::make_unique<rpc::CertificateExpiry>(metrics->registry(), *credentials);
    certificate_expiry->Update().IgnoreError();  // the TLS layer reports unreadable files
  }
  const auto start = std::chrono::steady_clock::now();
  auto outcome = client::RunClient(options);
  if (!outcome.ok()) return PrintError("client", outcome.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto settings = ReportSettingsFromArgs(*args, outcome->dataset.metadata);
  if (!settings.ok()) return PrintUsage("client", settings.status(), usage);
  absl::Status written = WriteEmbeddingReport(*settings, outcome->dataset.barcodes,
                                              outcome->dataset.metadata,
                                              outcome->results.embedding, "FL-Sailer (federated)",
                                              seconds).status();
  if (written.ok()) written = WriteClusterAgreement(*out, *settings, *outcome);
  if (written.ok()) written = WriteResults(*out, *outcome);
  if (written.ok()) written = WriteCosts(*out, *outcome);
  return written.ok() ? 0 : PrintError("client", written);
}

}  // namespace flsailer::cli
