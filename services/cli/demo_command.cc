// `flsailer demo --input PATH --batch-col COL --out DIR`: a whole federation on one machine. The
// dataset is cut into institutions along its batch column, a federation CA and certificates are
// made, a coordinator and one client per institution run as separate processes talking gRPC
// over mutual TLS on loopback, and the job's result is set beside the same model trained
// centrally and the LSI baseline on the same cells. DIR/report.json holds the figures.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/baselines/lsi.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/embedding_tsv.h"
#include "libs/data/peaks.h"
#include "libs/eval/categories.h"
#include "libs/federation/central.h"
#include "libs/pki/pki.h"
#include "libs/rpc/tensor_stream.h"
#include "libs/sampling/selection_bed.h"
#include "libs/telemetry/progress.h"
#include "services/cli/admin_client.h"
#include "services/cli/args.h"
#include "services/cli/child_process.h"
#include "services/cli/commands.h"
#include "services/cli/embedding_run.h"
#include "services/cli/load_flags.h"
#include "services/cli/sites.h"

namespace flsailer::cli {
namespace {

struct DemoSettings {
  ReportSettings report;
  int institutions = 0;  // 0: one per batch
  int rounds = 20;
  int local_epochs = 10;
  double rate = 0.2;
  int port = 0;          // 0: any free port
  bool baselines = true;
  bool insecure_plain = false;  // sum in the clear at the coordinator (no aggregator)
};

// One institution of the demo: its cells and what its client reported.
struct DemoSite {
  Site site;
  std::string input;    // its .h5ad
  std::string out_dir;  // the client's results
  std::unique_ptr<ChildProcess> process;
};

// The federation's certificates in DIR: ca, the coordinator (server, localhost), the operator
// (admin) and one per institution, each as <id>.pem / <id>.key.
absl::Status MakeCertificates(const std::string& dir, const std::vector<DemoSite>& sites) {
  FLS_RETURN_IF_ERROR(MakeDirectories(dir));
  // The CA outlives its certificates by a day (a certificate may not outlive its CA).
  FLS_ASSIGN_OR_RETURN(const pki::KeyAndCertificate ca,
                       pki::CreateCa("FL-Sailer demo federation", pki::ValidFor(absl::Hours(24 * 8))));
  const pki::Validity validity = pki::ValidFor(absl::Hours(24 * 7));
  FLS_RETURN_IF_ERROR(pki::WriteKeyAndCertificate(ca, dir + "/ca.key", dir + "/ca.pem"));
  std::vector<pki::CertificateRequest> requests(3);
  requests[0].identity = {pki::IdentityKind::kServer, "coordinator"};
  requests[1].identity = {pki::IdentityKind::kServer, "aggregator"};
  for (int server : {0, 1}) {
    requests[server].dns_names = {"localhost"};
    requests[server].ip_addresses = {"127.0.0.1"};
  }
  requests[2].identity = {pki::IdentityKind::kAdmin, "operator"};
  for (const DemoSite& s : sites) {
    pki::CertificateRequest r;
    r.identity = {pki::IdentityKind::kInstitution, s.site.id};
    requests.push_back(r);
  }
  for (pki::CertificateRequest& r : requests) {
    r.validity = validity;
    FLS_ASSIGN_OR_RETURN(const pki::KeyAndCertificate issued, pki::IssueCertificate(ca, r));
    FLS_RETURN_IF_ERROR(pki::WriteKeyAndCertificate(
        issued, absl::StrCat(dir, "/", r.identity.id, ".key"),
        absl::StrCat(dir, "/", r.identity.id, ".pem")));
  }
  return absl::OkStatus();
}

std::vector<std::string> TlsArgs(const std::string& pki_dir, const std::string& id) {
  return {"--ca", pki_dir + "/ca.pem", "--cert", absl::StrCat(pki_dir, "/", id, ".pem"), "--key",
          absl::StrCat(pki_dir, "/", id, ".key")};
}

// Waits for a service's "listening" log line and returns the gRPC port it reports.
absl::StatusOr<int> AwaitListening(ChildProcess& service, const std::string& name) {
  const telemetry::ProgressTimer waited;
  while (waited.ElapsedSeconds() < 60) {
    if (auto status = service.Poll()) {
      return absl::InternalError(absl::StrCat("the ", name, " exited with status ", *status,
                                              ":\n", service.LogTail()));
    }
    absl::StatusOr<std::string> log = ReadBinaryFile(service.log_path());
    if (log.ok()) {
      for (absl::string_view line : absl::StrSplit(*log, '\n')) {
        if (line.find("event=listening") == absl::string_view::npos) continue;
        const size_t at = line.find(" port=");
        int port = 0;
        if (at != absl::string_view::npos &&
            absl::SimpleAtoi(line.substr(at + 6, line.find(' ', at + 6) - (at + 6)), &port)) {
          return port;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the ", name, " did not start listening within 60 s:\n", service.LogTail()));
}

// Per-round costs one client recorded (client_command.cc's costs.tsv), keyed by round.
struct RoundCosts {
  double train_seconds = 0, transfer_seconds = 0;
  double bytes_received = 0, bytes_sent = 0;
  int clients = 0;
};

absl::Status AddCosts(const std::string& path, std::map<int, RoundCosts>* rounds) {
  FLS_ASSIGN_OR_RETURN(std::string tsv, ReadBinaryFile(path));
  bool header = true;
  for (absl::string_view line : absl::StrSplit(tsv, '\n', absl::SkipEmpty())) {
    if (std::exchange(header, false)) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    int round = 0;
    double v[4];
    if (f.size() != 5 || !absl::SimpleAtoi(f[0], &round) || !absl::SimpleAtod(f[1], &v[0]) ||
        !absl::SimpleAtod(f[2], &v[1]) || !absl::SimpleAtod(f[3], &v[2]) ||
        !absl::SimpleAtod(f[4], &v[3])) {
      return absl::DataLossError(absl::StrCat(path, ": bad line '", line, "'"));
    }
    RoundCosts& r = (*rounds)[round];
    r.train_seconds += v[0];
    r.transfer_seconds += v[1];
    r.bytes_received += v[2];
    r.bytes_sent += v[3];
    ++r.clients;
  }
  return absl::OkStatus();
}

// The clients' embeddings (each client's embedding.tsv), put back in the dataset's cell order.
absl::StatusOr<data::DenseMatrix> GatherEmbeddings(const data::Dataset& ds,
                                                   const std::vector<DemoSite>& sites) {
  data::DenseMatrix all;
  for (const DemoSite& s : sites) {
    FLS_ASSIGN_OR_RETURN(data::EmbeddingTable table,
                         data::ReadEmbeddingTsv(s.out_dir + "/embedding.tsv"));
    if (table.values.rows != static_cast<int64_t>(s.site.rows.size())) {
      return absl::DataLossError(absl::StrCat(s.site.id, " embedded ", table.values.rows,
                                              " cells, it holds ", s.site.rows.size()));
    }
    if (all.cols == 0) {
      all.rows = ds.matrix.rows;
      all.cols = table.values.cols;
      all.data.assign(static_cast<size_t>(all.rows * all.cols), 0.0f);
    }
    for (size_t i = 0; i < s.site.rows.size(); ++i) {
      const int64_t row = s.site.rows[i];
      if (table.barcodes[i] != ds.barcodes[row] || table.values.cols != all.cols) {
        return absl::DataLossError(absl::StrCat(s.site.id, ": embedding row ", i,
                                                " is not the cell it should be"));
      }
      std::copy_n(table.values.data.begin() + static_cast<int64_t>(i) * all.cols, all.cols,
                  all.data.begin() + row * all.cols);
    }
  }
  return all;
}

std::string MetricsObject(const eval::EvaluationMetrics& m) {
  std::string json = eval::MetricsToJson(m);
  while (!json.empty() && (json.back() == '\n' || json.back() == '}')) json.pop_back();
  return json;  // "{... without the closing brace
}

class Demo {
 public:
  Demo(DemoSettings settings, data::Dataset ds) : s_(std::move(settings)), ds_(std::move(ds)) {}

  absl::Status Run() {
    const std::string& out = s_.report.out_dir;
    FLS_ASSIGN_OR_RETURN(std::vector<std::string> batches,
                         MetadataColumn(ds_.metadata, s_.report.batch_col));
    FLS_ASSIGN_OR_RETURN(std::vector<Site> plan,
                         PlanSites(batches, s_.institutions, s_.report.seed));
    FLS_ASSIGN_OR_RETURN(self_, SelfExecutable());
    for (const char* sub : {"/pki", "/sites", "/coordinator", "/institutions", "/logs"}) {
      std::error_code ignored;
      std::filesystem::remove_all(out + sub, ignored);  // a fresh federation every run
    }
    for (const char* sub : {"/sites", "/institutions", "/logs"}) {
      FLS_RETURN_IF_ERROR(MakeDirectories(out + sub));
    }
    Say(absl::StrCat("1. ", plan.size(), " institutions from column '", s_.report.batch_col,
                     "' of ", ds_.matrix.rows, " cells"));
    for (Site& site : plan) {
      DemoSite s;
      s.input = absl::StrCat(out, "/sites/", site.id, ".h5ad");
      s.out_dir = absl::StrCat(out, "/institutions/", site.id);
      FLS_RETURN_IF_ERROR(data::WriteH5ad(s.input, SubsetCells(ds_, site.rows)));
      Say(absl::StrCat("   ", site.id, ": ", site.rows.size(), " cells"));
      s.site = std::move(site);
      sites_.push_back(std::move(s));
    }
    const std::string reference = out + "/reference_peaks.bed";
    FLS_RETURN_IF_ERROR(data::WriteBed(reference, ds_.peaks));

    Say("2. a federation CA and certificates (ECDSA P-256)");
    pki_ = out + "/pki";
    FLS_RETURN_IF_ERROR(MakeCertificates(pki_, sites_));

    FLS_RETURN_IF_ERROR(Federate(reference));
    if (s_.baselines) {
      FLS_RETURN_IF_ERROR(TrainCentral());
      FLS_RETURN_IF_ERROR(RunLsiBaseline());
    }
    return WriteReport();
  }

 private:
  void Say(const std::string& line) const { std::fprintf(stderr, "demo: %s\n", line.c_str()); }

  // Steps 3-6: aggregator and coordinator, job, clients, results.
  absl::Status Federate(const std::string& reference) {
    const std::string& out = s_.report.out_dir;
    std::vector<std::string> argv = {self_, "coordinator", "--listen",
                                     absl::StrCat("127.0.0.1:", s_.port), "--state-dir",
                                     out + "/coordinator"};
    std::unique_ptr<ChildProcess> aggregator;
    if (s_.insecure_plain) {
      argv.push_back("--allow-insecure-plain-aggregation");
    } else {
      std::vector<std::string> aggregator_argv = {self_, "aggregator", "--listen", "127.0.0.1:0",
                                                  "--coordinator-id", "coordinator"};
      for (std::string& a : TlsArgs(pki_, "aggregator")) aggregator_argv.push_back(std::move(a));
      FLS_ASSIGN_OR_RETURN(aggregator,
                           ChildProcess::Start(aggregator_argv, out + "/logs/aggregator.log"));
      FLS_ASSIGN_OR_RETURN(const int aggregator_port, AwaitListening(*aggregator, "aggregator"));
      const std::string address = absl::StrCat("127.0.0.1:", aggregator_port);
      argv.insert(argv.end(), {"--aggregator", address});
      Say(absl::StrCat("3. secure aggregator (pid ", aggregator->pid(), ") on ", address,
                       ": every sum is SecAgg+ masked; log ", aggregator->log_path()));
    }
    for (std::string& a : TlsArgs(pki_, "coordinator")) argv.push_back(std::move(a));
    FLS_ASSIGN_OR_RETURN(auto coordinator, ChildProcess::Start(argv, out + "/logs/coordinator.log"));
    FLS_ASSIGN_OR_RETURN(const int port, AwaitListening(*coordinator, "coordinator"));
    // An IP address, not "localhost": no DNS lookup (c-ares), which LeakSanitizer flags in tests.
    const std::string target = absl::StrCat("127.0.0.1:", port);
    Say(absl::StrCat("3. coordinator (pid ", coordinator->pid(), ") on ", target,
                     ", gRPC over mutual TLS; log ", coordinator->log_path()));

    rpc::CredentialsOptions admin_tls;
    admin_tls.ca_cert_path = pki_ + "/ca.pem";
    admin_tls.cert_path = pki_ + "/operator.pem";
    admin_tls.key_path = pki_ + "/operator.key";
    FLS_ASSIGN_OR_RETURN(AdminClient admin, AdminClient::Connect(target, admin_tls));
    v1::SubmitJobRequest request;
    v1::JobSpec& spec = *request.mutable_spec();
    spec.set_name("flsailer-demo");
    for (const DemoSite& s : sites_) spec.add_institutions()->set_value(s.site.id);
    spec.set_seed(s_.report.seed);
    spec.set_rounds(static_cast<uint32_t>(s_.rounds));
    spec.set_local_epochs(static_cast<uint32_t>(s_.local_epochs));
    spec.set_min_clients_per_round(static_cast<uint32_t>(sites_.size()));
    spec.mutable_sampling()->set_rate(s_.rate);
    FLS_ASSIGN_OR_RETURN(std::vector<std::string> labels,
                         MetadataColumn(ds_.metadata, s_.report.label_col));
    spec.set_num_clusters(labels.empty()
                              ? 0
                              : static_cast<uint32_t>(eval::EncodeCategories(labels).names.size()));
    spec.set_client_timeout_seconds(600);
    spec.set_insecure_plain_aggregation(s_.insecure_plain);
    FLS_ASSIGN_OR_RETURN(*request.mutable_reference_bed(), ReadBinaryFile(reference));
    v1::Job job;
    {
      grpc::ClientContext ctx;
      FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(admin.stub().SubmitJob(&ctx, request, &job)));
    }
    job_spec_ = job.spec();
    const std::string id = job.id().value();
    Say(absl::StrCat("4. job ", id, " submitted as 'operator': ", s_.rounds, " rounds x ",
                     s_.local_epochs, " local epochs, ", s_.rate * 100, "% of peaks kept"));

    const telemetry::ProgressTimer progress;  // the federated run's wall time and ETA
    for (DemoSite& s : sites_) {
      std::vector<std::string> client = {
          self_, "client", "--coordinator", target, "--job", id, "--input", s.input, "--out",
          s.out_dir, "--label-col", s_.report.label_col, "--batch-col", "", "--seed",
          absl::StrCat(s_.report.seed)};
      for (std::string& a : TlsArgs(pki_, s.site.id)) client.push_back(std::move(a));
      FLS_ASSIGN_OR_RETURN(
          s.process, ChildProcess::Start(client, absl::StrCat(out, "/logs/", s.site.id, ".log")));
    }
    Say(absl::StrCat("5. ", sites_.size(), " clients started (one process each, outbound only)"));

    uint32_t reported = 0;
    std::string step;
    FLS_RETURN_IF_ERROR(admin
                            .Wait(id,
                                  [&](const v1::Job& j) -> absl::Status {
                                    if (j.rounds_done() != reported || j.step() != step) {
                                      reported = j.rounds_done();
                                      step = j.step();
                                      Say(absl::StrCat(
                                          "   ", step, ": ",
                                          progress.Format("round", reported, s_.rounds)));
                                    }
                                    return ClientsAlive();
                                  })
                            .status());
    for (DemoSite& s : sites_) {
      if (const int status = s.process->Wait(); status != 0) {
        return absl::InternalError(absl::StrCat("client ", s.site.id, " exited with status ",
                                                status, ":\n", s.process->LogTail()));
      }
    }
    federated_seconds_ = progress.ElapsedSeconds();
    {
      grpc::ClientContext ctx;
      v1::ListRoundsRequest req;
      req.mutable_id()->set_value(id);
      v1::ListRoundsResponse response;
      FLS_RETURN_IF_ERROR(rpc::FromGrpcStatus(admin.stub().ListRounds(&ctx, req, &response)));
      rounds_.assign(response.rounds().begin(), response.rounds().end());
    }
    for (const char* artifact : {"model", "selected_peaks.bed"}) {
      FLS_ASSIGN_OR_RETURN(auto file, AtomicOutputFile::Create(absl::StrCat(
                                          out, "/", artifact == std::string("model")
                                                        ? "model.f32"
                                                        : artifact)));
      int64_t bytes = 0;
      FLS_RETURN_IF_ERROR(admin.Download(id, artifact, [&](absl::string_view data) {
        bytes += static_cast<int64_t>(data.size());
        return file->Write(data);
      }));
      FLS_RETURN_IF_ERROR(file->Close());
      if (artifact == std::string("model")) model_bytes_ = bytes;
    }
    FLS_ASSIGN_OR_RETURN(std::vector<data::Peak> selected,
                         data::ReadBed(out + "/selected_peaks.bed"));
    selected_peaks_ = static_cast<int64_t>(selected.size());
    coordinator->Signal(SIGTERM);
    if (const int status = coordinator->Wait(); status != 0) {
      return absl::InternalError(absl::StrCat("the coordinator exited with status ", status,
                                              " after SIGTERM:\n", coordinator->LogTail()));
    }
    if (aggregator != nullptr) {
      aggregator->Signal(SIGTERM);
      if (const int status = aggregator->Wait(); status != 0) {
        return absl::InternalError(absl::StrCat("the aggregator exited with status ", status,
                                                " after SIGTERM:\n", aggregator->LogTail()));
      }
    }
    Say(absl::StrCat("6. job finished in ", telemetry::FormatSeconds(federated_seconds_),
                     "; services stopped cleanly (SIGTERM)"));

    for (const DemoSite& s : sites_) {
      FLS_RETURN_IF_ERROR(AddCosts(s.out_dir + "/costs.tsv", &costs_));
    }
    FLS_ASSIGN_OR_RETURN(data::DenseMatrix embedding, GatherEmbeddings(ds_, sites_));
    FLS_ASSIGN_OR_RETURN(federated_, Evaluate(embedding, "federated", "FL-Sailer, federated",
                                              federated_seconds_));
    return absl::OkStatus();
  }

  // A client that died ends the demo with its log (the job would only wait for it).
  absl::Status ClientsAlive() {
    for (DemoSite& s : sites_) {
      const std::optional<int> status = s.process->Poll();
      if (status.has_value() && *status != 0) {
        return absl::InternalError(absl::StrCat("client ", s.site.id, " exited with status ",
                                                *status, ":\n", s.process->LogTail()));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<eval::EvaluationMetrics> Evaluate(const data::DenseMatrix& embedding,
                                                   const std::string& dir,
                                                   const std::string& method, double seconds) {
    ReportSettings report = s_.report;
    report.out_dir = absl::StrCat(s_.report.out_dir, "/", dir);
    FLS_RETURN_IF_ERROR(MakeDirectories(report.out_dir));
    return WriteEmbeddingReport(report, ds_.barcodes, ds_.metadata, embedding, method, seconds);
  }

  absl::Status TrainCentral() {
    Say("7. the same model trained centrally on all cells (the reference)");
    std::vector<int32_t> institution(static_cast<size_t>(ds_.matrix.rows), 0);
    for (size_t i = 0; i < sites_.size(); ++i) {
      for (int64_t r : sites_[i].site.rows) institution[r] = static_cast<int32_t>(i);
    }
    const telemetry::ProgressTimer progress;
    FLS_ASSIGN_OR_RETURN(
        federation::CentralResult central,
        federation::TrainCentrally(job_spec_, ds_.matrix, institution, s_.report.threads,
                                   [&](int32_t epoch, int32_t epochs, double loss) {
                                     if ((epoch + 1) % 10 != 0 && epoch + 1 != epochs) return;
                                     Say(absl::StrCat("   ",
                                                      progress.Format("epoch", epoch + 1, epochs),
                                                      ", loss ", loss));
                                   }));
    FLS_ASSIGN_OR_RETURN(central_, Evaluate(central.embedding, "central", "FL-Sailer, central",
                                            progress.ElapsedSeconds()));
    // Beside the federation's BED: the same selection computed with all cells in one place.
    FLS_RETURN_IF_ERROR(sampling::WriteSelectionBed(
        s_.report.out_dir + "/central/selected_peaks.bed", ds_.peaks, central.selection.scores,
        central.selection.peaks, "central selection version 0"));
    return absl::OkStatus();
  }

  absl::Status RunLsiBaseline() {
    Say("8. the LSI baseline on all cells");
    baselines::LsiOptions options;
    options.seed = s_.report.seed;
    options.threads = s_.report.threads;
    const telemetry::ProgressTimer timer;
    FLS_ASSIGN_OR_RETURN(baselines::LsiResult lsi, baselines::RunLsi(ds_.matrix, options));
    FLS_ASSIGN_OR_RETURN(lsi_, Evaluate(lsi.embedding, "lsi", "LSI", timer.ElapsedSeconds()));
    return absl::OkStatus();
  }

  absl::Status WriteReport() {
    // Per client and round, each way.
    double received = 0, sent = 0, train = 0, transfer = 0, coordinator = 0, round_seconds = 0;
    int64_t answers = 0;
    for (const auto& [round, c] : costs_) {
      received += c.bytes_received;
      sent += c.bytes_sent;
      train += c.train_seconds;
      transfer += c.transfer_seconds;
      answers += c.clients;
    }
    for (const v1::Round& r : rounds_) {
      coordinator += r.coordinator_seconds();
      round_seconds += r.seconds();
    }
    const double per_answer = answers > 0 ? 1.0 / static_cast<double>(answers) : 0;
    const double per_round = rounds_.empty() ? 0 : 1.0 / static_cast<double>(rounds_.size());

    std::string json = MetricsObject(federated_);
    absl::StrAppend(&json, ", \"aggregation\": \"",
                    s_.insecure_plain ? "insecure-plain" : "secure", "\"");
    absl::StrAppend(&json, ", \"rounds\": ", rounds_.size(), ", \"institutions\": ",
                    sites_.size(), ", \"selected_peaks\": ", selected_peaks_,
                    ", \"model_bytes_fp32\": ", model_bytes_,
                    ", \"bytes_per_client_round\": ", std::llround((received + sent) * per_answer),
                    ", \"bytes_received_per_client_round\": ", std::llround(received * per_answer),
                    ", \"bytes_sent_per_client_round\": ", std::llround(sent * per_answer),
                    ", \"round_seconds\": ", round_seconds * per_round,
                    ", \"train_seconds_per_round\": ", train * per_answer,
                    ", \"transfer_seconds_per_round\": ", transfer * per_answer,
                    ", \"coordinator_seconds_per_round\": ", coordinator * per_round);
    if (s_.baselines) {
      absl::StrAppend(&json, ",\n \"central\": ", MetricsObject(central_), "}");
      absl::StrAppend(&json, ",\n \"lsi\": ", MetricsObject(lsi_), "}");
    }
    absl::StrAppend(&json, ",\n \"sites\": [");
    for (size_t i = 0; i < sites_.size(); ++i) {
      absl::StrAppend(&json, i ? ", " : "", "{\"id\": \"", sites_[i].site.id,
                      "\", \"cells\": ", sites_[i].site.rows.size(), "}");
    }
    absl::StrAppend(&json, "],\n \"per_round\": [");
    for (size_t i = 0; i < rounds_.size(); ++i) {
      const v1::Round& r = rounds_[i];
      const RoundCosts c = costs_.count(static_cast<int>(r.round()))
                               ? costs_.at(static_cast<int>(r.round()))
                               : RoundCosts{};
      const double n = c.clients > 0 ? c.clients : 1;
      absl::StrAppend(&json, i ? ",\n  " : "\n  ", "{\"round\": ", r.round(), ", \"loss\": ",
                      r.loss(), ", \"seconds\": ", r.seconds(), ", \"coordinator_seconds\": ",
                      r.coordinator_seconds(), ", \"train_seconds\": ", c.train_seconds / n,
                      ", \"transfer_seconds\": ", c.transfer_seconds / n,
                      ", \"bytes_received\": ", std::llround(c.bytes_received / n),
                      ", \"bytes_sent\": ", std::llround(c.bytes_sent / n), "}");
    }
    absl::StrAppend(&json, "]}\n");
    const std::string path = s_.report.out_dir + "/report.json";
    FLS_RETURN_IF_ERROR(WriteFileAtomically(path, json));

    std::printf("\nFL-Sailer demo: %zu institutions, %zu rounds, %lld selected peaks\n",
                sites_.size(), rounds_.size(), static_cast<long long>(selected_peaks_));
    std::printf("%6s %10s %9s %12s %12s\n", "round", "loss", "seconds", "MB received",
                "MB sent");
    for (const v1::Round& r : rounds_) {
      const auto it = costs_.find(static_cast<int>(r.round()));
      const double n = it != costs_.end() && it->second.clients > 0 ? it->second.clients : 1;
      std::printf("%6u %10.2f %9.2f %12.3f %12.3f\n", r.round(), r.loss(), r.seconds(),
                  it != costs_.end() ? it->second.bytes_received / n / 1e6 : 0.0,
                  it != costs_.end() ? it->second.bytes_sent / n / 1e6 : 0.0);
    }
    std::printf("per client and round: %.3f MB received, %.3f MB sent (model %.3f MB as fp32)\n",
                received * per_answer / 1e6, sent * per_answer / 1e6, model_bytes_ / 1e6);
    std::printf("\n%-22s %7s %7s %9s %9s %9s\n", "method", "ARI", "NMI", "iLISI", "batch ASW",
                "seconds");
    auto row = [](const char* name, const eval::EvaluationMetrics& m) {
      auto f = [](const std::optional<double>& v) {
        return v.has_value() ? *v : std::numeric_limits<double>::quiet_NaN();
      };
      std::printf("%-22s %7.3f %7.3f %9.3f %9.3f %9.1f\n", name, f(m.ari), f(m.nmi), f(m.ilisi),
                  f(m.batch_asw), f(m.seconds));
    };
    row("FL-Sailer, federated", federated_);
    if (s_.baselines) {
      row("FL-Sailer, central", central_);
      row("LSI, central", lsi_);
    }
    std::printf("wrote %s\n", path.c_str());
    return absl::OkStatus();
  }

  const DemoSettings s_;
  const data::Dataset ds_;
  std::string self_;
  std::string pki_;
  std::vector<DemoSite> sites_;
  v1::JobSpec job_spec_;
  std::vector<v1::Round> rounds_;
  std::map<int, RoundCosts> costs_;
  double federated_seconds_ = 0;
  int64_t selected_peaks_ = 0;
  int64_t model_bytes_ = 0;
  eval::EvaluationMetrics federated_, central_, lsi_;
};

}  // namespace

int RunDemo(int argc, char** argv) {
  const std::string usage = absl::StrCat(
      "usage: flsailer demo --input PATH --batch-col COL --out DIR [flags]\n"
      "A federation on this machine: the cells cut into institutions by COL, certificates made,\n"
      "a coordinator and one client process per institution over mutual TLS on loopback, then\n"
      "the result beside the same model trained centrally and LSI. Writes DIR/report.json (the\n"
      "flat metrics of `flsailer train` plus rounds, seconds, bytes_per_client_round,\n"
      "selected_peaks; `central` and `lsi` objects; per_round), DIR/federated|central|lsi/,\n"
      "DIR/selected_peaks.bed and DIR/central/selected_peaks.bed (the federated and central\n"
      "selections), DIR/institutions/<id>/ (each client's own results) and DIR/logs/.\n"
      "  --input PATH        10x folder, .h5, .h5ad or fragments (with --reference)\n"
      "  --institutions N    institutions (default: one per batch; more halve the largest)\n"
      "  --rounds N          training rounds (default 20)\n"
      "  --local-epochs N    local epochs per round (default 10)\n"
      "  --rate R            fraction of peaks kept by leverage-score sampling (default 0.2)\n"
      "  --port P            the coordinator's port (default: any free one)\n"
      "  --no-baselines      skip the central model and LSI\n"
      "  --insecure-plain-aggregation   no aggregator: the coordinator sums in the clear\n"
      "                      (for comparison; by default every sum is secure)\n",
      kReportFlagsHelp, kLoadFlagsHelp);
  std::set<std::string> flags = LoadFlagNames();
  flags.insert(ReportFlagNames().begin(), ReportFlagNames().end());
  flags.insert({"input", "institutions", "rounds", "local-epochs", "rate", "port"});
  auto args =
      Args::Parse(argc, argv, flags, {"help", "no-baselines", "insecure-plain-aggregation"});
  if (!args.ok()) return PrintUsage("demo", args.status(), usage);
  if (args->Has("help")) return PrintUsage("demo", absl::OkStatus(), usage);
  DemoSettings settings;
  auto institutions = args->GetInt("institutions", 0);
  auto rounds = args->GetInt("rounds", settings.rounds);
  auto epochs = args->GetInt("local-epochs", settings.local_epochs);
  auto rate = args->GetDouble("rate", settings.rate);
  auto port = args->GetInt("port", 0);
  for (const absl::Status& s : {institutions.status(), rounds.status(), epochs.status(),
                                rate.status(), port.status()}) {
    if (!s.ok()) return PrintUsage("demo", s, usage);
  }
  if (*institutions < 0 || *institutions > 64 || *rounds < 1 || *epochs < 1 || !(*rate > 0) ||
      *rate > 1 || *port < 0 || *port > 65535) {
    return PrintUsage("demo", absl::InvalidArgumentError(
                                  "--institutions in [0, 64], --rounds and --local-epochs >= 1, "
                                  "--rate in (0, 1], --port in [0, 65535]"),
                      usage);
  }
  settings.institutions = static_cast<int>(*institutions);
  settings.rounds = static_cast<int>(*rounds);
  settings.local_epochs = static_cast<int>(*epochs);
  settings.rate = *rate;
  settings.port = static_cast<int>(*port);
  settings.baselines = !args->Has("no-baselines");
  settings.insecure_plain = args->Has("insecure-plain-aggregation");
  auto ds = LoadInputFromArgs(*args);
  if (!ds.ok()) return PrintError("demo", ds.status());
  auto report = ReportSettingsFromArgs(*args, ds->metadata);
  if (!report.ok()) return PrintUsage("demo", report.status(), usage);
  if (report->batch_col.empty()) {
    return PrintUsage("demo", absl::InvalidArgumentError(
                                  "--batch-col is required: it says which cells belong to "
                                  "which institution"),
                      usage);
  }
  settings.report = *report;
  Demo demo(std::move(settings), *std::move(ds));
  absl::Status s = demo.Run();
  return s.ok() ? 0 : PrintError("demo", s);
}

}  // namespace flsailer::cli
